"""SEPA Direct Debit mandates: registered (signed online, on paper in a shop, or brought by a
feed), amended when the customer changes account, revoked with a date and a reason, expired
after 36 months without a collection. Every change is audited."""
from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta
from flask_babel import gettext as _
from sqlalchemy import or_, select

from app.clock import local_today
from app.errors import NotAllowed, ValidationError
from app.extensions import db
from app.models import Account, Mandate
from app.models.selling import MANDATE_CHANNELS
from app.sepa import REFERENCE_CHARACTERS, SepaValueError, bic, clean_party, given_text, iban
from app.services.audit import record_event
from app.services.offers import creditor

EXPIRY = relativedelta(months=36)
MAX_REFERENCE = 35
SHOWN = ("reference", "creditor_identifier", "debtor_name", "street", "building_number",
         "postal_code", "town", "country", "iban", "bic", "is_recurrent", "channel",
         "signed_on", "status", "last_used_on", "original_iban", "original_bic", "ended_on",
         "end_reason")
# Crockford's base 32: no I, L, O, U to misread when a customer reads his reference out.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference(today: date) -> str:
    """A unique mandate reference (UMR): M, the signature date and 10 random characters
    (50 bits), 20 characters of the SEPA reference set."""
    return f"M{today:%Y%m%d}-" + "".join(secrets.choice(_ALPHABET) for _ in range(10))


def _values(mandate: Mandate) -> dict[str, Any]:
    return {name: getattr(mandate, name) for name in SHOWN}


def _clean_debtor(data: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The debtor as he signed: names and addresses are kept as typed (accents included);
    the collection file transliterates them to the SEPA character set."""
    clean: dict[str, Any] = clean_party(data, errors, "debtor_name", 140, sepa_only=False)
    country = given_text(data, "country").upper()
    if not (len(country) == 2 and country.isalpha()):
        errors["country"] = _("Enter the two-letter code of the country (e.g. FR).")
    clean["country"] = country
    account = None
    try:
        account = iban(given_text(data, "iban"))
        clean["iban"] = str(account.compact)
    except SepaValueError as exc:
        errors["iban"] = str(exc)
    try:  # optional in the SEPA zone since 2016: found from the IBAN when the bank is known
        clean["bic"] = bic(given_text(data, "bic"), account)
    except SepaValueError as exc:
        errors["bic"] = str(exc)
    return clean


def check_debtor(data: dict[str, Any]) -> dict[str, Any]:
    """The debtor's name, address, IBAN and BIC as a mandate keeps them; ValidationError
    naming each wrong field."""
    errors: dict[str, str] = {}
    clean = _clean_debtor(data, errors)
    if errors:
        raise ValidationError(errors)
    return clean


def create_mandate(account: Account, data: dict[str, Any], channel: str = "paper") -> Mandate:
    """Register the mandate `account`'s customer signed (online, or on paper: its reference
    may then be given as printed on the form)."""
    errors: dict[str, str] = {}
    found = creditor()
    if found is None:
        raise ValidationError({"": _("Enter the SEPA creditor settings first: a mandate is "
                                     "given to a creditor.")})
    if channel not in MANDATE_CHANNELS:
        errors["channel"] = _("Choose online, paper or import.")
    clean = _clean_debtor(data, errors)
    signed_on = data.get("signed_on") or local_today()
    if not isinstance(signed_on, date):
        errors["signed_on"] = _("Enter a date.")
    elif signed_on > local_today():
        errors["signed_on"] = _("A mandate cannot be signed in the future.")
    reference = given_text(data, "reference").upper()
    if reference:
        if len(reference) > MAX_REFERENCE or any(c not in REFERENCE_CHARACTERS
                                                 for c in reference):
            errors["reference"] = _("A mandate reference has at most 35 letters without "
                                    "accents, digits and / - ? : ( ) . , ' + (no space).")
        elif _taken(found.creditor_identifier, reference):
            errors["reference"] = _("Another mandate already has this reference.")
    if errors:
        raise ValidationError(errors)
    while not reference or _taken(found.creditor_identifier, reference):
        reference = new_reference(signed_on)
    mandate = Mandate(account_id=account.id, reference=reference,
                      creditor_identifier=found.creditor_identifier, channel=channel,
                      signed_on=signed_on, status="active",
                      is_recurrent=bool(data.get("is_recurrent", True)), **clean)
    db.session.add(mandate)
    db.session.flush()
    record_event("create", "sepa_mandates", mandate.id, after=_values(mandate))
    return mandate


def _taken(creditor_identifier: str, reference: str) -> bool:
    return db.session.scalar(select(Mandate.id).where(
        Mandate.creditor_identifier == creditor_identifier,
        Mandate.reference == reference)) is not None


def _check_active(mandate: Mandate) -> None:
    if mandate.status != "active":
        raise NotAllowed(_("This mandate is %(status)s: it can no longer change.",
                           status=_("revoked") if mandate.status == "revoked"
                           else _("expired")))


def amend_mandate(mandate: Mandate, data: dict[str, Any]) -> Mandate:
    """The customer's new account (or new address): the next collection reports the original
    account as an amendment (SMNDA when the bank changed), then forgets it."""
    _check_active(mandate)
    errors: dict[str, str] = {}
    merged = {**_values(mandate), **{k: v for k, v in data.items() if v is not None}}
    if data.get("iban") and not data.get("bic"):  # a new bank: its BIC, not the old one
        merged["bic"] = ""
    clean = _clean_debtor(merged, errors)
    if errors:
        raise ValidationError(errors)
    before = _values(mandate)
    if clean["iban"] != mandate.iban and mandate.original_iban is None:
        mandate.original_iban, mandate.original_bic = mandate.iban, mandate.bic
    for name, value in clean.items():
        setattr(mandate, name, value)
    if mandate.original_iban == mandate.iban:  # back to the account last collected
        mandate.original_iban = mandate.original_bic = None
    db.session.flush()
    record_event("update", "sepa_mandates", mandate.id, before=before, after=_values(mandate))
    return mandate


def revoke_mandate(mandate: Mandate, reason: str, on: date | None = None) -> Mandate:
    """The customer withdrew his authorisation (by letter, e-mail, through his bank): no
    debit goes out under it after `on`."""
    _check_active(mandate)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say how the customer revoked it (his letter, "
                                           "e-mail, his bank…): it is the proof kept.")})
    if len(reason) > 500:
        raise ValidationError({"reason": _("Use at most %(n)d characters.", n=500)})
    before = _values(mandate)
    mandate.status, mandate.ended_on, mandate.end_reason = "revoked", on or local_today(), \
        reason
    db.session.flush()
    record_event("update", "sepa_mandates", mandate.id, before=before, after=_values(mandate))
    return mandate


def expire_mandates(today: date) -> int:
    """The current tenant's active mandates unused for 36 months (since signed when never
    used) expire: a debit under them would be refused by the debtor's bank."""
    limit = today - EXPIRY
    stale = db.session.scalars(select(Mandate).where(
        Mandate.status == "active",
        or_(Mandate.last_used_on < limit,
            (Mandate.last_used_on.is_(None)) & (Mandate.signed_on < limit)))).all()
    for mandate in stale:
        before = _values(mandate)
        mandate.status, mandate.ended_on = "expired", today
        mandate.end_reason = _("No collection for 36 months.")
        record_event("update", "sepa_mandates", mandate.id, before=before,
                     after=_values(mandate))
    db.session.flush()
    return len(stale)


def expire_all_mandates() -> int:
    """The `expire_mandates` job (daily): every tenant's, each in its own context."""
    from app.platform_jobs import in_each_tenant

    return in_each_tenant("expire_mandates", select(Mandate.tenant_id).where(
        Mandate.status == "active").group_by(Mandate.tenant_id),
        lambda: expire_mandates(local_today()))
