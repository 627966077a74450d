"""Cursor pagination for API lists: `limit` and an opaque `cursor`; the next page's cursor
comes back in the X-Pagination header (JSON, part of the ETag) and a `Link: rel="next"`."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import marshmallow as ma
from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select

from app.errors import ValidationError
from app.queries.keyset import MAX_CURSOR_LENGTH, InvalidCursor, keyset_page

MAX_LIMIT = 500

PAGINATION_HEADER = {
    "description": 'Cursor pagination: {"limit": n, "next_cursor": "…" or null}. Pass '
                   "next_cursor as `cursor` to read the next page.",
    "schema": {"type": "string"},
}


def whole_number(most: int, **kwargs: Any) -> ma.fields.Integer:
    """A whole number from 1 to `most`, refused in the reader's language."""
    return ma.fields.Integer(
        validate=ma.validate.Range(1, most, error=_l("Enter a whole number from 1 to %(n)d.",
                                                      n=most)),
        error_messages={"invalid": _l("Enter a whole number."),
                        "null": _l("Enter a whole number.")}, **kwargs)


CURSOR_NOT_VALID = _l("This cursor is not valid: start again without it.")


class CursorPageArgsSchema(ma.Schema):
    """`limit` and `cursor` query arguments, mixed into every list's query schema."""

    limit = whole_number(MAX_LIMIT, load_default=50, metadata={"description": "Rows per page."})
    cursor = ma.fields.String(validate=ma.validate.Length(max=MAX_CURSOR_LENGTH,
                                                          error=CURSOR_NOT_VALID),
                              error_messages={"invalid": CURSOR_NOT_VALID},
                              metadata={"description": "next_cursor of the previous page."})


def invalid_cursor() -> ValidationError:
    return ValidationError({"cursor": _("This cursor is not valid: start again without it.")})


def cursor_page(stmt: Select, column: Any, id_column: Any, args: dict[str, Any], *,
                descending: bool = True) -> tuple[list[Any], dict[str, str]]:
    """One page of `stmt` and its pagination headers; a malformed cursor is a 422."""
    cursor, limit = args.get("cursor"), args["limit"]
    try:
        page = keyset_page(stmt, column, id_column, descending=descending, size=limit,
                           after=cursor)
    except InvalidCursor as exc:
        raise invalid_cursor() from exc
    headers = {"X-Pagination": json.dumps({"limit": limit, "next_cursor": page.next_cursor})}
    if page.next_cursor:
        query = {**request.args.to_dict(), "cursor": page.next_cursor, "limit": str(limit)}
        headers["Link"] = f'<{request.base_url}?{urlencode(query)}>; rel="next"'
    return page.rows, headers
