"""Keyset (cursor) pagination that stays fast deep into million-row lists.

Rows are ordered by (column, id) in the chosen direction with NULL values last; the NULL
rows form a second segment ordered by id. Every page is one or two index range scans.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, literal, tuple_

from app.extensions import db
from app.models.base import MAX_ID

# Beyond what any sorted column holds; larger values overflow PostgreSQL's numeric.
CURSOR_NUMBER_LIMIT = Decimal("1e15")


@dataclass
class Page:
    rows: list[Any]
    next_cursor: str | None
    prev_cursor: str | None


def encode_cursor(value: Any, record_id: int) -> str:
    if isinstance(value, date | datetime):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = str(value)
    raw = json.dumps([value, record_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, column: Any) -> tuple[Any, int] | None:
    """Decode a cursor for `column`; None when it is malformed (the list restarts)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, record_id = json.loads(raw)
        if not isinstance(record_id, int) or isinstance(record_id, bool) \
                or abs(record_id) > MAX_ID:
            return None
        if value is not None:
            python_type = column.type.python_type
            if python_type is date:
                value = date.fromisoformat(value)
            elif python_type is datetime:
                value = datetime.fromisoformat(value)
            elif python_type is Decimal:
                value = Decimal(str(value))
                if not value.is_finite() or abs(value) >= CURSOR_NUMBER_LIMIT:
                    return None
            elif python_type is int:
                value = int(value)
                if abs(value) > MAX_ID:
                    return None
            else:
                value = str(value)
                if "\x00" in value:
                    return None
        return value, record_id
    except (ValueError, TypeError, ArithmeticError, NotImplementedError, json.JSONDecodeError,
            UnicodeDecodeError):
        return None


def keyset_page(
    stmt: Select, column: Any, id_column: Any, *, descending: bool, size: int,
    after: str | None = None, before: str | None = None,
) -> Page:
    """One page of `stmt`, after or before a cursor."""
    nullable = getattr(column, "nullable", True) and column is not id_column
    segments = [False, True] if nullable else [False]  # is-null segment flags, in order
    cursor, backwards = None, False
    if before:
        cursor, backwards = decode_cursor(before, column), True
    elif after:
        cursor = decode_cursor(after, column)
    if cursor is None:
        backwards = False
    start = 0 if cursor is None or cursor[0] is not None else 1
    order = range(start, -1, -1) if backwards else range(start, len(segments))
    rows: list[Any] = []
    for position, index in enumerate(order):
        is_null = segments[index]
        bound = cursor if position == 0 else None
        rows += _segment(stmt, column, id_column, is_null, nullable, descending != backwards,
                         bound, size + 1 - len(rows))
        if len(rows) > size:
            break
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    has_next = more if not backwards else True
    has_prev = more if backwards else cursor is not None
    if not rows:
        return Page([], None, None)
    key = column.key
    first, last = rows[0], rows[-1]
    return Page(
        rows,
        encode_cursor(getattr(last, key), last.id) if has_next else None,
        encode_cursor(getattr(first, key), first.id) if has_prev else None,
    )


def _segment(stmt: Select, column: Any, id_column: Any, is_null: bool, nullable: bool,
             descending: bool, bound: tuple[Any, int] | None, limit: int) -> list[Any]:
    if is_null:
        stmt = stmt.where(column.is_(None))
        if bound is not None:
            stmt = stmt.where(id_column < bound[1] if descending else id_column > bound[1])
        stmt = stmt.order_by(id_column.desc() if descending else id_column.asc())
    else:
        if nullable:
            stmt = stmt.where(column.isnot(None))
        if bound is not None and column is id_column:
            stmt = stmt.where(id_column < bound[1] if descending else id_column > bound[1])
        elif bound is not None:
            # Typed as the column, so SQLite compares datetimes in its own storage format.
            key = tuple_(column, id_column)
            other = tuple_(literal(bound[0], column.type), literal(bound[1], id_column.type))
            stmt = stmt.where(key < other if descending else key > other)
        if column is id_column:
            stmt = stmt.order_by(id_column.desc() if descending else id_column.asc())
        else:
            stmt = stmt.order_by(*(c.desc() if descending else c.asc()
                                   for c in (column, id_column)))
    return list(db.session.scalars(stmt.limit(limit)).unique())
