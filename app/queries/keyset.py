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
from app.models.base import MAX_ID, as_utc

# Beyond what any sorted column holds; larger values overflow PostgreSQL's numeric.
CURSOR_NUMBER_LIMIT = Decimal("1e15")
# Past what any cursor handed out measures (a 255-character text value, escaped and encoded).
MAX_CURSOR_LENGTH = 4096


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


class InvalidCursor(ValueError):
    """A cursor that no page of this list handed out: edited, cut, or of another sort."""


def decode_cursor(cursor: str, column: Any) -> tuple[Any, int]:
    """The (value, id) a cursor for `column` holds; InvalidCursor when it holds anything else."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor(cursor[:50])
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    # RecursionError: a JSON array nested thousands deep (the decoder recurses).
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidCursor(cursor[:50]) from exc
    if not isinstance(decoded, list) or len(decoded) != 2:
        raise InvalidCursor(cursor[:50])
    value, record_id = decoded
    if not _is_id(record_id) or isinstance(value, bool) \
            or not isinstance(value, str | int | float | None):
        raise InvalidCursor(cursor[:50])
    try:
        return (None if value is None else _typed(value, column.type.python_type)), record_id
    except (ValueError, TypeError, ArithmeticError, NotImplementedError) as exc:
        raise InvalidCursor(cursor[:50]) from exc


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_ID


def _typed(value: str | int | float, python_type: type) -> Any:
    """A cursor's value as the column holds it; ValueError when it cannot be one."""
    if python_type is date:
        return date.fromisoformat(value)  # type: ignore[arg-type]
    if python_type is datetime:
        return as_utc(datetime.fromisoformat(value))  # type: ignore[arg-type]
    if python_type is Decimal:
        number = Decimal(str(value))
        if not number.is_finite() or abs(number) >= CURSOR_NUMBER_LIMIT:
            raise ValueError(value)
        return number
    if python_type is int:
        number = int(value)
        if abs(number) > MAX_ID:
            raise ValueError(value)
        return number
    if not isinstance(value, str):
        raise ValueError(value)
    # NUL is refused by PostgreSQL; a lone surrogate cannot be encoded to send it.
    if "\x00" in value:
        raise ValueError(value)
    value.encode()
    return value


def keyset_page(
    stmt: Select, column: Any, id_column: Any, *, descending: bool, size: int,
    after: str | None = None, before: str | None = None,
) -> Page:
    """One page of `stmt`, after or before a cursor; InvalidCursor when it is not one."""
    nullable = getattr(column, "nullable", True) and column is not id_column
    segments = [False, True] if nullable else [False]  # is-null segment flags, in order
    cursor, backwards = None, False
    if before:
        cursor, backwards = decode_cursor(before, column), True
    elif after:
        cursor = decode_cursor(after, column)
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
