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
from app.errors import ValidationError
from app.extensions import db
from app.models.base import MAX_ID
from app.policies import visible
from app.services.audit import diff, jsonable, record_event
from app.services.webhook_outbox import enqueue_bulk
from app.tenancy import current_actor

CENT = Decimal("0.01")
MONEY_LIMIT = Decimal("1e12")
LINE_FIELDS = ("sku", "label", "quantity", "unit_price", "tax_rate")
# CLDR also names regions that are no ISO 3166 country: unknown (ZZ), EU, UN, pseudo-locales.
COUNTRIES = frozenset(code for code in Locale("en").territories if code.isalpha() and len(code) == 2
                      and code not in {"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"})


def snapshot(entity: Entity, record: Any) -> dict[str, Any]:
    """The audited state of a record: its fields, custom values and lines."""
    state = {f.attr: jsonable(getattr(record, f.attr)) for f in entity.fields}
    state["custom"] = jsonable(dict(record.custom or {}))
    if entity.line_model is not None:
        state["lines"] = [
            {k: jsonable(getattr(line, k)) for k in LINE_FIELDS} for line in record.lines
        ]
    return state


def create_record(entity: Entity, data: dict[str, Any]) -> Any:
    """Create a record of `entity` from python values (refs as ids), custom and lines."""
    record = entity.model()
    record.custom = {}
    with db.session.no_autoflush:
        _apply(entity, record, data, partial=False)
    db.session.add(record)
    _flush(entity)
    record_event("create", entity.name, record.id, None, snapshot(entity, record))
    return record


def update_record(record: Any, data: dict[str, Any], *, partial: bool = True) -> Any:
    """Apply changes to a record; with `partial`, fields not given are left as they are."""
    entity = entity_of(record)
    before = snapshot(entity, record)
    # Flush only in _flush, where a duplicate number becomes a message instead of a 500.
    with db.session.no_autoflush:
        _apply(entity, record, data, partial=partial)
    _flush(entity)
    old, new = diff(before, snapshot(entity, record))
    if new or old:
        record_event("update", entity.name, record.id, old, new)
    return record


def delete_record(record: Any) -> None:
    """Delete a record; a customer that still has documents or contacts is kept."""
    entity = entity_of(record)
    if isinstance(record, m.Account):
        _check_account_unused(record)
    before = snapshot(entity, record)
    record_id = record.id
    _detach_references(entity, record_id)
    db.session.delete(record)
    _flush(entity)
    record_event("delete", entity.name, record_id, before, None)


def _detach_references(entity: Entity, record_id: int) -> None:
    """Records pointing at a record about to be deleted lose the reference, as the database
    would empty it (ON DELETE SET NULL), but as a change of theirs: their updated_at moves,
    so that a client syncing by updated_since sees it, and each is audited (and announced)."""
    now = datetime.now(UTC)
    actor = current_actor()
    for other in ENTITIES.values():
        for field in other.fields:
            if field.type != "ref" or field.ref != entity.name:
                continue
            model, attr = other.model, field.attr
            ids = db.session.scalars(select(model.id).where(
                getattr(model, attr) == record_id).order_by(model.id)).all()
            for start in range(0, len(ids), 900):
                chunk = ids[start:start + 900]
                db.session.execute(update(model).where(model.id.in_(chunk))
                                   .values({attr: None, "updated_at": now})
                                   .execution_options(synchronize_session="fetch"))
                audits = [{"action": "update", "entity": other.name, "record_id": i,
                           "before": {attr: record_id}, "after": {attr: None},
                           "created_at": now, "actor_kind": actor.kind, "actor_id": actor.id,
                           "actor_label": actor.label[:254], "ip": actor.ip} for i in chunk]
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
    for field in entity.fields:
        if field.name not in data:
            if not partial and record.id is None and field.required and not has_default(field):
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
    _default_partner(entity, record, values)
    if lines is not None:
        _replace_lines(entity, record, lines)


def column_default(entity: Entity, field: Field) -> Any:
    """What an emptied field means when its column cannot be NULL: its default (0,00, EUR)."""
    column = entity.model.__table__.c.get(field.attr)
    if column is None or column.nullable or column.default is None \
            or not column.default.is_scalar:
        return None
    return column.default.arg


def has_default(field: Field) -> bool:
    return field.name in ("kind", "country", "status", "stage")


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


def _default_partner(entity: Entity, record: Any, values: dict[str, Any]) -> None:
    """A document's partner defaults to its account's partner."""
    if not hasattr(record, "partner_id") or entity.model is m.Account:
        return
    if record.partner_id is None and getattr(record, "account_id", None):
        record.partner_id = db.session.scalar(
            select(m.Account.partner_id).where(m.Account.id == record.account_id))


def clean_lines(raw_lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    errors: dict[str, str] = {}
    lines = []
    for index, raw in enumerate(raw_lines):
        label = str(raw.get("label") or "").strip()
        if not label:
            errors[f"lines.{index}.label"] = _("This field is required.")
            continue
        try:
            quantity = Decimal(raw.get("quantity") if raw.get("quantity") is not None else 1)
            unit_price = money(raw.get("unit_price") or 0)
            tax_rate = Decimal(raw.get("tax_rate") if raw.get("tax_rate") is not None else 20)
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
        lines.append({"sku": sku, "label": label, "quantity": quantity.quantize(Decimal("0.001")),
                      "unit_price": unit_price, "tax_rate": tax_rate.quantize(CENT)})
    if errors:
        raise ValidationError(errors)
    # The document's totals are stored as money too: refuse lines whose sum would not fit.
    excl = sum((line["quantity"] * line["unit_price"] for line in lines), Decimal("0"))
    tax = sum((line["quantity"] * line["unit_price"] * line["tax_rate"] / 100 for line in lines),
              Decimal("0"))
    if max(abs(excl), abs(tax), abs(excl + tax)) >= MONEY_LIMIT:
        raise ValidationError({"lines": _("The total is too large.")})
    return lines


def _replace_lines(entity: Entity, record: Any, lines: list[dict[str, Any]]) -> None:
    """Replace the document's lines and recompute its totals from them."""
    record.lines = [entity.line_model(position=i, **line) for i, line in enumerate(lines)]
    for name, value in line_totals(record.lines).items():
        setattr(record, name, value)


def line_totals(lines: list[Any]) -> dict[str, Decimal]:
    """A document's totals computed from its lines (none without lines)."""
    if not lines:
        return {}
    excl = sum((line.amount_excl_tax for line in lines), Decimal("0"))
    tax = sum((line.tax_amount for line in lines), Decimal("0"))
    return {"total_excl_tax": excl.quantize(CENT), "tax_total": tax.quantize(CENT),
            "total": (excl + tax).quantize(CENT)}
