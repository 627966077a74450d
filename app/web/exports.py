"""CSV exports of lists, written as French Excel reads them, streamed page by page."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Response, current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.clock import local_today
from app.csv_cells import safe_cell
from app.entities import ENTITIES, STATUS_LABELS, Entity, Field
from app.extensions import db
from app.models import CustomField, Invoice
from app.queries.keyset import keyset_page
from app.queries.lists import ListQuery, build_list
from app.values import local_zone
from app.web.downloads import download
from app.web.invoice_status import days_late, shown_status
from app.web.lists import custom_columns

EXPORT_BATCH = 2000
# Given some records, the (entity name, id) of their related records that may be shown.
RefAccess = Callable[[list[Any]], Container[tuple[str, int]]]


def excel_cell(value: Any) -> str:
    """A cell as French Excel reads it: decimal comma, dd/mm/yyyy, formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, Decimal | float):
        return format(value, "f").replace(".", ",")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):  # in local time, as feeds read it back
        local = value.astimezone(local_zone()) if value.tzinfo is not None else value
        return local.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return safe_cell(str(value))


def stream_csv(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """Yield a UTF-8 CSV with BOM, `;`-separated, CRLF line ends, one chunk per 500 rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([excel_cell(h) for h in header])
    for index, row in enumerate(rows, 1):
        writer.writerow([excel_cell(v) for v in row])
        if index % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(entity: Entity, header: list[str], rows: Iterable[list[Any]]) -> Response:
    """A list's export as a streamed CSV download named after the entity and the day."""
    filename = f"{entity.name}-{date.today().isoformat()}.csv"
    return download(stream_csv(header, rows), filename=filename,
                    mimetype="text/csv")


def export_rows(entity: Entity, args: Any, *, query: ListQuery | None = None,
                columns: Sequence[Field] | None = None, refs: RefAccess | None = None
                ) -> tuple[list[str], Iterator[list[Any]]]:
    """The header and rows of a filtered list's export (every column, custom fields too); the
    rows are read as they are sent (csv_response).

    The extranet passes its query, its columns and `refs`: given a batch of records, the
    (entity name, id) of the related records that may be named (the others are left blank).
    """
    fields = custom_columns(entity)
    query = query or build_list(entity, args, current_user, fields, today=local_today())
    columns = entity.fields if columns is None else columns
    locale = str(get_locale() or "fr")
    # No internal id: a person reads the number or name, and an integrator matches on the
    # external reference, both among the columns.
    header = [*[str(f.label) for f in columns], *[cf.label(locale) for cf in fields]]
    if entity.model is Invoice:
        header.append(_("Days late"))  # empty when not overdue
    limit = current_app.config["EXPORT_MAX_ROWS"]
    return header, _export_pages(entity, query, columns, fields, limit, refs)


def _export_pages(entity: Entity, query: Any, columns: Sequence[Field],
                  fields: list[CustomField], limit: int,
                  refs: RefAccess | None) -> Iterator[list[Any]]:
    cursor, sent = None, 0
    while sent < limit:
        page = keyset_page(query.stmt, query.sort_column, entity.model.id,
                           descending=query.descending, size=min(EXPORT_BATCH, limit - sent),
                           after=cursor)
        shown = refs(page.rows) if refs is not None else None
        for record in page.rows:
            row = [*[_cell(entity, f, record, shown) for f in columns],
                   *[_custom_cell(cf, (record.custom or {}).get(cf.key)) for cf in fields]]
            if isinstance(record, Invoice):
                row.append(days_late(record))
            yield row
        sent += len(page.rows)
        db.session.expunge_all()
        if not page.next_cursor:
            break
        cursor = page.next_cursor


def _custom_cell(cf: CustomField, value: Any) -> Any:
    """A stored custom value as its type, so the export writes 12,50 and dd/mm/yyyy."""
    try:
        if cf.type in ("decimal", "money") and value is not None:
            return Decimal(str(value))
        if cf.type == "date" and isinstance(value, str):
            return date.fromisoformat(value)
    except (ArithmeticError, ValueError):
        pass
    return value


def _cell(entity: Entity, field: Any, record: Any, shown: Container | None = None) -> Any:
    if field.type == "ref":
        ref_id = getattr(record, field.attr)
        if ref_id is None or (shown is not None and (field.ref, ref_id) not in shown):
            return None
        related = getattr(record, field.name)
        if related is None:
            return None
        if field.ref == "users":
            return related.email
        return getattr(related, ENTITIES[field.ref].title_attr, None) or related.external_ref
    if field.type == "choice":
        value = shown_status(record, field.name, getattr(record, field.attr))
        return str(STATUS_LABELS.get(value, value))
    return getattr(record, field.attr)
