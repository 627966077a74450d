"""/api/v1/<entity>: one collection per record type, generated from app/entities.py.

Each has a list (filters, search, sort, cursor pages, changes since a time), creation, and
reading, change and deletion by id or by external_ref (`/by-ref/<external_ref>`), plus the
records deleted since a time (`/deleted`). Invoices are never deleted: DELETE cancels them.
Attachments are read-only here (metadata and `/content`); files are attached in the web UI.
Quotes, orders, invoices, deliveries and contracts have their printed document at `/<id>/pdf`.
"""
from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask import abort, g, send_file, url_for
from flask.views import MethodView
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_smorest import Api
from werkzeug.exceptions import Conflict

from api.auth import current_principal, requires
from api.blueprint import Blueprint
from api.bulk import bulk_upsert
from api.record_data import client_errors, present_one, service_data
from api.record_lists import list_records
from api.schemas.bulk import BulkResultSchema, bulk_request_schema
from api.schemas.records import (
    DeletedQueryArgsSchema,
    DeletedRecordSchema,
    RecordSchemas,
    english,
    record_schemas,
)
from api.sync import WATERMARK_DOC, changes_page
from app.documents import LANGUAGES, MEDIA_TYPE, PRINTABLE, document_pdf
from app.entities import EDITABLE, ENTITIES, Entity
from app.errors import ValidationError
from app.extensions import csrf
from app.models import AuditEvent
from app.policies import get_visible_by_ref_or_404, get_visible_or_404
from app.queries.deletions import deleted_records
from app.services.attachments import storage_path
from app.services.records import create_record, delete_record, update_record
from app.tenancy import current_tenant_id
from app.web.transactions import transaction

LIST_HEADERS = {"X-Pagination": "CURSOR_PAGINATION", "X-Sync-Watermark": WATERMARK_DOC}
CANCELLED_BY_DELETE = {"invoices"}


def install_records(api: Api) -> None:
    """Register one blueprint per entity."""
    for entity in ENTITIES.values():
        blueprint = _blueprint(entity)
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)  # bearer tokens, never cookies: no CSRF to fear


def _doc(text: str) -> Any:
    """Set a view's docstring (its OpenAPI summary) before the other decorators copy it."""

    def decorate(func: Any) -> Any:
        func.__doc__ = text
        return func

    return decorate


def _by_id(entity: Entity, record_id: int) -> Any:
    return get_visible_or_404(entity.model, record_id, current_principal())


def _by_ref(entity: Entity, external_ref: str) -> Any:
    return get_visible_by_ref_or_404(entity.model, external_ref, current_principal())


def _create(entity: Entity, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    principal = current_principal()
    data, names = service_data(entity, body, principal, creating=True)
    try:
        with transaction():
            record = create_record(entity, data)
    except ValidationError as exc:
        raise client_errors(exc, names) from exc
    location = url_for(f"{entity.name}.{entity.model.__name__}ByIdViews", record_id=record.id)
    return present_one(entity, record, principal), {"Location": location}


def _patch(entity: Entity, blp: Blueprint, schemas: RecordSchemas, record: Any,
           body: dict[str, Any]) -> dict[str, Any]:
    principal = current_principal()
    blp.check_etag(present_one(entity, record, principal), schemas.output)
    data, names = service_data(entity, body, principal, creating=False)
    try:
        with transaction():
            update_record(record, data, partial=True)
    except ValidationError as exc:
        raise client_errors(exc, names) from exc
    return present_one(entity, record, principal)


def _delete(entity: Entity, blp: Blueprint, schemas: RecordSchemas, record: Any) -> Any:
    principal = current_principal()
    blp.check_etag(present_one(entity, record, principal), schemas.output)
    if entity.name in CANCELLED_BY_DELETE:
        with transaction():
            update_record(record, {"status": "cancelled"}, partial=True)
        return present_one(entity, record, principal)
    try:
        with transaction():
            delete_record(record)
    except ValidationError as exc:  # still used (a customer with documents): say why
        raise Conflict(" ".join(str(m) for m in exc.errors.values())) from exc
    return None


def _deleted(entity: Entity, args: dict[str, Any]) -> tuple[list[dict[str, Any]], dict]:
    started = datetime.now(UTC)
    stmt = deleted_records(entity.name, current_principal(), args["since"])
    events, headers = changes_page(stmt, AuditEvent.created_at, AuditEvent.id, args, started)
    return [{"id": e.record_id, "external_ref": (e.before or {}).get("external_ref"),
             "deleted_at": e.created_at} for e in events], headers


def _blueprint(entity: Entity) -> Blueprint:
    name = entity.model.__name__
    writable = entity.name in EDITABLE
    plural, singular = english(entity.label).lower(), english(entity.singular).lower()
    singular = f"{'an' if singular[0] in 'aeiou' else 'a'} {singular}"
    schemas = record_schemas(entity, name, writable=writable)
    blp = Blueprint(entity.name, __name__, url_prefix=f"/api/v1/{entity.name}",
                    description=_description(entity, plural, writable))
    output = schemas.output

    @requires("read")
    @blp.etag
    @blp.arguments(schemas.query, location="query")
    @blp.response(200, output(many=True), headers=LIST_HEADERS)
    @_doc(f"List {plural} (filters, search, sort; changes with updated_since).")
    def get_list(self: Any, args: dict[str, Any]) -> Any:
        return list_records(entity, args)

    @requires("read")
    @blp.arguments(DeletedQueryArgsSchema, location="query")
    @blp.response(200, DeletedRecordSchema(many=True), headers=LIST_HEADERS)
    @_doc(f"List the {plural} deleted since a time, oldest first.")
    def get_deleted(self: Any, args: dict[str, Any]) -> Any:
        return _deleted(entity, args)

    views: dict[str, dict[str, Any]] = {"Views": {"get": get_list},
                                        "DeletedViews": {"get": get_deleted}}
    if writable:
        views["Views"]["post"] = _post(entity, blp, schemas, singular)
        views["BulkViews"] = {"post": _bulk(entity, blp, schemas, name, plural)}
    for suffix, load, how in (("ByIdViews", _by_id, ""),
                              ("ByRefViews", _by_ref, " by its external reference")):
        views[suffix] = _one_views(entity, blp, schemas, load, f"{singular}{how}", writable)
    rules = {"Views": "", "DeletedViews": "/deleted", "BulkViews": "/bulk",
             "ByIdViews": "/<int:record_id>", "ByRefViews": "/by-ref/<path:external_ref>"}
    if entity.name == "attachments":
        views["ContentViews"] = {"get": _content(entity, blp)}
        rules["ContentViews"] = "/<int:record_id>/content"
    if entity.name in PRINTABLE:
        views["PdfViews"] = {"get": _pdf(entity, blp, singular)}
        rules["PdfViews"] = "/<int:record_id>/pdf"
    for suffix, methods in views.items():
        blp.route(rules[suffix])(type(f"{name}{suffix}", (MethodView,), methods))
    return blp


def _created_links(entity: Entity) -> dict[str, Any]:
    """OpenAPI links from a creation to the new record's read, change and deletion, so that
    clients and stateful testers can follow them."""
    item = f"#/paths/~1api~1v1~1{entity.name}~1{{record_id}}"
    by_id = {"record_id": "$response.body#/id"}
    return {"links": {
        "GetCreated": {"operationRef": f"{item}/get", "parameters": by_id,
                       "description": "Read the record just created."},
        "ChangeCreated": {"operationRef": f"{item}/patch", "parameters": by_id,
                          "description": "Change the record just created."},
        "DeleteCreated": {"operationRef": f"{item}/delete", "parameters": by_id,
                          "description": "Delete (or, for invoices, cancel) it."}}}


def _post(entity: Entity, blp: Blueprint, schemas: RecordSchemas, singular: str) -> Any:
    @requires("write")
    @blp.arguments(schemas.create)
    @blp.response(201, schemas.output)
    @blp.doc(responses={201: _created_links(entity)})
    @_doc(f"Create {singular}.")
    def post(self: Any, body: dict[str, Any]) -> Any:
        return _create(entity, body)

    return post


def _bulk(entity: Entity, blp: Blueprint, schemas: RecordSchemas, name: str,
          plural: str) -> Any:
    @requires("write")
    @blp.arguments(bulk_request_schema(schemas.bulk_item, f"{name}BulkSchema"))
    @blp.response(200, BulkResultSchema)
    @_doc(f"Create or update up to 10,000 {plural} by external_ref; one result per item.")
    def post(self: Any, body: dict[str, Any]) -> Any:
        return bulk_upsert(entity, body["items"])

    return post


def _one_views(entity: Entity, blp: Blueprint, schemas: RecordSchemas, load: Any, what: str,
               writable: bool) -> dict[str, Any]:
    """GET, and PATCH and DELETE when writable, of one record found by `load`."""
    output = schemas.output

    @requires("read")
    @blp.etag
    @blp.response(200, output)
    @blp.alt_response(404, response="NOT_FOUND")
    @_doc(f"Get {what}.")
    def get(self: Any, **key: Any) -> Any:
        return present_one(entity, load(entity, *key.values()), current_principal())

    if not writable:
        return {"get": get}

    @requires("write")
    @blp.etag
    @blp.arguments(schemas.update)
    @blp.response(200, output)
    @blp.alt_response(404, response="NOT_FOUND")
    @_doc(f"Change some fields of {what}.")
    def patch(self: Any, body: dict[str, Any], **key: Any) -> Any:
        return _patch(entity, blp, schemas, load(entity, *key.values()), body)

    if entity.name in CANCELLED_BY_DELETE:
        summary = f"Cancel {what}: its status becomes cancelled ({entity.name} are never " \
                  "deleted)."
        response = blp.response(200, output)
    else:
        summary = f"Delete {what}; 409 while other records use it."
        response = blp.response(204)

    @requires("write")
    @blp.etag
    @response
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @_doc(summary)
    def delete(self: Any, **key: Any) -> Any:
        return _delete(entity, blp, schemas, load(entity, *key.values()))

    return {"get": get, "patch": patch, "delete": delete}


def _content(entity: Entity, blp: Blueprint) -> Any:
    @requires("read")
    @blp.response(200, {"type": "string", "format": "binary"},
                  content_type="application/octet-stream")
    @blp.alt_response(404, response="NOT_FOUND")
    @_doc("Download an attachment's file.")
    def get(self: Any, record_id: int) -> Any:
        attachment = _by_id(entity, record_id)
        path = storage_path(current_tenant_id(), attachment.sha256)
        if not path.exists():
            abort(404)
        return send_file(path, mimetype=attachment.media_type, as_attachment=True,
                         download_name=attachment.file_name, max_age=0)

    return get


class PdfQueryArgsSchema(ma.Schema):
    lang = ma.fields.String(validate=ma.validate.OneOf(
        LANGUAGES, error=_l("Choose fr or en.")), metadata={
        "description": "The document's language; by default the Accept-Language header's, "
                       "else the tenant's."})


def _pdf(entity: Entity, blp: Blueprint, singular: str) -> Any:
    @requires("read")
    @blp.arguments(PdfQueryArgsSchema, location="query")
    @blp.response(200, {"type": "string", "format": "binary"}, content_type=MEDIA_TYPE)
    @blp.alt_response(404, response="NOT_FOUND")
    @_doc(f"Download {singular} as a PDF document (the tenant's layout, logo and legal "
          "mentions).")
    def get(self: Any, args: dict[str, Any], record_id: int) -> Any:
        record = _by_id(entity, record_id)
        language = args.get("lang") or str(get_locale())[:2]
        pdf = document_pdf(entity.name, record, g.tenant, language, current_principal())
        response = send_file(io.BytesIO(pdf.content), mimetype=MEDIA_TYPE, as_attachment=True,
                             download_name=pdf.filename, max_age=0)
        response.headers["Cache-Control"] = "private, no-store"
        return response

    return get


def _description(entity: Entity, plural: str, writable: bool) -> str:
    text = (f"{plural.capitalize()}: list, read by id or by external reference, and read the "
            "deleted ones since a time.")
    if not writable:
        return text + " Read-only: files are attached in the web interface."
    text = (f"{plural.capitalize()}: list, create, read, change and delete, by id or by "
            "external reference; read the deleted ones since a time.")
    if entity.name in CANCELLED_BY_DELETE:
        text += f" {plural.capitalize()} are never deleted: DELETE cancels them."
    return text

