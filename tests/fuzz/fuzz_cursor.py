"""A `cursor=` parameter as any client may send it, decoded for each kind of sort column
(app/queries/keyset.py): a cursor is refused only with InvalidCursor, and one that decodes is
written back to a cursor that decodes to the same value and id.

Input: a choice byte for the column's type, then the cursor's text.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import atheris

with atheris.instrument_imports(include=["app.queries.keyset"]):
    from app.queries import keyset

from tests.fuzz.common import pick


class _Column:
    """Just what the cursor decoder reads of a column: its Python type."""

    def __init__(self, python_type: type) -> None:
        self.type = type("T", (), {"python_type": python_type})()


COLUMNS = [_Column(t) for t in (str, int, Decimal, date, datetime)]


def fuzz(data: bytes) -> None:
    if not data:
        return
    column = pick(COLUMNS, data[0])
    cursor = data[1:].decode("utf-8", errors="replace")
    try:
        value, record_id = keyset.decode_cursor(cursor, column)
    except keyset.InvalidCursor:
        return
    assert isinstance(record_id, int)
    again = keyset.decode_cursor(keyset.encode_cursor(value, record_id), column)
    assert again == (value, record_id), (again, value, record_id)
