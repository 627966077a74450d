"""Online subscriptions: the customer's details checked whole, a resume link mailed to him, the
contract and mandate he reviews (its mandate reference reserved then), his consent and the
one-time code, and on his signature the seal and the fulfilment — customer, contact, active
contract with the sealed PDF attached, SEPA mandate, order and delivery — written through the
record services in the one transaction of the request: a failure leaves nothing behind and
the subscription where it was, to be signed again. Its mails (the resume link, the signed
contract, the invitation) go through the mail outbox: sent once that transaction commits.

A started subscription idle for SUBSCRIPTION_IDLE_DAYS is abandoned (the
`abandon_subscriptions` job).
"""
from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from app import esign, mail
from app.clock import local_today
from app.custom_fields import definitions, validate_custom
from app.documents import LANGUAGES, PdfFile
from app.documents.subscription import MandateTerms, Subscriber, subscription_contract
from app.entities import ENTITIES
from app.errors import NotAllowed, ValidationError
from app.extensions import db
from app.models import CustomField, Mandate, Offer, Signature, Subscription, Tenant
from app.models.subscription import SUBSCRIPTION_STEPS
from app.phones import checked_phone
from app.sepa import SepaValueError, bic, iban
from app.services import signatures
from app.services.attachments import add_attachment, storage_path
from app.services.audit import record_event
from app.services.invitations import invite_user
from app.services.mail_outbox import queue_mail
from app.services.mandates import create_mandate, new_reference
from app.services.offers import creditor
from app.services.record_checks import COUNTRIES
from app.services.records import create_record
from app.services.tenants import find_user_by_email
from app.services.webhook_outbox import enqueue_event
from app.tenancy import current_tenant_id

# (field, most characters, required): the SEPA structured address's lengths (pain.008).
TEXT_FIELDS = (("first_name", 100, False), ("last_name", 100, True), ("street", 70, True),
               ("building_number", 16, False), ("postal_code", 16, True), ("town", 35, True))
DETAIL_FIELDS = (*(name for name, _most, _required in TEXT_FIELDS), "country", "email", "phone",
                 "iban", "bic")
SHOWN = (*DETAIL_FIELDS, "custom", "language", "status", "step", "mandate_reference")


def now() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- offers and links --------------------------------------------------------------------------

def published_offers() -> list[Offer]:
    return list(db.session.scalars(select(Offer).where(Offer.is_published.is_(True))
                                   .order_by(Offer.name, Offer.id)))


def published_offer(code: str) -> Offer | None:
    """The tenant's published offer of that code (None for another tenant's, a draft)."""
    if creditor() is None:
        return None
    return db.session.scalar(select(Offer).where(Offer.code == (code or "")[:60],
                                                 Offer.is_published.is_(True)))


def collected_fields(offer: Offer) -> list[CustomField]:
    """The custom fields of customers that `offer`'s form asks for, in their order."""
    wanted = set(offer.collected_fields or ())
    return [field for field in definitions("accounts") if field.key in wanted]


def by_token(token: str) -> Subscription | None:
    """The unfinished subscription a resume link (or the browser's session) names."""
    if not token or len(token) > 100:
        return None
    found = db.session.scalar(select(Subscription).where(
        Subscription.resume_token_hash == token_hash(token)))
    if found is None or found.resume_expires_at < now() or found.status == "abandoned":
        return None
    return found


# -- the details -------------------------------------------------------------------------------

def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return " ".join(str(value).split()) if value is not None else ""


def clean_details(offer: Offer, data: dict[str, Any]) -> dict[str, Any]:
    """The details form checked whole: every error at once, by field (custom fields as
    `custom.<key>`)."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key, most, required in TEXT_FIELDS:
        value = _text(data, key)
        if required and not value:
            errors[key] = _("This field is required.")
        elif len(value) > most:
            errors[key] = _("Use at most %(n)d characters.", n=most)
        clean[key] = value
    country = _text(data, "country").upper() or "FR"
    if country not in COUNTRIES:
        errors["country"] = _("Enter a country code such as FR, BE or DE.")
    clean["country"] = country
    email = _text(data, "email")
    try:
        clean["email"] = validate_email(email, check_deliverability=False).normalized \
            if email else ""
    except EmailNotValidError:
        clean["email"] = email
        errors["email"] = _("Enter a valid e-mail address.")
    if not email:
        errors["email"] = _("This field is required.")
    elif len(clean["email"]) > 254:
        errors["email"] = _("Use at most %(n)d characters.", n=254)
    phone = _text(data, "phone")
    clean["phone"] = phone
    if phone:  # what was typed stays in the form when it is not a phone number
        clean["phone"] = checked_phone(
            phone, country if country in COUNTRIES else None, errors) or phone
    account = None
    try:
        account = iban(_text(data, "iban"))
        clean["iban"] = str(account.compact)
    except SepaValueError as exc:
        clean["iban"] = _text(data, "iban")
        errors["iban"] = str(exc)
    try:
        clean["bic"] = bic(_text(data, "bic"), account)
        if account is not None and not clean["bic"]:
            errors["bic"] = _("We do not know this account's bank: enter its BIC (8 or 11 "
                              "characters, on your bank details).")
    except SepaValueError as exc:
        clean["bic"] = _text(data, "bic")
        errors["bic"] = str(exc)
    fields = collected_fields(offer)
    raw_custom = data.get("custom") or {}
    given = {f.key: raw_custom.get(f.key) for f in fields}
    try:
        clean["custom"] = validate_custom("accounts", given, fields=fields)
    except ValidationError as exc:
        errors.update(exc.errors)
        clean["custom"] = {}
    if errors:
        raise ValidationError(errors)
    return clean


def _reach(subscription: Subscription, step: str) -> None:
    """`step` reached (its time kept once; the furthest step moves forward only)."""
    attr = f"{step}_at"
    if getattr(subscription, attr) is None:
        setattr(subscription, attr, now())
    if SUBSCRIPTION_STEPS.index(step) > SUBSCRIPTION_STEPS.index(subscription.step):
        subscription.step = step


def _values(subscription: Subscription) -> dict[str, Any]:
    values = {name: getattr(subscription, name) for name in SHOWN}
    values["iban"] = f"…{subscription.iban[-4:]}" if subscription.iban else ""
    return values


def start_subscription(offer: Offer, data: dict[str, Any], *, language: str, ip: str | None,
                       agent: str | None) -> tuple[Subscription, str]:
    """A new subscription from valid details, and its resume token (mailed to the
    customer; only its hash is kept)."""
    clean = clean_details(offer, data)
    token = secrets.token_urlsafe(32)
    idle = timedelta(days=current_app.config["SUBSCRIPTION_IDLE_DAYS"])
    subscription = Subscription(
        offer_id=offer.id, offer_code=offer.code, status="started", step="details",
        language=language, resume_token_hash=token_hash(token),
        resume_expires_at=now() + idle, ip=(ip or "")[:45], user_agent=(agent or "")[:500],
        **clean)
    _reach(subscription, "details")
    db.session.add(subscription)
    db.session.flush()
    record_event("create", "subscriptions", subscription.id, after=_values(subscription))
    _mail_resume_link(subscription, offer, token)
    return subscription, token


def update_details(subscription: Subscription, offer: Offer, data: dict[str, Any]) -> None:
    """The customer came back to his details and changed them: the contract he reviews
    next shows the new ones."""
    _check_open(subscription)
    clean = clean_details(offer, data)
    before = _values(subscription)
    for name, value in clean.items():
        setattr(subscription, name, value)
    subscription.reviewed_sha256 = None
    if subscription.signature is not None and subscription.signature.status == "pending":
        # Its code signed the contract as it was: the new one is consented to afresh.
        subscription.signature.status = "cancelled"
    subscription.updated_at = now()
    db.session.flush()
    record_event("update", "subscriptions", subscription.id, before=before,
                 after=_values(subscription))


def _check_open(subscription: Subscription) -> None:
    if subscription.status == "signed":
        raise NotAllowed(_("This subscription is already signed."))


def _mail_resume_link(subscription: Subscription, offer: Offer, token: str) -> None:
    tenant = db.session.get(Tenant, current_tenant_id())
    mail.ensure_configured()
    with mail.in_language(subscription.language):
        url = mail.external_url("subscribe.resume", tenant=tenant.slug, code=offer.code,
                                token=token)
        days = current_app.config["SUBSCRIPTION_IDLE_DAYS"]
        message = mail.compose(
            subscription.email, _("Your subscription to %(offer)s", offer=offer.name), "link",
            sender_name=tenant.name,
            greeting=_("Hello %(name)s,", name=subscription.name),
            paragraphs=[_("You started subscribing to %(offer)s with %(name)s. If you stop "
                          "before signing, this link brings you back where you were.",
                          offer=offer.name, name=tenant.name)],
            action_label=_("Resume my subscription"), action_url=url,
            notes=[_("This link works for %(days)d days. If you did not start this "
                     "subscription, ignore this e-mail.", days=days)],
            signature=tenant.name)
    queue_mail(message, "subscription_resume")


# -- review and consent ------------------------------------------------------------------------

def _reference_free(reference: str, identifier: str, subscription_id: int) -> bool:
    used = db.session.scalar(select(Mandate.id).where(
        Mandate.creditor_identifier == identifier, Mandate.reference == reference))
    reserved = db.session.scalar(select(Subscription.id).where(
        Subscription.mandate_reference == reference, Subscription.id != subscription_id))
    return used is None and reserved is None


def review(subscription: Subscription, language: str | None = None) -> None:
    """The customer reached the review: his mandate reference (UMR) is reserved now, so that
    the contract he reads carries the one he signs, in the language he reads the page in."""
    _check_open(subscription)
    if language in LANGUAGES:
        subscription.language = language
    found = creditor()
    if found is None:
        raise NotAllowed(_("This offer is not available any more."))
    if subscription.mandate_reference is None:
        reference = new_reference(local_today())
        while not _reference_free(reference, found.creditor_identifier, subscription.id):
            reference = new_reference(local_today())
        subscription.mandate_reference = reference
    _reach(subscription, "review")
    db.session.flush()


def contract_pdf(subscription: Subscription, offer: Offer) -> PdfFile:
    """The contract and mandate as the customer reviews and signs them."""
    person = Subscriber(
        name=subscription.name, street=subscription.street,
        building_number=subscription.building_number, postal_code=subscription.postal_code,
        town=subscription.town, country=subscription.country, email=subscription.email,
        phone=subscription.phone)
    terms = MandateTerms(subscription.mandate_reference or "", subscription.iban,
                         subscription.bic, None)
    return subscription_contract(offer, person, terms, creditor(),
                                 db.session.get(Tenant, current_tenant_id()),
                                 starts_on=local_today(), language=subscription.language)


def consent_text(offer: Offer) -> str:
    return _("I have read the contract of %(offer)s and the SEPA Direct Debit mandate above, "
             "I accept them and I sign them with the code I receive.", offer=offer.name)


def _keep_file(content: bytes) -> str:
    """`content` under FILES_DIR by its SHA-256 (as attachments are), once; its SHA-256."""
    sha256 = hashlib.sha256(content).hexdigest()
    path = storage_path(current_tenant_id(), sha256)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(content)
        partial.replace(path)
    return sha256


def file_of(subscription: Subscription, sealed: bool = True) -> Path | None:
    sha256 = subscription.sealed_sha256 if sealed else subscription.reviewed_sha256
    if not sha256:
        return None
    path = storage_path(subscription.tenant_id, sha256)
    return path if path.exists() else None


def consent(subscription: Subscription, offer: Offer, *, by_sms: bool, ip: str | None,
            agent: str | None) -> Signature:
    """The customer ticked the consent beside the contract: the document he consented to is
    kept (it is what gets sealed) and a code is sent to him."""
    _check_open(subscription)
    if subscription.mandate_reference is None:
        review(subscription)
    document = contract_pdf(subscription, offer).content
    subscription.reviewed_sha256 = _keep_file(document)
    signature = signatures.start_signature(
        "subscription", subscription.id, name=subscription.name, email=subscription.email,
        phone=subscription.phone or None, consent_text=consent_text(offer), document=document,
        ip=ip, agent=agent)
    subscription.signature_id = signature.id
    subscription.signature = signature
    _reach(subscription, "signature")
    db.session.flush()
    signatures.send_code(signature, by_sms=by_sms, ip=ip, agent=agent)
    return signature


def resend_code(subscription: Subscription, *, by_sms: bool, ip: str | None,
                agent: str | None) -> str | None:
    """A new code; the user's error (too many codes: the signature is locked, and the
    caller commits that), or None."""
    signature = _pending_signature(subscription)
    try:
        signatures.send_code(signature, by_sms=by_sms, ip=ip, agent=agent)
    except NotAllowed as exc:
        return exc.message
    return None


def take_try(subscription: Subscription, *, ip: str | None, agent: str | None) -> str | None:
    """Count a try of the code, for the caller to commit before checking it
    (signatures.take_try); the user's refusal, or None."""
    return signatures.take_try(_pending_signature(subscription), ip=ip, agent=agent)


def _pending_signature(subscription: Subscription) -> Signature:
    _check_open(subscription)
    signature = subscription.signature
    if signature is None or signature.status != "pending":
        raise NotAllowed(_("Review the contract and ask for a code again."))
    return signature


@dataclass
class CodeOutcome:
    """What entering a code came to: signed, or why not (the try is kept either way)."""

    signed: bool
    errors: dict[str, str]


def enter_code(subscription: Subscription, offer: Offer, code: str, *, ip: str | None,
               agent: str | None, tried: bool = False) -> CodeOutcome:
    """Check the code; when it signs, seal the contract and fulfil the subscription. A
    wrong code is answered (and its try kept: the caller commits); a failure after the code
    was right raises, and the caller rolls everything back, the code with it — but not the
    try, when take_try counted it in a transaction of its own (`tried`)."""
    signature = _pending_signature(subscription)
    try:
        signatures.check_code(signature, code, ip=ip, agent=agent, tried=tried)
    except ValidationError as exc:
        return CodeOutcome(False, dict(exc.errors))
    _seal_and_fulfil(subscription, offer, signature)
    return CodeOutcome(True, {})


def _seal_and_fulfil(subscription: Subscription, offer: Offer, signature: Signature) -> None:
    reviewed = file_of(subscription, sealed=False)
    if reviewed is None:
        raise RuntimeError(f"subscription {subscription.id}: the reviewed contract is missing")
    with mail.in_language(subscription.language):
        document = esign.with_audit_trail(reviewed.read_bytes(), _("Signature evidence"),
                                          signatures.evidence_rows(signature))
        tenant = db.session.get(Tenant, current_tenant_id())
        sealed = esign.seal_pdf(document, reason=_("Subscription contract signed by %(name)s",
                                                   name=subscription.name),
                                location=tenant.name)
    signatures.mark_sealed(signature, sealed)
    subscription.sealed_sha256 = hashlib.sha256(sealed).hexdigest()
    fulfil(subscription, offer, sealed)


def fulfil(subscription: Subscription, offer: Offer, sealed: bytes) -> None:
    """The records the signature creates, each through its service (audited, announced)."""
    today = local_today()
    before = _values(subscription)
    reference = subscription.mandate_reference
    account = create_record(ENTITIES["accounts"], {
        "name": subscription.name, "kind": "person", "email": subscription.email,
        "phone": subscription.phone or None,
        "address_line": " ".join(p for p in (subscription.building_number, subscription.street)
                                 if p),
        "postal_code": subscription.postal_code, "city": subscription.town,
        "country": subscription.country, "custom": dict(subscription.custom or {})})
    contact = create_record(ENTITIES["contacts"], {
        "account": account.id, "first_name": subscription.first_name or None,
        "last_name": subscription.last_name, "email": subscription.email,
        "phone": subscription.phone or None})
    contract = create_record(ENTITIES["contracts"], {
        "number": reference, "title": offer.name, "account": account.id, "status": "active",
        "starts_on": today, "signed_on": today, "currency": offer.currency,
        "recurring_amount": offer.price if offer.recurrence != "one_off" else None})
    mandate = create_mandate(account, {
        "reference": reference, "debtor_name": subscription.name[:140],
        "street": subscription.street, "building_number": subscription.building_number,
        "postal_code": subscription.postal_code, "town": subscription.town,
        "country": subscription.country, "iban": subscription.iban, "bic": subscription.bic,
        "signed_on": today, "is_recurrent": offer.recurrence != "one_off"}, channel="online")
    order = delivery = None
    if offer.fulfilment_sku:
        order = create_record(ENTITIES["orders"], {
            "number": reference, "account": account.id, "ordered_on": today,
            "status": "confirmed", "currency": offer.currency,
            "lines": [{"sku": offer.fulfilment_sku, "label": offer.name,
                       "quantity": Decimal(offer.fulfilment_quantity),
                       "unit_price": Decimal("0"), "tax_rate": Decimal("0")}]})
        delivery = create_record(ENTITIES["deliveries"], {
            "number": reference, "account": account.id, "order": order.id,
            "status": "planned"})
    pdf_name = f"{contract_pdf_stem(subscription)}.pdf"
    add_attachment(contract, pdf_name, io.BytesIO(sealed))
    subscription.account_id, subscription.contact_id = account.id, contact.id
    subscription.contract_id, subscription.mandate_id = contract.id, mandate.id
    subscription.order_id = order.id if order else None
    subscription.delivery_id = delivery.id if delivery else None
    subscription.status, subscription.signed_at = "signed", now()
    _reach(subscription, "done")
    db.session.flush()
    record_event("sign", "subscriptions", subscription.id, before=before,
                 after=_values(subscription))
    enqueue_event("subscription.signed", "subscriptions", subscription.id, {
        "entity": "subscriptions", "id": subscription.id, "offer": offer.code,
        "account_id": account.id, "contract_id": contract.id, "mandate_id": mandate.id,
        "mandate_reference": reference, "order_id": subscription.order_id,
        "delivery_id": subscription.delivery_id, "sealed_sha256": subscription.sealed_sha256})
    _mail_signed_contract(subscription, offer, pdf_name, sealed)
    if find_user_by_email(subscription.email) is None:
        invite_user({"email": subscription.email, "role": "subscriber",
                     "account_id": account.id, "full_name": subscription.name,
                     "locale": subscription.language}, after_commit=True)


def contract_pdf_stem(subscription: Subscription) -> str:
    return f"contract-{subscription.mandate_reference}" if subscription.language == "en" \
        else f"contrat-{subscription.mandate_reference}"


def _mail_signed_contract(subscription: Subscription, offer: Offer, name: str,
                          sealed: bytes) -> None:
    tenant = db.session.get(Tenant, current_tenant_id())
    mail.ensure_configured()
    with mail.in_language(subscription.language):
        message = mail.compose(
            subscription.email, _("Your signed contract — %(offer)s", offer=offer.name),
            "document", sender_name=tenant.name,
            greeting=_("Hello %(name)s,", name=subscription.name),
            paragraphs=[_("Thank you for subscribing to %(offer)s. Your signed contract and "
                          "SEPA Direct Debit mandate (reference %(reference)s) are attached; "
                          "keep them.", offer=offer.name,
                          reference=subscription.mandate_reference),
                        _("A second e-mail invites you to your subscriber space, where you "
                          "will find them too.")],
            signature=tenant.name,
            attachments=[mail.MailAttachment(name, sealed, "application/pdf")])
    queue_mail(message, "subscription_contract")


# -- abandoned subscriptions -------------------------------------------------------------------

def abandon_idle(moment: datetime | None = None) -> int:
    """The current tenant's started subscriptions idle for SUBSCRIPTION_IDLE_DAYS."""
    limit = (moment or now()) - timedelta(days=current_app.config["SUBSCRIPTION_IDLE_DAYS"])
    idle = db.session.scalars(select(Subscription).where(
        Subscription.status == "started", Subscription.updated_at < limit)).all()
    for subscription in idle:
        before = _values(subscription)
        subscription.status, subscription.abandoned_at = "abandoned", now()
        record_event("update", "subscriptions", subscription.id, before=before,
                     after=_values(subscription))
    db.session.flush()
    return len(idle)


def abandon_all_idle() -> int:
    """The `abandon_subscriptions` job: every tenant's, each in its own context."""
    from app.platform_jobs import in_each_tenant

    return in_each_tenant("abandon_subscriptions", select(Subscription.tenant_id).where(
        Subscription.status == "started").group_by(Subscription.tenant_id), abandon_idle)


# -- conversion --------------------------------------------------------------------------------

def conversion(since: date, until: date) -> dict[str, int]:
    """How many subscriptions started in [since, until] reached each step."""
    start = datetime.combine(since, datetime.min.time(), UTC)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC)
    in_period = (Subscription.created_at >= start) & (Subscription.created_at < end)
    counts = db.session.execute(select(*(
        func.count(getattr(Subscription, f"{step}_at")) for step in SUBSCRIPTION_STEPS))
        .where(in_period)).one()
    return dict(zip(SUBSCRIPTION_STEPS, counts, strict=True))


def status_counts(since: date, until: date) -> dict[str, int]:
    start = datetime.combine(since, datetime.min.time(), UTC)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC)
    rows = db.session.execute(select(Subscription.status, func.count()).where(
        (Subscription.created_at >= start) & (Subscription.created_at < end))
        .group_by(Subscription.status)).all()
    return {status: count for status, count in rows}


def recent(status: str | None, limit: int) -> list[Subscription]:
    """The latest subscriptions, newest first, optionally of one status."""
    return list(db.session.scalars(search(status).order_by(Subscription.id.desc())
                                   .limit(limit)))


def search(status: str | None = None) -> Any:
    """Subscriptions, optionally of one status (a select, unordered)."""
    stmt = select(Subscription)
    if status:
        stmt = stmt.where(Subscription.status == status)
    return stmt

