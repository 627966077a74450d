"""Quotes sent as a link to sign (/<tenant>/q/<token>): made, mailed, revoked, found again.

The token is 256 random bits, given once (in the mail, or to the API caller) and kept only as
its SHA-256: a copy of the database opens no link. One link per quote works at a time: a new
one revokes the others. A link works until it expires (14 days by default, 90 at most), is
revoked, or is signed — once. The customer's signature itself: app/services/quote_signature.py.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select

from app import mail
from app.documents import LANGUAGES
from app.errors import ValidationError
from app.extensions import db
from app.i18n import day, money
from app.models import Account, Contact, Quote, QuoteSigningLink, Tenant
from app.phones import checked_phone, to_e164
from app.services.audit import record_event
from app.services.document_mail import _address
from app.services.mail_outbox import queue_mail
from app.services.offers import creditor
from app.services.records import update_record
from app.tenancy import current_actor, current_tenant_id

DEFAULT_DAYS = 14
MAX_DAYS = 90
SIGNABLE = ("draft", "sent")
ENDPOINT = "quote_signing.review"


class LinkError(Exception):
    """A link that cannot be used; kind: invalid, expired, revoked, signed or closed (the
    quote no longer awaits an answer)."""

    def __init__(self, kind: str, link: QuoteSigningLink | None = None):
        super().__init__(kind)
        self.kind, self.link = kind, link


@dataclass(frozen=True)
class IssuedLink:
    link: QuoteSigningLink
    url: str


def now() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def links_of(quote: Quote) -> list[QuoteSigningLink]:
    return list(db.session.scalars(select(QuoteSigningLink).where(
        QuoteSigningLink.quote_id == quote.id).order_by(QuoteSigningLink.id.desc())))


def mandate_available() -> bool:
    """Whether the tenant collects by SEPA Direct Debit (a creditor is set up)."""
    return creditor() is not None


def create_link(quote: Quote, *, email: str | None, days: int | None = None,
                asks_mandate: bool = False, language: str = "fr",
                send: bool = True, phone: str | None = None) -> IssuedLink:
    """A new link to sign `quote`, mailed to `email` (the customer's when empty) unless not
    `send`; the code may go by SMS to `phone` (typed by staff; when empty, the one the tenant
    has for that address). The quote's other links are revoked, and a draft becomes sent."""
    errors: dict[str, str] = {}
    typed_phone = None
    if phone and phone.strip():
        typed_phone = checked_phone(phone, quote.account.country if quote.account else None,
                                    errors)
    if quote.status not in SIGNABLE:
        errors["quote"] = _("Only a draft or sent quote can be sent for signature.")
    days = DEFAULT_DAYS if days is None else days
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        errors["days"] = _("Enter a number of days between 1 and %(max)d.", max=MAX_DAYS)
    if asks_mandate and not mandate_available():
        errors["asks_mandate"] = _("Enter the SEPA creditor settings first: a mandate is "
                                   "given to a creditor.")
    try:
        address = _address(email or (quote.account.email if quote.account else None))
    except ValidationError as exc:
        errors["email"] = exc.errors["to"]
    if errors:
        raise ValidationError(errors)
    if send:
        mail.ensure_configured()
    language = language if language in LANGUAGES else LANGUAGES[0]
    for other in links_of(quote):
        if other.state(now()) in ("sent", "opened"):
            _revoke(other, replaced=True)
    if quote.status == "draft":
        update_record(quote, {"status": "sent"}, partial=True)
    token, moment = secrets.token_urlsafe(32), now()
    link = QuoteSigningLink(quote_id=quote.id, token_hash=token_hash(token),
                            recipient_email=address, language=language,
                            recipient_phone=typed_phone or recipient_phone(quote, address),
                            asks_mandate=bool(asks_mandate),
                            created_at=moment, expires_at=moment + timedelta(days=days),
                            created_by_id=current_actor().id
                            if current_actor().kind == "user" else None,
                            created_by_label=current_actor().label[:254])
    db.session.add(link)
    db.session.flush()
    tenant = db.session.get(Tenant, current_tenant_id())
    url = mail.external_url(ENDPOINT, tenant=tenant.slug, token=token)
    record_event("signing_link_sent" if send else "signing_link_created", "quotes", quote.id,
                 None, {"link": link.id, "to": address, "phone": link.recipient_phone,
                        "expires_at": link.expires_at, "asks_mandate": link.asks_mandate})
    if send:
        queue_mail(_link_mail(quote, link, tenant, url, days), "quote_link")
    return IssuedLink(link, url)


def recipient_phone(quote: Quote, address: str) -> str | None:
    """The phone the tenant has for the person at `address`: a contact of the quote's
    customer with that e-mail, else the customer's own when it is his e-mail. Never one
    typed on the public page: the code must reach the person the link was sent to."""
    account = db.session.scalar(select(Account).where(Account.id == quote.account_id)) \
        if quote.account_id else None
    if account is None:
        return None
    contact = db.session.scalar(select(Contact).where(
        Contact.account_id == account.id, func.lower(Contact.email) == address.lower(),
        Contact.phone.is_not(None)).order_by(Contact.id).limit(1))
    phone = contact.phone if contact is not None else (
        account.phone if (account.email or "").lower() == address.lower() else None)
    found = to_e164(phone, account.country) if phone else None
    return found if found and len(found) <= 40 else None


def _link_mail(quote: Quote, link: QuoteSigningLink, tenant: Tenant, url: str, days: int):
    with mail.in_language(link.language):
        paragraphs = [_("%(name)s sends you its quote %(number)s to review and sign online, "
                        "without an account.", name=tenant.name, number=quote.number or ""),
                      _("Its total is %(total)s incl. tax.",
                        total=money(quote.total, quote.currency))]
        if quote.valid_until:
            paragraphs.append(_("The quote is valid until %(date)s.",
                                date=day(quote.valid_until)))
        if link.asks_mandate:
            paragraphs.append(_("You will also give a SEPA Direct Debit mandate: have your "
                                "IBAN at hand."))
        notes = [ngettext("This link expires in %(num)d day.",
                          "This link expires in %(num)d days.", days),
                 _("To sign, you will receive a one-time code at this e-mail address.")]
        return mail.compose(
            link.recipient_email, _("Quote %(number)s to sign — %(name)s",
                                    number=quote.number or "", name=tenant.name),
            "link", sender_name=tenant.name, greeting=_("Hello,"), paragraphs=paragraphs,
            action_label=_("Review and sign the quote"), action_url=url, notes=notes,
            signature=tenant.name)


def _revoke(link: QuoteSigningLink, *, replaced: bool = False) -> None:
    link.revoked_at = now()
    db.session.flush()
    record_event("signing_link_revoked", "quotes", link.quote_id, None,
                 {"link": link.id, "replaced": replaced})


def revoke_link(link: QuoteSigningLink) -> None:
    """Staff take a link back: it opens nothing any more."""
    if link.state(now()) in ("signed", "revoked"):
        raise ValidationError({"link": _("This link is already %(state)s.",
                                         state=state_label(link.state(now())))})
    _revoke(link)


def active_link(quote: Quote) -> QuoteSigningLink | None:
    return next((link for link in links_of(quote)
                 if link.state(now()) in ("sent", "opened")), None)


def link_for_token(token: str, *, lock: bool = False) -> QuoteSigningLink:
    """The usable link of `token` in the current tenant; LinkError saying why not."""
    if not token or len(token) > 100:
        raise LinkError("invalid")
    stmt = select(QuoteSigningLink).where(QuoteSigningLink.token_hash == token_hash(token))
    if lock:
        stmt = stmt.with_for_update()
    link = db.session.scalar(stmt)
    if link is None:
        raise LinkError("invalid")
    state = link.state(now())
    if state in ("signed", "revoked", "expired"):
        raise LinkError(state, link)
    quote = db.session.scalar(select(Quote).where(Quote.id == link.quote_id))
    if quote is None or quote.status != "sent" or quote.archived_at is not None:
        raise LinkError("closed", link)
    return link


def mark_opened(link: QuoteSigningLink) -> None:
    if link.opened_at is None:
        link.opened_at = now()
        db.session.flush()


def state_label(state: str) -> str:
    return {"sent": _("sent"), "opened": _("opened"), "signed": _("signed"),
            "expired": _("expired"), "revoked": _("revoked")}.get(state, state)
