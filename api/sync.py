"""Reading changes for a sync: pages in ascending (time, id) order whose every page answers
the same X-Sync-Watermark, the time to pass as `updated_since` (or `since`) next time.

The watermark is the start of the read's first page minus a safety margin
(API_SYNC_MARGIN_SECONDS, 300 by default). A row's updated_at is stamped by the application
when its transaction writes, not when it commits: a transaction in flight while the pages are
read may commit a row stamped before the cursor's position, unseen. Its stamp is at most the
longest transaction (plus clock skew between servers) before its commit, hence after the
watermark: the next read catches it. Clients dedupe by (id, updated_at).
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request
from sqlalchemy import Select

from api.pagination import invalid_cursor
from app.queries.keyset import InvalidCursor, decode_cursor, keyset_page

WATERMARK_HEADER = "X-Sync-Watermark"
WATERMARK_DOC = {
    "description": "With updated_since, and on /deleted: the time to pass as updated_since "
                   "(or since) next time, the start of this read's first page minus a safety "
                   "margin, so that no row written during the read is missed (dedupe by id "
                   "and updated_at).",
    "schema": {"type": "string", "format": "date-time"},
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def watermark(started: datetime) -> datetime:
    margin = current_app.config["API_SYNC_MARGIN_SECONDS"]
    return started - timedelta(seconds=margin)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def changes_page(stmt: Select, column: Any, id_column: Any, args: dict[str, Any],
                 started: datetime) -> tuple[list[Any], dict[str, str]]:
    """One page of `stmt` in ascending (column, id) order and its headers; the cursor carries
    the first page's watermark."""
    after, mark = None, watermark(started)
    if args.get("cursor"):
        after, mark = _decode(args["cursor"], column)
    limit = args["limit"]
    page = keyset_page(stmt, column, id_column, descending=False, size=limit, after=after)
    next_cursor = None
    if page.next_cursor:
        micros = (mark - _EPOCH) // timedelta(microseconds=1)
        next_cursor = f"{page.next_cursor}.{micros}"
    headers = {"X-Pagination": json.dumps({"limit": limit, "next_cursor": next_cursor}),
               WATERMARK_HEADER: format_time(mark)}
    if next_cursor:
        query = {**request.args.to_dict(), "cursor": next_cursor, "limit": str(limit)}
        headers["Link"] = f'<{request.base_url}?{urlencode(query)}>; rel="next"'
    return page.rows, headers


def _decode(cursor: str, column: Any) -> tuple[str, datetime]:
    """The keyset cursor and the watermark a changes cursor carries; 422 when it is not one."""
    keyset, _dot, micros = cursor.rpartition(".")
    # The micros' 17 digits reach year 5138 at most: no overflow.
    if not keyset or not (micros.isascii() and micros.isdigit()) or len(micros) > 17:
        raise invalid_cursor()
    try:
        decode_cursor(keyset, column)
    except InvalidCursor as exc:
        raise invalid_cursor() from exc
    return keyset, _EPOCH + timedelta(microseconds=int(micros))
