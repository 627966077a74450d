"""The rules of a record, whatever writes it: a form or the API one at a time
(app/services/records.py), the API's bulk upsert (app/services/bulk.py) or a feed
(importers/engine.py). Defaults come from the model's columns, a document's lines are
normalised and its totals computed here only, so that the three paths store the same record.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import select

from app.entities import ENTITIES, Entity, Field
from app.extensions import db
from app.models import Account

CENT = Decimal("0.01")
QUANTITY_STEP = Decimal("0.001")
MONEY_LIMIT = Decimal("1e12")
LINE_FIELDS = ("sku", "label", "quantity", "unit_price", "tax_rate")
LINE_TOTALS = ("total_excl_tax", "tax_total", "total")  # what a document's lines make
LINE_DEFAULTS = {"quantity": Decimal(1), "unit_price": Decimal(0), "tax_rate": Decimal(20)}
IN_LIST = 900  # values per IN (…): under SQLite's parameter limit


def column_default(entity: Entity, field: Field) -> Any:
    """What an empty field means when its column cannot be NULL: its default (0,00, EUR, FR);
    None when it has none."""
    column = entity.model.__table__.c.get(field.attr)
    if column is None or column.nullable or column.default is None \
            or not column.default.is_scalar:
        return None
    return column.default.arg


def has_default(entity: Entity, field: Field) -> bool:
    return column_default(entity, field) is not None


_required: dict[str, frozenset[str]] = {}


def required_to_create(entity: Entity) -> frozenset[str]:
    """The fields a new record cannot lack: required by the entity or NOT NULL in its table
    (the key and timestamps aside), unless the column has a default. Read once per entity
    (a bulk call asks for each of its items)."""
    found = _required.get(entity.name)
    if found is None:
        found = _required[entity.name] = _required_to_create(entity)
    return found


def _required_to_create(entity: Entity) -> frozenset[str]:
    table = entity.model.__table__
    found = set()
    for spec in entity.fields:
        column = table.c.get(spec.attr)
        not_null = column is not None and not column.nullable and column.default is None \
            and column.server_default is None
        if (spec.required or not_null) and not has_default(entity, spec):
            found.add(spec.name)
    return frozenset(found)


def jsonable(value: Any) -> Any:
    """A value as the audit trail and webhooks write it: amounts and dates as text."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


# A quote's answer (app/services/quotes.py): columns beyond its fields, audited once given.
ANSWER_COLUMNS = ("answered_at", "answered_by_id", "answered_by_label", "answer_comment")


def snapshot(entity: Entity, record: Any) -> dict[str, Any]:
    """The audited state of a record: its fields, its answer if a quote answered, custom
    values and lines."""
    state = {f.attr: jsonable(getattr(record, f.attr)) for f in entity.fields}
    if getattr(record, "answered_at", None) is not None:
        state.update({name: jsonable(getattr(record, name)) for name in ANSWER_COLUMNS})
    state["custom"] = jsonable(dict(record.custom or {}))
    if entity.line_model is not None:
        state["lines"] = [
            {k: jsonable(getattr(line, k)) for k in LINE_FIELDS} for line in record.lines
        ]
    return state


@cache
def _new_record(name: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """An entity's field values when none is given (column defaults), and the fields the
    audit trail writes as text (amounts, dates)."""
    entity = ENTITIES[name]
    return ({f.attr: column_default(entity, f) for f in entity.fields},
            tuple(f.attr for f in entity.fields if f.type in ("money", "date", "datetime")))


def new_row(entity: Entity, values: dict[str, Any], lines: list[dict[str, Any]] | None,
            custom: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """The row of a new record: its checked `values`, defaults for the fields not given, its
    totals from its lines, its custom values and timestamps."""
    row = {attr: values.get(attr, default) for attr, default in _new_record(entity.name)[0].items()}
    if lines:
        row.update(line_totals(lines))
    row.update(custom=custom, created_at=now, updated_at=now)
    return row


def new_snapshot(entity: Entity, row: dict[str, Any],
                 lines: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The audited state of a new record (as `snapshot` reads it back) from its row."""
    attrs, as_text = _new_record(entity.name)
    state = {attr: row[attr] for attr in attrs}
    for attr in as_text:
        value = state[attr]
        if type(value) is Decimal:  # most of them: amounts
            state[attr] = format(value, "f")
        elif value is not None:
            state[attr] = jsonable(value)
    custom = row["custom"]
    state["custom"] = jsonable(dict(custom)) if custom else {}
    if entity.line_model is not None:
        state["lines"] = jsonable(lines or [])
    return state


def changes(current: dict[str, Any], old_lines: list[dict[str, Any]] | None,
            values: dict[str, Any], lines: list[dict[str, Any]] | None,
            custom: dict[str, Any] | None) -> tuple[dict[str, Any], dict, dict, bool]:
    """What checked `values`, `lines` and `custom` values (None: left as they are) change in
    a record read as `current` (its lines `old_lines`): the columns to write, the audited
    before and after of what changed, and whether its lines are replaced."""
    new_lines = lines is not None and lines != old_lines
    if lines is not None:  # given lines make the totals, changed or not
        values = {**values, **line_totals(lines), **({"lines": lines} if new_lines else {})}
    before, after = {}, {}
    for name, value in values.items():
        # A quote's answer sets columns beyond its fields (app/services/quotes.py).
        old = old_lines if name == "lines" else current.get(name)
        if old != value:
            before[name], after[name] = jsonable(old), jsonable(value)
    if custom is not None and custom != (current["custom"] or {}):
        before["custom"], after["custom"] = jsonable(current["custom"] or {}), jsonable(custom)
    row = {name: values[name] for name in after if name not in ("custom", "lines")}
    if "custom" in after:
        row["custom"] = custom_change(current["custom"], custom)
    return row, before, after, new_lines


def custom_change(had: dict[str, Any] | None, custom: dict[str, Any]) -> dict[str, Any]:
    """What a record's custom values `had` become `custom` by, as a write merges it into
    the values the record holds then (RecordWriter.update): the values that differ, and None
    for each one `custom` no longer has."""
    had = had or {}
    return {**{key: None for key in had if custom.get(key) is None},
            **{key: value for key, value in custom.items() if had.get(key) != value}}


_takes_partner: dict[str, bool] = {}


def takes_account_partner(entity: Entity) -> bool:
    """Whether a record's partner defaults to its customer's: a document's, not a customer's.
    Worked out once per entity (a bulk call asks for each of its items)."""
    found = _takes_partner.get(entity.name)
    if found is None:
        columns = entity.model.__table__.c
        found = _takes_partner[entity.name] = "partner_id" in columns \
            and "account_id" in columns and entity.name != "accounts"
    return found


def default_partner(entity: Entity, state: dict[str, Any],
                    partner_of_account: Callable[[int], int | None]) -> int | None:
    """The partner a record without one takes: its customer's (None when it keeps its own,
    or has no customer)."""
    if state.get("partner_id") is None and state.get("account_id") is not None \
            and takes_account_partner(entity):
        return partner_of_account(state["account_id"])
    return None


def chunks(values: list[Any], size: int = IN_LIST) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def partners_of_accounts(account_ids: list[int]) -> dict[int, int | None]:
    """{customer id: its partner id}: what `default_partner` gives a document of each."""
    found: dict[int, int | None] = {}
    for chunk in chunks(account_ids):
        found.update(db.session.execute(select(Account.id, Account.partner_id)
                                        .where(Account.id.in_(chunk))).tuples().all())
    return found


# -- lines and totals -----------------------------------------------------------------------

def normalized_line(line: dict[str, Any]) -> dict[str, Any]:
    """A line as stored: quantity 1 and tax rate 20 % unless given, amounts to the cent."""
    quantity, unit_price, tax_rate = (line.get(name) for name in LINE_DEFAULTS)
    return {
        "sku": line.get("sku"), "label": line.get("label") or "",
        "quantity": Decimal(LINE_DEFAULTS["quantity"] if quantity is None else quantity)
        .quantize(QUANTITY_STEP),
        "unit_price": Decimal(unit_price or 0).quantize(CENT),
        "tax_rate": Decimal(LINE_DEFAULTS["tax_rate"] if tax_rate is None else tax_rate)
        .quantize(CENT),
    }


def line_totals(lines: list[dict[str, Any]]) -> dict[str, Decimal]:
    """A document's totals computed from its normalised lines (none without lines): each
    line's amount and tax rounded to the cent, as the line model shows them."""
    if not lines:
        return {}
    excl = tax = Decimal(0)
    for line in lines:
        amount = (line["quantity"] * line["unit_price"]).quantize(CENT)
        excl += amount
        tax += (amount * line["tax_rate"] / 100).quantize(CENT)
    return {"total_excl_tax": excl.quantize(CENT), "tax_total": tax.quantize(CENT),
            "total": (excl + tax).quantize(CENT)}


def line_parent(line_model: type) -> Any:
    """The column of a line that names its document."""
    for name in ("quote_id", "order_id", "invoice_id"):
        if hasattr(line_model, name):
            return getattr(line_model, name)
    raise KeyError(line_model)


def lines_of(entity: Entity, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The stored lines of documents, by document id, in their order."""
    line_model = entity.line_model
    parent = line_parent(line_model)
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for chunk in chunks(ids):
        stmt = select(parent, *(getattr(line_model, f) for f in LINE_FIELDS)).where(
            parent.in_(chunk)).order_by(parent, line_model.position, line_model.id)
        for row in db.session.execute(stmt):
            found[row[0]].append(dict(zip(LINE_FIELDS, row[1:], strict=True)))
    return found
