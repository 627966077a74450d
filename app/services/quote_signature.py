"""A quote signed through its link: the customer consents (and gives his mandate's details
when one is asked), receives a one-time code at the link's address, enters it; the document he
was shown is sealed with its audit trail and attached to the quote, the quote is accepted as
he would in the extranet — by him, through the link — and the mandate registered (online).

The document is rendered once, at his consent, and kept under its SHA-256 in the tenant's file
store: what is sealed is byte for byte what he was offered. The code steps return the user's
error rather than raise it, so that the tries they count are committed with the page.
"""
from __future__ import annotations

import hashlib
import io
import logging

from flask_babel import gettext as _
from sqlalchemy import select

from app import esign, mail
from app.clock import local_today
from app.documents import MEDIA_TYPE, _file_stem
from app.documents.quote_mandate import mandate_pdf, quote_to_sign
from app.errors import NotAllowed, ValidationError
from app.extensions import db
from app.i18n import money
from app.models import Attachment, Mandate, Quote, QuoteSigningLink, Signature, Tenant, User
from app.services import signatures
from app.services.attachments import add_attachment, storage_path
from app.services.audit import record_event
from app.services.mail_outbox import queue_mail
from app.services.mandates import check_debtor, new_reference
from app.services.offers import creditor
from app.services.quote_links import now
from app.services.quotes import answer_quote
from app.tenancy import Actor, current_tenant_id, tenant_context

log = logging.getLogger(__name__)
MAX_NAME = 200
DEBTOR_FIELDS = ("debtor_name", "street", "building_number", "postal_code", "town", "country",
                 "iban", "bic")


def quote_of(link: QuoteSigningLink) -> Quote:
    return db.session.scalar(select(Quote).where(Quote.id == link.quote_id))


def _tenant() -> Tenant:
    return db.session.get(Tenant, current_tenant_id())


def consent_text(quote: Quote, reference: str | None, creditor_name: str = "") -> str:
    text = _("I have read quote %(number)s, for %(total)s incl. tax, and I accept it.",
             number=quote.number or "", total=money(quote.total, quote.currency))
    if reference:
        text += " " + _("I sign the SEPA Direct Debit mandate %(reference)s given to "
                        "%(creditor)s.", reference=reference, creditor=creditor_name)
    return text


def _debtor(link: QuoteSigningLink, name: str, data: dict[str, str]) -> dict[str, str] | None:
    if not link.asks_mandate:
        return None
    if creditor() is None:
        raise ValidationError({"": _("This quote can no longer be signed online: ask the "
                                     "sender for a new link.")})
    values = {key: (data.get(key) or "").strip() for key in DEBTOR_FIELDS}
    values["debtor_name"] = values["debtor_name"] or name
    debtor = check_debtor(values)
    if not debtor["bic"]:
        raise ValidationError({"bic": _("Your bank's BIC cannot be found from this IBAN: "
                                        "enter it (it is on your bank details).")})
    return {**values, **debtor, "reference": new_reference(local_today())}


def begin_signing(link: QuoteSigningLink, data: dict[str, str], *, language: str,
                  ip: str | None, agent: str | None, by_sms: bool = False) -> Signature:
    """The customer's consent: his name (and mandate) checked, the document to sign rendered
    and kept, a code sent to the link's address (or, `by_sms`, to the recipient's phone when
    the tenant knows one). A signature under way is replaced."""
    name = " ".join((data.get("name") or "").split())
    errors = {}
    if not name:
        errors["name"] = _("Enter your first and last name.")
    elif len(name) > MAX_NAME:
        errors["name"] = _("Use at most %(n)d characters.", n=MAX_NAME)
    if not data.get("consent"):
        errors["consent"] = _("Tick the box to say you accept the quote.")
    try:
        debtor = _debtor(link, name, data)
    except ValidationError as exc:
        errors = {**exc.errors, **errors}
    if errors:
        raise ValidationError(errors)
    quote, tenant, found = quote_of(link), _tenant(), creditor()
    mandate = mandate_pdf(quote, debtor, found, tenant, signed_on=local_today(),
                          language=language) if debtor else None
    document = quote_to_sign(quote, tenant, language, mandate)
    _keep(document)
    previous = db.session.get(Signature, link.signature_id) if link.signature_id else None
    if previous is not None and previous.status == "pending":
        previous.status = "cancelled"
    signature = signatures.start_signature(
        "quote", quote.id, name=name, email=link.recipient_email,
        phone=link.recipient_phone,
        consent_text=consent_text(quote, debtor and debtor["reference"],
                                  found.name if found else ""),
        document=document, ip=ip, agent=agent)
    link.signature_id, link.mandate_data = signature.id, debtor
    db.session.flush()
    signatures.send_code(signature, by_sms=by_sms, ip=ip, agent=agent)
    return signature


def code_channel(signature: Signature | None) -> str:
    """How the last code of `signature` went: "sms" or "email"."""
    sent = [e for e in (signature.events if signature else None) or ()
            if e.get("event") == "code_sent"]
    return "sms" if sent and sent[-1].get("channel") == "sms" else "email"


def _keep(document: bytes) -> None:
    path = storage_path(current_tenant_id(), hashlib.sha256(document).hexdigest())
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(document)


def pending_signature(link: QuoteSigningLink) -> Signature | None:
    signature = db.session.get(Signature, link.signature_id) if link.signature_id else None
    return signature if signature is not None and signature.status == "pending" else None


def document_signed(signature: Signature) -> bytes:
    """The document the signer consented to, as kept."""
    data = storage_path(current_tenant_id(), signature.document_sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != signature.document_sha256:
        raise RuntimeError(f"signature {signature.id}: its document changed in the store")
    return data


def resend_code(link: QuoteSigningLink, *, ip: str | None, agent: str | None,
                by_sms: bool = False) -> str | None:
    """A new code, by the same way as the last one; the user's error (too many codes), or
    None."""
    signature = pending_signature(link)
    if signature is None:
        return _("Start again: fill in the form and ask for a code.")
    try:
        signatures.send_code(signature, by_sms=by_sms, ip=ip, agent=agent)
    except NotAllowed as exc:
        return str(exc)
    return None


def take_try(link: QuoteSigningLink, *, ip: str | None, agent: str | None) -> str | None:
    """Count a try of the code, for the caller to commit before checking it
    (signatures.take_try); the user's refusal, or None."""
    signature = pending_signature(link)
    if signature is None:
        return _("Start again: fill in the form and ask for a code.")
    try:
        return signatures.take_try(signature, ip=ip, agent=agent)
    except NotAllowed as exc:
        return str(exc)


def sign(link: QuoteSigningLink, code: str, *, ip: str | None, agent: str | None,
         language: str = "fr", tried: bool = False) -> str | None:
    """Check the code and, when right, complete the signature and queue its confirmations
    (in `language`); the user's error, or None. `tried`: take_try counted the try in a
    transaction of its own."""
    signature = pending_signature(link)
    if signature is None:
        return _("Start again: fill in the form and ask for a code.")
    try:
        signatures.check_code(signature, code, ip=ip, agent=agent, tried=tried)
    except ValidationError as exc:
        return exc.errors.get("code") or next(iter(exc.errors.values()))
    except NotAllowed as exc:
        return str(exc)
    _complete(link, signature, ip)
    try:
        send_confirmations(link, language)
    except mail.MailError as exc:  # mail not set up: the signature stands all the same
        log.warning("quote link %s: confirmations not queued: %s", link.id, exc)
    return None


def _complete(link: QuoteSigningLink, signature: Signature, ip: str | None) -> None:
    quote = quote_of(link)
    trail = esign.with_audit_trail(document_signed(signature), _("Audit trail"),
                                   signatures.evidence_rows(signature))
    sealed = esign.seal_pdf(trail, reason=_("Quote %(number)s signed by %(name)s",
                                            number=quote.number or "",
                                            name=signature.signer_name))
    signatures.mark_sealed(signature, sealed)
    signer = Actor("link", link.id, f"{signature.signer_name} <{signature.signer_email}> "
                                    f"(signing link {link.id})"[:254], None, ip)
    with tenant_context(current_tenant_id(), signer):
        answer_quote(quote, True, None)
        stem = _file_stem(_("Quote"), quote.number or str(quote.id))
        attachment = add_attachment(quote, f"{stem}-{_('signed')}.pdf", io.BytesIO(sealed))
        mandate = None
        if link.mandate_data:
            data = {k: v for k, v in link.mandate_data.items() if k != "reference"}
            mandate = _mandate(quote, {**data, "reference": link.mandate_data["reference"]})
        link.signed_at, link.attachment_id = now(), attachment.id
        # The mandate keeps the debtor's details now: the link need not.
        link.mandate_id, link.mandate_data = (mandate.id if mandate else None), None
        db.session.flush()
        record_event("quote_signed", "quotes", quote.id, None, {
            "link": link.id, "signature": signature.id, "signer": signature.signer_name,
            "email": signature.signer_email, "document_sha256": signature.document_sha256,
            "sealed_sha256": signature.sealed_sha256, "attachment": attachment.id,
            "mandate": mandate.reference if mandate else None})


def _mandate(quote: Quote, data: dict[str, str]) -> Mandate:
    from app.services.mandates import create_mandate

    return create_mandate(quote.account, {**data, "signed_on": local_today()}, "online")


def send_confirmations(link: QuoteSigningLink, language: str) -> None:
    """The sealed PDF to the signer, in his language; a word to whoever sent the link: both
    through the mail outbox, sent once the signature is committed."""
    quote, tenant = quote_of(link), _tenant()
    attachment = db.session.get(Attachment, link.attachment_id)
    signature = db.session.get(Signature, link.signature_id)
    sealed = storage_path(tenant.id, attachment.sha256).read_bytes()
    mail.ensure_configured()
    with mail.in_language(language):
        paragraphs = [_("You signed quote %(number)s: %(name)s thanks you.",
                        number=quote.number or "", name=tenant.name),
                      _("Please find attached the signed quote, sealed, with its audit trail.")]
        mandate = db.session.get(Mandate, link.mandate_id) if link.mandate_id else None
        if mandate is not None:
            paragraphs.append(_("Your SEPA Direct Debit mandate's reference is %(reference)s.",
                                reference=mandate.reference))
        queue_mail(mail.compose(
            signature.signer_email, _("Quote %(number)s signed — %(name)s",
                                      number=quote.number or "", name=tenant.name),
            "document", sender_name=tenant.name, greeting=_("Hello,"), paragraphs=paragraphs,
            signature=tenant.name,
            attachments=[mail.MailAttachment(attachment.file_name, sealed, MEDIA_TYPE)]),
            "quote_signed")
    seller = db.session.get(User, link.created_by_id) if link.created_by_id else None
    if seller is not None and seller.is_active:
        with mail.in_language(seller.locale or tenant.default_locale):
            url = mail.external_url("backoffice.record_detail", tenant=tenant.slug,
                                    entity_name="quotes", record_id=quote.id)
            queue_mail(mail.compose(
                seller.email, _("Quote %(number)s signed by %(name)s",
                                number=quote.number or "", name=signature.signer_name),
                "link", sender_name="Relais", greeting=_("Hello,"),
                paragraphs=[_("%(name)s signed quote %(number)s through its link: the quote is "
                              "accepted.", name=signature.signer_name,
                              number=quote.number or "")]
                + ([_("A SEPA Direct Debit mandate was given with it.")] if mandate else []),
                action_label=_("Open the quote"), action_url=url, notes=[],
                signature="Relais"), "quote_signed_seller")
    record_event("signed_copy_sent", "quotes", quote.id, None,
                 {"to": signature.signer_email, "seller": seller.email if seller else None})


