"""Create, update and delete any domain record: validate, apply, flush, audit."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from app import models as m
from app.custom_fields import validate_custom
from app.entities import ENTITIES, Entity, Field, entity_of
from app.errors import NotAllowed, NotFound, ValidationError
from app.extensions import db
from app.models.base import MAX_ID
from app.policies import can_change, can_create, can_delete, get_visible, visible
from app.services.audit import audit_row, diff, record_event
from app.services.record_rules import (
    CENT,
    LINE_DEFAULTS,
    MONEY_LIMIT,
    QUANTITY_STEP,
    chunks,
    column_default,
    default_partner,
    line_totals,
    required_to_create,
    snapshot,
    takes_account_partner,
)
from app.services.webhook_outbox import enqueue_bulk
from app.tenancy import current_actor

# CLDR also names regions that are no ISO 3166 country: unknown (ZZ), EU, UN, pseudo-locales.
COUNTRIES = frozenset(code for code in Locale("en").territories if code.isalpha() and len(code) == 2
                      and code not in {"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"})


def create_record(entity: Entity, data: dict[str, Any]) -> Any:
    """Create a record of `entity` from python values (refs as ids), custom and lines."""
    record = entity.model()
    _check_allowed(can_create(_user(), entity.model), record)
    record.custom = {}
    with db.session.no_autoflush:
        _apply(entity, record, data, partial=False)
    db.session.add(record)
    _flush(entity)
    _check_in_sight(entity, record)
    record_event("create", entity.name, record.id, None, snapshot(entity, record))
    return record


def update_record(record: Any, data: dict[str, Any], *, partial: bool = True) -> Any:
    """Apply changes to a record; with `partial`, fields not given are left as they are."""
    entity = entity_of(record)
    _check_allowed(can_change(_user(), record), record)
    before = snapshot(entity, record)
    # Flush only in _flush, where a duplicate number becomes a message instead of a 500.
    with db.session.no_autoflush:
        _apply(entity, record, data, partial=partial)
    _flush(entity)
    _check_in_sight(entity, record)
    old, new = diff(before, snapshot(entity, record))
    if new or old:
        record_event("update", entity.name, record.id, old, new)
    return record


def delete_record(record: Any) -> None:
    """Delete a record; a customer that still has documents or contacts is kept."""
    entity = entity_of(record)
    _check_allowed(can_delete(_user(), record), record, deleting=True)
    if isinstance(record, m.Account):
        _check_account_unused(record)
    before = snapshot(entity, record)
    record_id = record.id
    _detach_references(entity, record_id)
    db.session.delete(record)
    _flush(entity)
    record_event("delete", entity.name, record_id, before, None)


def _user() -> Any:
    """The acting user (or partner's token) whose policy applies; None for platform work
    (feeds, jobs, the CLI), which is not restricted."""
    return current_actor().user


def _check_allowed(allowed: bool, record: Any, *, deleting: bool = False) -> None:
    """Refuse what app/policies.py does not allow the acting user: NotFound for a record he
    may not see, NotAllowed (with the reason) for one he sees."""
    user = _user()
    if allowed or user is None:
        return
    if record.id is not None and get_visible(type(record), record.id, user) is None:
        raise NotFound()
    if deleting and can_change(user, record):
        raise NotAllowed(_("Records you cannot see depend on this one: the tenant's staff can "
                           "delete it."))
    raise refusal(type(record))


def refusal(model: type) -> NotAllowed:
    """The refusal of a write the acting user may not make on a record of `model`."""
    if model is m.Partner:
        return NotAllowed(_("Partners are managed by the tenant's staff: you may not change "
                            "them."))
    return NotAllowed(_("You may not change this record."))


def _check_in_sight(entity: Entity, record: Any) -> None:
    """A restricted user (an agent, a partner's token) writes only records that stay within
    his sight: not another partner's, nobody's, nor a draft."""
    user = _user()
    if user is None or user.is_staff or get_visible(entity.model, record.id, user):
        return
    key = "partner" if any(f.name == "partner" for f in entity.fields) else ""
    raise ValidationError({key: _("A partner's token can only write records of its partner.")})


def _detach_references(entity: Entity, record_id: int) -> None:
    """Records pointing at a record about to be deleted lose the reference, as the database
    would empty it (ON DELETE SET NULL), but as a change of theirs: their updated_at moves,
    so that a client syncing by updated_since sees it, and each is audited (and announced)."""
    now = datetime.now(UTC)
    for other in ENTITIES.values():
        for field in other.fields:
            if field.type != "ref" or field.ref != entity.name:
                continue
            model, attr = other.model, field.attr
            ids = db.session.scalars(select(model.id).where(
                getattr(model, attr) == record_id).order_by(model.id)).all()
            for chunk in chunks(ids):
                db.session.execute(update(model).where(model.id.in_(chunk))
                                   .values({attr: None, "updated_at": now})
                                   .execution_options(synchronize_session="fetch"))
                audits = [audit_row("update", other.name, i, {attr: record_id}, {attr: None}, now)
                          for i in chunk]
                db.session.execute(insert(m.AuditEvent), audits)
                enqueue_bulk(other.name, audits)


def _check_account_unused(account: m.Account) -> None:
    for name in ("contacts", "deals", "quotes", "orders", "contracts", "deliveries", "invoices"):
        model = ENTITIES[name].model
        if db.session.scalar(select(model.id).where(model.account_id == account.id).limit(1)):
            raise ValidationError({"": _(
                "This customer still has %(entity)s: delete or move them first.",
                entity=str(ENTITIES[name].label).lower())})


def _flush(entity: Entity) -> None:
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise ValidationError(integrity_errors(exc)) from exc


def integrity_errors(exc: Exception) -> dict[str, str]:
    """What a refused write (SQLAlchemy's error or the driver's) means for the user: a
    number or a reference already used."""
    message = str(getattr(exc, "orig", exc)).lower()
    if "number" in message:
        return {"number": _("This number is already used.")}
    if "external_ref" in message:
        return {"external_ref": _("This reference is already used.")}
    return {"": _("The record conflicts with another one.")}


def _apply(entity: Entity, record: Any, data: dict[str, Any], *, partial: bool) -> None:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    required = required_to_create(entity)
    for field in entity.fields:
        if field.name not in data:
            if not partial and record.id is None and field.name in required:
                errors[field.name] = _("This field is required.")
            continue
        try:
            values[field.attr] = clean_value(field, data[field.name])
        except ValueError as exc:
            errors[field.name] = str(exc)
        else:
            if values[field.attr] is None:
                values[field.attr] = column_default(entity, field)
    if "custom" in data or not partial:
        try:
            record.custom = validate_custom(
                entity.name, data.get("custom") or {}, record.custom, partial=partial)
        except ValidationError as exc:
            errors.update(exc.errors)
    lines = None
    if entity.line_model is not None and "lines" in data:
        try:
            lines = clean_lines(data["lines"] or [])
        except ValidationError as exc:
            errors.update(exc.errors)
    errors.update(date_order_errors(entity, record, values))
    if errors:
        raise ValidationError(errors)
    for attr, value in values.items():
        setattr(record, attr, value)
    partner_id = default_partner(
        entity, {"partner_id": record.partner_id, "account_id": record.account_id}
        if takes_account_partner(entity) else {}, _partner_of_account)
    if partner_id is not None:
        record.partner_id = partner_id
    if lines is not None:
        _replace_lines(entity, record, lines)


def clean_value(field: Field, raw: Any) -> Any:
    """Check one value against its field spec; raises ValueError with a localized message."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if field.required:
            raise ValueError(_("This field is required."))
        return None
    if field.type == "ref":
        return _resolve_ref(field, raw)
    if field.type == "money":
        return money(raw)
    if field.type == "date":
        if not isinstance(raw, date):
            raise ValueError(_("Enter a date as DD/MM/YYYY."))
        if not 1900 <= raw.year <= 2999:
            raise ValueError(_("Enter a date between 1900 and 2999."))
        return raw
    if field.type == "integer":
        return int(raw)
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
        if len(text) != 3 or not text.isalpha():
            raise ValueError(_("Enter a currency code such as EUR."))
    return text


def money(raw: Any) -> Decimal:
    try:
        value = Decimal(raw) if not isinstance(raw, Decimal) else raw
        value = value.quantize(CENT)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValueError(_("Enter an amount, such as 1 234,56.")) from exc
    if not value.is_finite() or abs(value) >= MONEY_LIMIT:
        raise ValueError(_("The amount is too large."))
    return value


def _resolve_ref(field: Field, raw: Any) -> int:
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


def date_order_errors(entity: Entity, record: Any, values: dict[str, Any]) -> dict[str, str]:
    pairs = {"quotes": ("issued_on", "valid_until"), "invoices": ("issued_on", "due_on"),
             "contracts": ("starts_on", "ends_on")}
    if entity.name not in pairs:
        return {}
    start_name, end_name = pairs[entity.name]
    start = values.get(start_name, getattr(record, start_name))
    end = values.get(end_name, getattr(record, end_name))
    if start and end and end < start:
        return {end_name: _("This date is before %(field)s.",
                            field=entity.field(start_name).label)}
    return {}


def _partner_of_account(account_id: int) -> int | None:
    return db.session.scalar(select(m.Account.partner_id).where(m.Account.id == account_id))


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
            if not (quantity.is_finite() and abs(quantity) < Decimal("1e9")):
                raise ValueError(_("Enter a quantity."))
            if not (tax_rate.is_finite() and 0 <= tax_rate <= 100):
                raise ValueError(_("Enter a tax rate between 0 and 100."))
        except (InvalidOperation, TypeError, ValueError) as exc:
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


def _replace_lines(entity: Entity, record: Any, lines: list[dict[str, Any]]) -> None:
    """Replace the document's lines and recompute its totals from them."""
    record.lines = [entity.line_model(position=i, **line) for i, line in enumerate(lines)]
    for name, value in line_totals(lines).items():
        setattr(record, name, value)
