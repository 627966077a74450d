"""What the back office's and the extranet's views share: entity lookup, list pages, exports,
files, audit trails."""
from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Response, abort, current_app, flash, send_file, stream_with_context, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.backoffice.export import stream_csv
from app.custom_fields import definitions
from app.entities import EDITABLE, ENTITIES, STATUS_LABELS, Entity, Field
from app.extensions import db
from app.models import Attachment, AuditEvent, CustomField
from app.policies import can_edit, get_visible_or_404, visible
from app.queries.keyset import InvalidCursor, Page, keyset_page
from app.queries.lists import ListQuery, build_list, count_capped
from app.services.attachments import storage_path
from app.tenancy import current_actor, current_tenant_id, tenant_context

EXPORT_BATCH = 2000
# Given some records, the (entity name, id) of their related records that may be shown.
RefAccess = Callable[[list[Any]], Container[tuple[str, int]]]


def list_url(query: Any, endpoint: str = "backoffice.record_list", **extra: Any) -> str:
    """The URL of a list (or its export) with its active filters and sort, plus `extra`."""
    params = {**query.active, "sort": query.sort, **extra}
    return url_for(endpoint, entity_name=query.entity.name, **params)


def csv_response(entity: Entity, header: list[str], rows: Iterator[list[Any]]) -> Response:
    """A list's export as a streamed CSV download named after the entity and the day."""
    filename = f"{entity.name}-{date.today().isoformat()}.csv"
    return Response(stream_with_context(stream_csv(header, rows)),
                    mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def attachment_file(attachment_id: int) -> Response:
    """Send an attachment the current user may see (404 otherwise), always as a download."""
    attachment = get_visible_or_404(Attachment, attachment_id, current_user)
    path = storage_path(current_tenant_id(), attachment.sha256)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype=attachment.media_type, as_attachment=True,
                     download_name=attachment.file_name, max_age=0)


def view_entity(name: str, *, editable: bool = False) -> Entity:
    if name not in ENTITIES or (editable and name not in EDITABLE):
        abort(404)
    return ENTITIES[name]


def require_editor() -> None:
    if not can_edit(current_user):
        abort(403)


def custom_columns(entity: Entity) -> list[CustomField]:
    """The custom fields shown to the current user: agents and subscribers see only those
    marked visible in the extranet."""
    fields = definitions(entity.name)
    if current_user.is_authenticated and not current_user.is_staff:
        fields = [f for f in fields if f.is_portal_visible]
    return fields


def list_page(entity: Entity, args: Any, *, query: ListQuery | None = None,
              fields: Sequence[Field] | None = None) -> dict[str, Any]:
    """What a list page shows; the extranet passes its own query and fields."""
    custom = custom_columns(entity)
    query = query or build_list(entity, args, current_user, custom)
    fields = entity.fields if fields is None else fields
    size = current_app.config["PAGE_SIZE"]
    page = first_page_unless_valid(
        lambda after, before: keyset_page(query.stmt, query.sort_column, entity.model.id,
                                          descending=query.descending, size=size,
                                          after=after, before=before), args)
    total, capped = count_capped(query.stmt)
    return {
        "entity": entity, "query": query, "page": page, "total": total, "capped": capped,
        "custom_fields": custom, "columns": [f for f in fields if f.in_list],
        "filters": [f for f in fields if f.filter], "can_edit": can_edit(current_user),
        "status_labels": STATUS_LABELS,
    }


def first_page_unless_valid(read: Callable[[str | None, str | None], Page], args: Any) -> Page:
    """The page `read(after, before)` gives for the request's cursor; for a cursor no page gave
    (edited, cut, from another sort), the first page and a message, as a stale link would."""
    try:
        return read(args.get("after"), args.get("before"))
    except InvalidCursor:
        flash(_("This link to a page of the list is no longer valid: here is the first page."),
              "warning")
        return read(None, None)


def export_rows(entity: Entity, args: Any, *, query: ListQuery | None = None,
                columns: Sequence[Field] | None = None, refs: RefAccess | None = None
                ) -> tuple[list[str], Iterator[list[Any]]]:
    """The header and rows of a filtered list's export (every column, custom fields too).

    The extranet passes its query, its columns and `refs`: given a batch of records, the
    (entity name, id) of the related records that may be named (the others are left blank).
    """
    fields = custom_columns(entity)
    query = query or build_list(entity, args, current_user, fields)
    columns = entity.fields if columns is None else columns
    locale = str(get_locale() or "fr")
    header = ["id", *[str(f.label) for f in columns], *[cf.label(locale) for cf in fields]]
    limit = current_app.config["EXPORT_MAX_ROWS"]

    tenant_id, actor = current_tenant_id(), current_actor()

    def rows() -> Iterator[list[Any]]:
        # The response streams after the view returns: bind the tenant again while it does.
        with tenant_context(tenant_id, actor):
            yield from _export_pages(entity, query, columns, fields, limit, refs)

    return header, rows()


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
            yield [record.id, *[_cell(entity, f, record, shown) for f in columns],
                   *[_custom_cell(cf, (record.custom or {}).get(cf.key)) for cf in fields]]
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
        value = getattr(record, field.attr)
        return str(STATUS_LABELS.get(value, value))
    return getattr(record, field.attr)


def audit_changes(event: AuditEvent) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for display; custom values are flattened to `custom.<key>`."""
    before, after = dict(event.before or {}), dict(event.after or {})
    for state in (before, after):
        custom = state.pop("custom", None)
        for key, value in (custom or {}).items():
            state[f"custom.{key}"] = value
    changes = []
    for key in sorted(after.keys() | before.keys()):
        old, new = before.get(key), after.get(key)
        if key == "lines" or old != new or not before:
            changes.append((key, _display(old), _display(new)))
    return changes


def _display(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return f"{len(value)} ×"
        return ", ".join(map(str, value))
    return str(value)


def record_attachments(record_type: str, record_id: int) -> list[Attachment]:
    """The files attached to a record that the current user may see, newest first."""
    stmt = select(Attachment).where(Attachment.record_type == record_type,
                                    Attachment.record_id == record_id)
    return list(db.session.scalars(visible(stmt, Attachment, current_user)
                                   .order_by(Attachment.id.desc())))


def audit_trail(entity_name: str, record_id: int, limit: int = 50) -> list[AuditEvent]:
    """A record's history, for staff only (it names the tenant's users)."""
    if not current_user.is_authenticated or not current_user.is_staff:
        return []
    stmt = (select(AuditEvent)
            .where(AuditEvent.entity == entity_name, AuditEvent.record_id == record_id)
            .order_by(AuditEvent.id.desc()).limit(limit))
    return list(db.session.scalars(stmt))
