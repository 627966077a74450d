"""List pages and exports: search, filters (custom fields included), sort and paging."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import Float, Select, cast, func, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import selectinload

from app.clock import local_today
from app.custom_fields import definitions
from app.entities import ENTITIES, Entity, Field
from app.extensions import db
from app.models import CustomField, Invoice, User
from app.models.base import MAX_ID
from app.policies import visible
from app.search_text import found, matches
from app.values import parse_bool, parse_date, parse_datetime, parse_decimal

MAX_QUERY = 100
COUNT_CAP = 1000  # a list counts its rows up to this many
NUMBER_TYPES = ("integer", "decimal", "money")


@dataclass
class ListQuery:
    """A list request, parsed and checked: what to show and what was refused."""

    entity: Entity
    stmt: Select
    sort_column: Any
    descending: bool
    sort: str
    errors: list[str] = field(default_factory=list)
    active: dict[str, str] = field(default_factory=dict)
    # The refused values by argument name (the API answers them as field errors).
    invalid: dict[str, str] = field(default_factory=dict)
    # The day invoice statuses are shown for ("overdue" is derived), or None: stored statuses.
    today: date | None = None

    def refuse(self, name: str, label: Any, raw: str) -> None:
        message = _("%(field)s: “%(value)s” is not valid.", field=label, value=raw[:30])
        self.errors.append(message)
        self.invalid[name] = message


def _eager(entity: Entity) -> list:
    # A second query by id for the page's related rows, not a join: joined over a long range,
    # SQLite builds Bloom filters of every account and partner (~15 ms a page at 1M invoices).
    loads = []
    for f in entity.fields:
        if f.type == "ref" and f.ref != "users" and f.in_list:
            loads.append(selectinload(getattr(entity.model, f.name)))
    return loads


def build_list(entity: Entity, args: Any, user: Any,
               custom_fields: list[CustomField] | None = None, *,
               today: date | None = None) -> ListQuery:
    """Turn request arguments into a visible, filtered select and its sort.

    `today`: invoices filter on their status as shown that day (`status=overdue`: late ones,
    `status=issued`: open ones that are not late), as the pages show them; None (the API):
    on their stored status. `overdue=true|false` filters on lateness in both cases."""
    model = entity.model
    stmt = visible(select(model), model, user).options(*_eager(entity))
    query = ListQuery(entity, stmt, model.id, True, "", today=today)
    stmt = _apply_archived_filter(query, stmt, args)
    q = (args.get("q") or "").strip()[:MAX_QUERY]
    if q:
        query.active["q"] = q
        stmt = stmt.where(_search_clause(entity, q))
    for f in entity.fields:
        if f.filter:
            stmt = _apply_field_filter(query, stmt, f, args, user)
    if model is Invoice:
        stmt = _apply_overdue_filter(query, stmt, args)
    for name, attr in entity.extra.get("flags", {}).items():
        stmt = _apply_flag_filter(query, stmt, name, getattr(model, attr), args)
    fields = custom_fields if custom_fields is not None else definitions(entity.name)
    for cf in fields:
        stmt = _apply_custom_filter(query, stmt, cf, args)
    query.stmt = stmt
    _apply_sort(query, args.get("sort") or entity.default_sort)
    return query


def _apply_archived_filter(query: ListQuery, stmt: Select, args: Any) -> Select:
    """Records a full-sync feed archived are hidden, unless `archived=1` asks for them
    (`archived=all`: archived or not)."""
    archived_at = query.entity.model.archived_at
    archived = (args.get("archived") or "").strip()
    if archived == "all":
        query.active["archived"] = archived
        return stmt
    if archived == "1":
        query.active["archived"] = "1"
        return stmt.where(archived_at.isnot(None))
    return stmt.where(archived_at.is_(None))


def _search_clause(entity: Entity, q: str):
    """Every word of `q` in the record's search text, accents and case aside (records without
    one, attachments, by their searched fields as typed)."""
    model = entity.model
    if not hasattr(model, "search_text"):
        return or_(*(getattr(model, name).icontains(q, autoescape=True)
                     for name in entity.search))
    # The page and its count both filter on the search: when it finds few records, their ids
    # are read once, and both read those rows by id (on SQLite, one scan of the tenant's
    # search index instead of two).
    ids = db.session.scalars(select(model.id).where(matches(model, q))
                             .limit(COUNT_CAP + 1)).all()
    return model.id.in_(ids) if len(ids) <= COUNT_CAP else found(model, q)


def _range(query: ListQuery, args: Any, name: str, parser: Any, label: Any) -> tuple[Any, Any]:
    bounds = []
    for suffix in ("from", "to") if parser in (parse_date, parse_datetime) else ("min", "max"):
        raw = (args.get(f"{name}_{suffix}") or "").strip()
        value = None
        if raw:
            try:
                value = parser(raw)
                query.active[f"{name}_{suffix}"] = raw
            except (ValueError, ArithmeticError):
                query.refuse(f"{name}_{suffix}", label, raw)
        bounds.append(value)
    return bounds[0], bounds[1]


def _apply_field_filter(query: ListQuery, stmt: Select, f: Field, args: Any,
                        user: Any) -> Select:
    column = getattr(query.entity.model, f.attr)
    if f.type in ("date", "datetime", "money"):
        parser = {"date": parse_date, "datetime": parse_datetime}.get(f.type, parse_decimal)
        low, high = _range(query, args, f.name, parser, f.label)
        if low is not None:
            stmt = stmt.where(column >= low)
        if high is not None and f.type == "datetime" \
                and len((args.get(f"{f.name}_to") or "").strip()) <= 10:
            return stmt.where(column < high + timedelta(days=1))  # a day: all of it
        if high is not None:
            stmt = stmt.where(column <= high)
        return stmt
    raw = (args.get(f.name) or "").strip()[:MAX_QUERY]
    if not raw:
        return stmt
    if f.type == "boolean":
        try:
            flag = parse_bool(raw)
        except ValueError:
            query.refuse(f.name, f.label, raw)
            return stmt
        query.active[f.name] = raw
        return stmt.where(column.is_(flag))
    if f.type == "ref":
        try:
            ref_id = int(raw)
            if not 0 < ref_id <= MAX_ID:
                raise ValueError(raw)
        except ValueError:
            query.refuse(f.name, f.label, raw)
            return stmt
        query.active[f.name] = raw
        # A related record out of the user's sight matches nothing, as it shows nowhere in
        # his answers: filtering on its id must not tell which of his records point at it.
        related = User if f.ref == "users" else ENTITIES[f.ref].model
        return stmt.where(column == ref_id, column.in_(
            visible(select(related.id).where(related.id == ref_id), related, user)))
    if f.type == "choice":
        # One choice, or several separated by commas (status=issued,overdue: unpaid).
        values = [value.strip() for value in raw.split(",") if value.strip()]
        if not values or any(value not in f.choices for value in values):
            query.refuse(f.name, f.label, raw)
            return stmt
        query.active[f.name] = raw
        if query.entity.model is Invoice and f.name == "status" and query.today is not None:
            return stmt.where(Invoice.shown_status_in(values, query.today))
        return stmt.where(column == values[0] if len(values) == 1 else column.in_(values))
    if f.type == "country":
        query.active[f.name] = raw
        return stmt.where(column == raw.upper())
    query.active[f.name] = raw
    return stmt.where(column.icontains(raw, autoescape=True))


def _bool_arg(query: ListQuery, args: Any, name: str, label: Any) -> bool | None:
    """A yes/no filter's value (`true`, `false`, `oui`…), None when absent; a value that is
    neither is refused with the filter's label."""
    raw = (args.get(name) or "").strip()[:MAX_QUERY]
    if not raw:
        return None
    try:
        flag = parse_bool(raw)
    except ValueError:
        query.refuse(name, label, raw)
        return None
    query.active[name] = raw
    return flag


def _apply_overdue_filter(query: ListQuery, stmt: Select, args: Any) -> Select:
    """`overdue=true|false`: invoices late (or not) today, whatever their stored status."""
    late = _bool_arg(query, args, "overdue", _("Overdue"))
    if late is None:
        return stmt
    day = query.today or local_today()
    return stmt.where(Invoice.overdue_on(day) if late else Invoice.not_overdue_on(day))


def _apply_flag_filter(query: ListQuery, stmt: Select, name: str, column: Any,
                       args: Any) -> Select:
    """`done=true`: the column is set; `done=false`: it is not."""
    flag = _bool_arg(query, args, name, name)
    if flag is None:
        return stmt
    return stmt.where(column.isnot(None) if flag else column.is_(None))


def custom_filter_names(cf: CustomField) -> tuple[str, ...]:
    """The arguments that filter on a custom field: a range for dates and numbers."""
    name = f"cf_{cf.key}"
    if cf.type == "date":
        return f"{name}_from", f"{name}_to"
    if cf.type in NUMBER_TYPES:
        return f"{name}_min", f"{name}_max"
    return (name,)


def _apply_custom_filter(query: ListQuery, stmt: Select, cf: CustomField, args: Any) -> Select:
    name = f"cf_{cf.key}"
    value = query.entity.model.custom[cf.key]
    label = cf.label(str(get_locale() or "fr"))
    if cf.type == "date":
        low, high = _range(query, args, name, parse_date, label)
        if low is not None:
            stmt = stmt.where(value.as_string() >= low.isoformat())
        if high is not None:
            stmt = stmt.where(value.as_string() <= high.isoformat())
        return stmt
    if cf.type in NUMBER_TYPES:
        low, high = _range(query, args, name, parse_decimal, label)
        # Decimals are stored as JSON strings ("2.5"): cast, or SQLite compares text to numbers.
        number = cast(value.as_string(), Float)
        if low is not None:
            stmt = stmt.where(number >= float(low))
        if high is not None:
            stmt = stmt.where(number <= float(high))
        return stmt
    if cf.type == "boolean":
        flag = _bool_arg(query, args, name, label)
        if flag is None:
            return stmt
        return stmt.where(value.as_boolean().is_(flag) if flag else
                          func.coalesce(value.as_boolean(), False).is_(False))
    raw = (args.get(name) or "").strip()[:MAX_QUERY]
    if not raw:
        return stmt
    query.active[name] = raw
    if cf.type == "choice":
        return stmt.where(value.as_string() == raw)
    if cf.type == "multi_choice":
        # Stored as a JSON list; its text holds each choice in double quotes, with non-ASCII
        # letters escaped (SQLite keeps json.dumps's \\u00e9) or not (PostgreSQL's jsonb).
        listed = value.as_string()
        return stmt.where(or_(*(listed.contains(quoted, autoescape=True) for quoted in
                                {json.dumps(raw), json.dumps(raw, ensure_ascii=False)})))
    return stmt.where(value.as_string().icontains(raw, autoescape=True))


def _apply_sort(query: ListQuery, sort: str) -> None:
    entity = query.entity
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    allowed = set(entity.sortable) | {"created_at", "id"}
    if name not in allowed or not hasattr(entity.model, name):
        sort = entity.default_sort
        descending = sort.startswith("-")
        name = sort.lstrip("-")
    query.sort, query.descending = ("-" if descending else "") + name, descending
    query.sort_column = getattr(entity.model, name)


def count_capped(stmt: Select, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """Count rows up to `cap` (exact counts of million-row lists are slow and seldom useful)."""
    # Only the primary key: an index-only scan, where SQLite would otherwise read every row.
    sub = stmt.order_by(None).with_only_columns(*_primary_key(stmt)).limit(cap + 1).subquery()
    total = db.session.scalar(select(func.count()).select_from(sub)) or 0
    return min(total, cap), total > cap


def _primary_key(stmt: Select) -> list[Any]:
    """The primary key attributes of the statement's entity (ORM ones, so tenancy applies)."""
    entity = stmt.column_descriptions[0]["entity"]
    if entity is None:
        return list(stmt.selected_columns)
    mapper = sa_inspect(entity).mapper
    return [getattr(entity, mapper.get_property_by_column(c).key) for c in mapper.primary_key]


def as_decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))
