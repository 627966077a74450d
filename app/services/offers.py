"""Offers and the SEPA creditor, for admins: what customers subscribe to online and who
collects their direct debits. Every change is checked whole (all errors at once, by field)
and audited."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import CustomField, Offer, SepaCreditor
from app.models.selling import RECURRENCES
from app.sepa import (
    SepaValueError,
    bic,
    clean_party,
    creditor_identifier,
    given_text,
    iban,
    in_sepa_zone,
)
from app.services.audit import record_event
from app.values import parse_decimal

# The merge fields a contract template may use, written {{ customer.name }}.
MERGE_FIELDS = {
    "customer.name": _l("Customer's name"),
    "customer.address": _l("Customer's address"),
    "customer.email": _l("Customer's e-mail"),
    "customer.phone": _l("Customer's phone"),
    "offer.name": _l("Offer"),
    "offer.price": _l("Price"),
    "offer.recurrence": _l("Recurrence"),
    "contract.start": _l("Start date"),
    "contract.signed_on": _l("Signature date"),
    "mandate.reference": _l("Mandate reference (UMR)"),
    "creditor.name": _l("Creditor's name"),
    "creditor.identifier": _l("Creditor identifier"),
}
MERGE_FIELD = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
CODE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")
MAX_PRICE = Decimal("9999999999.99")
MAX_TEMPLATE = 100_000
MAX_QUANTITY = 10_000
OFFER_FIELDS = ("code", "name", "description", "price", "currency", "recurrence",
                "contract_template", "collected_fields", "fulfilment_sku",
                "fulfilment_quantity", "is_published")
CREDITOR_FIELDS = ("name", "street", "building_number", "postal_code", "town", "country",
                   "creditor_identifier", "iban", "bic", "prenotification_days")


def unknown_merge_fields(template: str) -> list[str]:
    return sorted({name for name in MERGE_FIELD.findall(template) if name not in MERGE_FIELDS})


def _length(errors: dict[str, str], key: str, value: str, most: int) -> None:
    if len(value) > most:
        errors[key] = _("Use at most %(n)d characters.", n=most)


def _clean_offer(data: dict[str, Any], offer: Offer | None) -> dict[str, Any]:
    """`data` merged over `offer`'s values, checked whole."""
    merged = {name: getattr(offer, name) for name in OFFER_FIELDS} if offer else {}
    merged.update({k: v for k, v in data.items() if k in OFFER_FIELDS})
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}

    code = given_text(merged, "code").lower()
    if not code:
        errors["code"] = _("Enter a code: it is the end of the offer's web address.")
    elif not CODE.match(code):
        errors["code"] = _("Use lower-case letters without accents, digits and hyphens "
                           "(at most 60), e.g. badge-monthly.")
    elif db.session.scalar(select(Offer.id).where(
            Offer.code == code, Offer.id != (offer.id if offer else None))) is not None:
        errors["code"] = _("Another offer already has this code.")
    clean["code"] = code

    clean["name"] = given_text(merged, "name")
    if not clean["name"]:
        errors["name"] = _("Enter the offer's name.")
    _length(errors, "name", clean["name"], 200)
    clean["description"] = given_text(merged, "description")
    _length(errors, "description", clean["description"], 5000)

    try:
        price = parse_decimal(merged.get("price") if merged.get("price") is not None else "")
        if price < 0 or price > MAX_PRICE:
            raise ValueError(price)
        clean["price"] = price.quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        errors["price"] = _("Enter a price of 0 or more, e.g. 12.50.")
    clean["currency"] = given_text(merged, "currency").upper() or "EUR"
    if clean["currency"] != "EUR":
        errors["currency"] = _("SEPA direct debits are in euros: the currency is EUR.")

    clean["recurrence"] = given_text(merged, "recurrence")
    if clean["recurrence"] not in RECURRENCES:
        errors["recurrence"] = _("Choose monthly, yearly or one-off.")

    template = str(merged.get("contract_template") or "")
    if not template.strip():
        errors["contract_template"] = _("Write the contract the customer signs.")
    elif len(template) > MAX_TEMPLATE:
        errors["contract_template"] = _("Use at most %(n)d characters.", n=MAX_TEMPLATE)
    elif unknown := unknown_merge_fields(template):
        errors["contract_template"] = _(
            "Unknown merge field: %(fields)s (known: %(known)s).",
            fields=", ".join(f"{{{{ {name[:40]} }}}}" for name in unknown),
            known=", ".join(MERGE_FIELDS))
    clean["contract_template"] = template

    fields = merged.get("collected_fields") or []
    if isinstance(fields, str):
        fields = [part.strip() for part in fields.split(",") if part.strip()]
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        errors["collected_fields"] = _("Give the keys of custom fields of customers.")
        fields = []
    fields = list(dict.fromkeys(fields))
    known = set(db.session.scalars(select(CustomField.key).where(
        CustomField.entity == "accounts", CustomField.is_active.is_(True))))
    if missing := [f[:50] for f in fields if f not in known]:
        errors["collected_fields"] = _("No custom field of customers has the key %(keys)s.",
                                       keys=", ".join(missing))
    clean["collected_fields"] = fields

    clean["fulfilment_sku"] = given_text(merged, "fulfilment_sku") or None
    _length(errors, "fulfilment_sku", clean["fulfilment_sku"] or "", 60)
    try:
        given = merged.get("fulfilment_quantity")
        quantity = 1 if given in (None, "") else int(given)
        if not 1 <= quantity <= MAX_QUANTITY:
            raise ValueError
        clean["fulfilment_quantity"] = quantity
    except (TypeError, ValueError):
        errors["fulfilment_quantity"] = _("Enter a whole number from 1 to %(n)d.",
                                          n=MAX_QUANTITY)
    clean["is_published"] = bool(merged.get("is_published"))
    if clean["is_published"] and creditor() is None:
        errors["is_published"] = _("Enter the SEPA creditor settings before publishing an "
                                   "offer: customers give a direct-debit mandate to them.")
    elif clean["is_published"] and "collected_fields" not in errors:
        # The customer record a signature creates must pass its required custom fields.
        required = sorted(set(db.session.scalars(select(CustomField.key).where(
            CustomField.entity == "accounts", CustomField.is_active.is_(True),
            CustomField.is_required.is_(True)))) - set(fields))
        if required:
            errors["collected_fields"] = _(
                "Customers' required custom fields must be collected by a published offer: "
                "%(keys)s.", keys=", ".join(required))
    if errors:
        raise ValidationError(errors)
    return clean


def create_offer(data: dict[str, Any]) -> Offer:
    offer = Offer(**_clean_offer(data, None))
    db.session.add(offer)
    db.session.flush()
    record_event("create", "offers", offer.id, after=_values(offer, OFFER_FIELDS))
    return offer


def update_offer(offer: Offer, data: dict[str, Any]) -> Offer:
    before = _values(offer, OFFER_FIELDS)
    for name, value in _clean_offer(data, offer).items():
        setattr(offer, name, value)
    db.session.flush()
    record_event("update", "offers", offer.id, before=before,
                 after=_values(offer, OFFER_FIELDS))
    return offer


def delete_offer(offer: Offer) -> None:
    record_event("delete", "offers", offer.id, before=_values(offer, OFFER_FIELDS))
    db.session.delete(offer)
    db.session.flush()


def _values(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


# -- the creditor ----------------------------------------------------------------------------

def creditor() -> SepaCreditor | None:
    return db.session.scalar(select(SepaCreditor))


def _clean_creditor(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    # Names and addresses go into the collection file as they are: SEPA characters only.
    clean: dict[str, Any] = clean_party(data, errors, "name", 70, sepa_only=True)
    country = given_text(data, "country").upper()
    if not (len(country) == 2 and in_sepa_zone(country)):
        errors["country"] = _("Enter the two-letter code of a country of the SEPA zone "
                              "(e.g. FR).")
    clean["country"] = country
    try:
        clean["creditor_identifier"] = creditor_identifier(given_text(data, "creditor_identifier"))
    except SepaValueError as exc:
        errors["creditor_identifier"] = str(exc)
    account = None
    try:
        account = iban(given_text(data, "iban"))
        clean["iban"] = str(account.compact)
    except SepaValueError as exc:
        errors["iban"] = str(exc)
    try:
        clean["bic"] = bic(given_text(data, "bic"), account)
        if account is not None and not clean["bic"]:
            errors["bic"] = _("The bank of this IBAN is not known here: enter its BIC.")
    except SepaValueError as exc:
        errors["bic"] = str(exc)
    try:
        days = int(data.get("prenotification_days") if data.get("prenotification_days")
                   not in (None, "") else 14)
        if not 1 <= days <= 60:
            raise ValueError
        clean["prenotification_days"] = days
    except (TypeError, ValueError):
        errors["prenotification_days"] = _("Enter a number of days from 1 to 60 (14 unless "
                                           "your customers agreed to less).")
    if errors:
        raise ValidationError(errors)
    return clean


def set_creditor(data: dict[str, Any]) -> SepaCreditor:
    """Create or replace the tenant's creditor settings."""
    clean = _clean_creditor(data)
    found = creditor()
    if found is None:
        found = SepaCreditor(**clean)
        db.session.add(found)
        db.session.flush()
        record_event("create", "sepa_creditors", found.id,
                     after=_values(found, CREDITOR_FIELDS))
        return found
    before = _values(found, CREDITOR_FIELDS)
    for name, value in clean.items():
        setattr(found, name, value)
    db.session.flush()
    record_event("update", "sepa_creditors", found.id, before=before,
                 after=_values(found, CREDITOR_FIELDS))
    return found
