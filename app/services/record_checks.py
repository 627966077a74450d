"""The checks of a record's write, one for every path: a form or the API one record at a
time (app/services/records.py) and the API's bulk upsert (app/services/bulk.py).

A write is checked in two steps, so that the bulk upsert can read the database once for many
records in between: `check_values` needs no database (related records stay as given); then,
related records resolved and the current record read, `check_record` applies the rules that
need them: fields a new record cannot lack, custom values, date order, the values the acting
user may not give (app/policies.py), the partner a document takes from its customer, and who
answered a quote and when (app/services/quotes.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import models as m
from app.custom_fields import validate_custom
from app.entities import ENTITIES, Entity, Field
from app.errors import ValidationError
from app.extensions import db
from app.models import CustomField
from app.models.base import MAX_ID
from app.policies import refused_values, visible
from app.services.quotes import answer_in_write
from app.services.record_rules import (
    CENT,
    LINE_DEFAULTS,
    MONEY_LIMIT,
    QUANTITY_STEP,
    column_default,
    default_partner,
    line_totals,
    required_to_create,
)
from app.tenancy import current_actor
from app.values import in_years, is_currency_code, parse_bool, parse_datetime

# CLDR also names regions that are no ISO 3166 country: unknown (ZZ), EU, UN, pseudo-locales.
COUNTRIES = frozenset(code for code in Locale("en").territories if code.isalpha() and len(code) == 2
                      and code not in {"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"})
QUANTITY_LIMIT = Decimal("1e9")
# A record's dates that cannot come in the other order: (start, end).
DATE_PAIRS = {"quotes": ("issued_on", "valid_until"), "invoices": ("issued_on", "due_on"),
              "contracts": ("starts_on", "ends_on")}


@dataclass
class CheckedRecord:
    """A record's write as checked: what it sets, or why it is refused."""

    values: dict[str, Any]  # model attribute → clean value (related records as given at first)
    errors: dict[str, str]
    lines: list[dict[str, Any]] | None = None  # None: the lines are left as they are
    custom: dict[str, Any] | None = field(default=None)  # None: left as they are


def check_values(entity: Entity, data: dict[str, Any]) -> CheckedRecord:
    """The given values checked as forms check them, and the lines; related records are
    left as given (by id, instance or external_ref), for the caller to resolve."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, attr, spec, default in _value_plan(entity):
        if name not in data:
            continue
        try:
            value = clean_value(spec, data[name])
        except ValueError as exc:
            errors[name] = str(exc)
            continue
        values[attr] = default if value is None else value
    checked = CheckedRecord(values, errors)
    if entity.line_model is not None and "lines" in data:
        try:
            checked.lines = clean_lines(data["lines"] or [])
        except ValidationError as exc:
            errors.update(exc.errors)
    return checked


_value_plans: dict[str, tuple[tuple[str, str, Field, Any], ...]] = {}


def _value_plan(entity: Entity) -> tuple[tuple[str, str, Field, Any], ...]:
    """Each field's name, attribute, spec and empty value, worked out once per entity (a bulk
    call checks ten thousand records)."""
    plan = _value_plans.get(entity.name)
    if plan is None:
        plan = _value_plans[entity.name] = tuple(
            (spec.name, spec.attr, spec, column_default(entity, spec)) for spec in entity.fields)
    return plan


_required_plans: dict[str, tuple[tuple[str, str], ...]] = {}


def _required_plan(entity: Entity) -> tuple[tuple[str, str], ...]:
    """The name and attribute of each field a new record cannot lack, in the fields' order."""
    plan = _required_plans.get(entity.name)
    if plan is None:
        required = required_to_create(entity)
        plan = _required_plans[entity.name] = tuple(
            (spec.name, spec.attr) for spec in entity.fields if spec.name in required)
    return plan


def check_record(entity: Entity, data: dict[str, Any], checked: CheckedRecord,
                 current: dict[str, Any] | None, *, partial: bool,
                 partner_of_account: Callable[[int], int | None],
                 custom_fields: list[CustomField] | None = None) -> None:
    """The rules that need the record's `current` values (None for a new record) and its
    related records resolved; `partial`: fields not given keep their value (custom ones
    included). Adds to `checked`."""
    values, errors = checked.values, checked.errors
    if current is None:
        for name, attr in _required_plan(entity):
            if name not in data and attr not in values:
                errors[name] = _("This field is required.")
    if "custom" in data or not partial:
        try:
            checked.custom = validate_custom(
                entity.name, data.get("custom") or {}, (current or {}).get("custom"),
                partial=partial, fields=custom_fields)
        except ValidationError as exc:
            errors.update(exc.errors)
    errors.update(date_order_errors(entity, current or {}, values))
    if entity.model is m.Activity:
        errors.update({name: str(message) for name, message
                       in activity_errors({**(current or {}), **values}).items()})
    errors.update(refused_values(current_actor().user, entity.model, current, values,
                                 checked.lines))
    if errors:
        return
    partner_id = default_partner(entity, {**(current or {}), **values}, partner_of_account)
    if partner_id is not None:
        values["partner_id"] = partner_id
    if entity.model is m.Quote:
        values.update(answer_in_write(current, values))


ONE_LINKED_RECORD = _l("An activity is on one record of its customer at most.")
NOT_THE_CUSTOMERS = _l("This record is not one of the activity's customer.")


def account_of(name: str, record_id: int) -> int | None:
    """The customer of the record `record_id` of kind `name` (contact, deal, …)."""
    model = ENTITIES[f"{name}s"].model
    return db.session.scalar(select(model.account_id).where(model.id == record_id))


def activity_errors(state: dict[str, Any],
                    customer_of: Callable[[str, int], int | None] = account_of
                    ) -> dict[str, Any]:
    """An activity is on its customer and at most one of that customer's records: the
    refusals by field, lazy (a feed's row error is read in its reader's language)."""
    linked = [name for name in m.ACTIVITY_RECORDS if state.get(f"{name}_id") is not None]
    if len(linked) > 1:
        return {linked[1]: ONE_LINKED_RECORD}
    if not linked or state.get("account_id") is None:
        return {}
    account_id = customer_of(linked[0], state[f"{linked[0]}_id"])
    if account_id != state["account_id"]:
        return {linked[0]: NOT_THE_CUSTOMERS}
    return {}


def clean_value(field: Field, raw: Any) -> Any:
    """Check one value against its field spec; raises ValueError with a localized message."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if field.required:
            raise ValueError(_("This field is required."))
        return None
    if field.type == "ref":
        return raw  # resolved by the caller: one at a time, or by the batch
    if field.type == "money":
        return money(raw)
    if field.type == "date":
        if not isinstance(raw, date):
            raise ValueError(_("Enter a date as DD/MM/YYYY."))
        if not in_years(raw):
            raise ValueError(_("Enter a date between 1900 and 2999."))
        return raw
    if field.type == "integer":
        return int(raw)
    if field.type == "datetime":
        return moment(raw)
    if field.type == "boolean":
        try:
            return parse_bool(raw)
        except ValueError as exc:
            raise ValueError(_("Enter yes or no.")) from exc
    text = str(raw).strip()
    if len(text) > field.max_length:
        raise ValueError(_("At most %(n)d characters.", n=field.max_length))
    if field.type == "choice" and text not in field.choices:
        raise ValueError(_("“%(value)s” is not one of the choices.", value=text[:50]))
    if field.type == "email":
        try:
            return validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(_("Enter a valid e-mail address.")) from exc
    if field.type == "country":
        text = text.upper()
        if text not in COUNTRIES:
            raise ValueError(_("Enter a country code such as FR, BE or DE."))
    if field.name == "currency":
        text = text.upper()
        if not is_currency_code(text):
            raise ValueError(_("Enter a currency code such as EUR."))
    return text


def moment(raw: Any) -> datetime:
    """A date and time, in UTC (a time without an offset is local: app/values.py)."""
    try:
        value = parse_datetime(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(_("Enter a date and time as DD/MM/YYYY HH:MM.")) from exc
    if not in_years(value):
        raise ValueError(_("Enter a date between 1900 and 2999."))
    return value


def money(raw: Any) -> Decimal:
    try:
        value = Decimal(raw) if not isinstance(raw, Decimal) else raw
        value = value.quantize(CENT)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValueError(_("Enter an amount, such as 1 234,56.")) from exc
    if not value.is_finite() or abs(value) >= MONEY_LIMIT:
        raise ValueError(_("The amount is too large."))
    return value


def resolve_ref(field: Field, raw: Any) -> int:
    """A related record given by id or instance, visible to the acting user."""
    model = m.User if field.ref == "users" else ENTITIES[field.ref].model
    record_id = getattr(raw, "id", raw)
    try:
        record_id = int(record_id)
    except (TypeError, ValueError) as exc:
        raise ValueError(_("Unknown record.")) from exc
    stmt = select(model.id).where(model.id == record_id)
    user = current_actor().user
    if model is m.User:
        stmt = stmt.where(m.User.role.in_(["admin", "sales"]))
    elif user is not None:
        stmt = visible(stmt, model, user)
    if not 0 < record_id <= MAX_ID or db.session.scalar(stmt) is None:
        raise ValueError(_("Unknown record."))
    return record_id


def date_order_errors(entity: Entity, current: dict[str, Any], values: dict[str, Any]
                      ) -> dict[str, str]:
    pair = DATE_PAIRS.get(entity.name)
    if pair is None:
        return {}
    start_name, end_name = pair
    start = values.get(start_name, current.get(start_name))
    end = values.get(end_name, current.get(end_name))
    if start and end and end < start:
        return {end_name: _("This date is before %(field)s.",
                            field=entity.field(start_name).label)}
    return {}


def clean_lines(raw_lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    errors: dict[str, str] = {}
    lines = []
    for index, raw in enumerate(raw_lines):
        label = str(raw.get("label") or "").strip()
        if not label:
            errors[f"lines.{index}.label"] = _("This field is required.")
            continue
        try:
            quantity = Decimal(raw["quantity"] if raw.get("quantity") is not None
                               else LINE_DEFAULTS["quantity"])
            unit_price = money(raw.get("unit_price") or 0)
            tax_rate = Decimal(raw["tax_rate"] if raw.get("tax_rate") is not None
                               else LINE_DEFAULTS["tax_rate"])
            # Compared, not abs(): abs() rounds to the context and overflows past 1e999999;
            # then rounded as stored, since 999999999.9999 becomes 1000000000.000.
            if not (quantity.is_finite() and -QUANTITY_LIMIT < quantity < QUANTITY_LIMIT) \
                    or abs(quantity.quantize(QUANTITY_STEP)) >= QUANTITY_LIMIT:
                raise ValueError(_("Enter a quantity."))
            if not (tax_rate.is_finite() and 0 <= tax_rate <= 100):
                raise ValueError(_("Enter a tax rate between 0 and 100."))
        except (ArithmeticError, TypeError, ValueError) as exc:
            errors[f"lines.{index}"] = str(exc) if isinstance(exc, ValueError) and exc.args and \
                isinstance(exc.args[0], str) else _("Enter numbers for quantity, price and tax.")
            continue
        sku = (str(raw.get("sku") or "").strip() or None)
        if len(label) > 255 or (sku and len(sku) > 64):
            errors[f"lines.{index}"] = _("At most %(n)d characters.", n=255)
            continue
        lines.append({"sku": sku, "label": label, "quantity": quantity.quantize(QUANTITY_STEP),
                      "unit_price": unit_price, "tax_rate": tax_rate.quantize(CENT)})
    if errors:
        raise ValidationError(errors)
    # The document's totals are stored as money too: refuse lines whose sum would not fit.
    if any(abs(total) >= MONEY_LIMIT for total in line_totals(lines).values()):
        raise ValidationError({"lines": _("The total is too large.")})
    return lines
