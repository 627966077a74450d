"""Import runs: the run as the API shows it, the upload that starts one, the list's filters."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import lazy_gettext as _l

from api.pagination import CursorPageArgsSchema, whole_number
from api.schemas.records import InputSchema
from api.schemas.uploads import FilePart
from app.models import RUN_SOURCES, RUN_STATUSES, ImportRowError, ImportRun
from app.models.base import MAX_ID
from app.models.feed import REVERT_STATUSES
from app.queries.error_groups import MAX_GROUPS, ErrorGroup, ErrorKind
from app.services.import_revert import revert_reason
from importers.row_messages import error_message, group_message, run_message

ERRORS_SHOWN = 100


class ImportRowErrorSchema(ma.Schema):
    """A row that did not go in."""

    line = ma.fields.Integer(metadata={"description": "Line number in the file."})
    column = ma.fields.String(allow_none=True)
    value = ma.fields.String(allow_none=True)
    message = ma.fields.String(metadata={
        "description": "What went wrong, in the language of the request (Accept-Language, "
                       "else the tenant's)."})
    code = ma.fields.String(allow_none=True, metadata={
        "description": "The message's id (its English text with %(name)s placeholders), "
                       "stable across languages; null for errors stored before ids existed."})
    params = ma.fields.Dict(metadata={
        "description": "The message's values: `value`, `choices` (the allowed values), "
                       "`expected` (the format expected), `field`, …"})

    @ma.pre_dump
    def _message(self, error: ImportRowError, **kwargs: Any) -> dict[str, Any]:
        return {"line": error.line, "column": error.column, "value": error.value,
                "message": error_message(error), "code": error.message_id,
                "params": error.message_params or {}}


class ImportErrorsQueryArgsSchema(CursorPageArgsSchema):
    """A page of a run's row errors, optionally of one group."""

    group = whole_number(MAX_ID, metadata={
        "description": "Only the errors of this group (a `group` of "
                       "/imports/{id}/errors/summary)."})
    kind = whole_number(MAX_ID, metadata={
        "description": "Only the errors of this kind, whatever their value (a `kind` of "
                       "/imports/{id}/errors/summary's `kinds`)."})


class ErrorSummaryQueryArgsSchema(ma.Schema):
    limit = whole_number(MAX_GROUPS, load_default=20,
                   metadata={"description": "Groups listed, largest first."})


class ErrorGroupSchema(ma.Schema):
    """Row errors of one kind: same column, same message and, when the message is about the
    cell's value, same value."""

    group = ma.fields.Integer(metadata={
        "description": "The group's id: pass it as `group` to /imports/{id}/errors."})
    count = ma.fields.Integer()
    column = ma.fields.String(allow_none=True)
    value = ma.fields.String(allow_none=True, metadata={
        "description": "The value the group is about; null when its message is not about one."})
    message = ma.fields.String(metadata={
        "description": "What went wrong, in the language of the request; values that differ "
                       "from row to row are written …."})
    code = ma.fields.String(allow_none=True, metadata={"description": "The message's id."})

    @ma.pre_dump
    def _group(self, group: ErrorGroup, **kwargs: Any) -> dict[str, Any]:
        first, by_value = group.first, group.by_value
        return {"group": first.id, "count": group.count, "column": first.column,
                "value": first.value if by_value else None,
                "message": group_message(first, by_value), "code": first.message_id}


class ErrorKindSchema(ma.Schema):
    """Row errors of one column and one message about the cell's value that several values
    fail ("No customer with the reference …"), whatever the value."""

    kind = ma.fields.Integer(metadata={
        "description": "The kind's id: pass it as `kind` to /imports/{id}/errors."})
    count = ma.fields.Integer()
    values = ma.fields.Integer(metadata={"description": "How many different values fail."})
    column = ma.fields.String(allow_none=True)
    message = ma.fields.String(metadata={
        "description": "What went wrong, in the language of the request; the values written "
                       "…."})
    code = ma.fields.String(allow_none=True, metadata={"description": "The message's id."})

    @ma.pre_dump
    def _kind(self, kind: ErrorKind, **kwargs: Any) -> dict[str, Any]:
        first = kind.first
        return {"kind": first.id, "count": kind.count, "values": kind.values,
                "column": first.column, "message": group_message(first, True, whole_kind=True),
                "code": first.message_id}


class ErrorSummarySchema(ma.Schema):
    """A run's row errors grouped by kind, largest groups first."""

    total = ma.fields.Integer(metadata={"description": "The run's row errors, in all."})
    groups = ma.fields.List(ma.fields.Nested(ErrorGroupSchema))
    more_groups = ma.fields.Boolean(metadata={
        "description": "True when the run has more groups than `limit`."})
    kinds = ma.fields.List(ma.fields.Nested(ErrorKindSchema), metadata={
        "description": "The messages about the value that several values fail, counted whole "
                       "(the ten largest): many values failing once each would otherwise be "
                       "as many groups of one."})


class RunCountsSchema(ma.Schema):
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    unchanged = ma.fields.Integer()
    fingerprinted = ma.fields.Integer(metadata={
        "description": "Of the unchanged rows, those recognised by the fingerprint their record "
                       "kept of them, without converting their cells."})
    failed = ma.fields.Integer()
    archived = ma.fields.Integer()
    attached = ma.fields.Integer(metadata={
        "description": "Files attached to records (an archive's documents), those they "
                       "replaced removed."})


class RunProgressSchema(ma.Schema):
    rows_done = ma.fields.Integer()
    rows_total = ma.fields.Integer(allow_none=True)


class RunFileSchema(ma.Schema):
    name = ma.fields.String()
    size = ma.fields.Integer(metadata={"description": "Bytes."})
    sha256 = ma.fields.String()


class RunProfileSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    version = ma.fields.Integer(metadata={"description": "The profile version the run used."})


class RunRevertSchema(ma.Schema):
    """A run's revert: a job, queued, then running, then done or failed (nothing changed: it
    may be asked again)."""

    status = ma.fields.String(validate=ma.validate.OneOf(REVERT_STATUSES))
    requested_at = ma.fields.DateTime(allow_none=True)
    requested_by = ma.fields.String(allow_none=True)
    message = ma.fields.String(allow_none=True, metadata={
        "description": "Why it failed."})
    counts = ma.fields.Nested("RevertCountsSchema", allow_none=True, metadata={
        "description": "What it did, once done; the records' ids are at GET /imports/{id}."})


class RunRevertDetailSchema(RunRevertSchema):
    """A run's revert with the ids of the records it deleted, archived, restored, brought
    back or left alone, once done."""

    result = ma.fields.Nested("ImportRevertResultSchema", allow_none=True)


class ImportRunSummarySchema(ma.Schema):
    """An import run in a list: its file, profile, status, counts and progress."""

    id = ma.fields.Integer()
    status = ma.fields.String(validate=ma.validate.OneOf(RUN_STATUSES))
    source = ma.fields.String(validate=ma.validate.OneOf(RUN_SOURCES))
    dry_run = ma.fields.Boolean()
    forced = ma.fields.Boolean()
    profile = ma.fields.Nested(RunProfileSchema)
    file = ma.fields.Nested(RunFileSchema)
    counts = ma.fields.Nested(RunCountsSchema)
    progress = ma.fields.Nested(RunProgressSchema)
    message = ma.fields.String(allow_none=True)
    started_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    reverted_at = ma.fields.DateTime(allow_none=True, metadata={
        "description": "When the run was reverted (POST /imports/{id}/revert), if it was."})
    reverted_by = ma.fields.String(allow_none=True)
    revert = ma.fields.Nested(RunRevertSchema, allow_none=True, metadata={
        "description": "Its revert, once asked (POST /imports/{id}/revert): null before."})
    diff_sample = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "Field-by-field changes of the first updated rows (dry runs too)."})

    @ma.pre_dump
    def _fields(self, run: ImportRun | dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return run if isinstance(run, dict) else run_fields(run)


class ImportRunSchema(ImportRunSummarySchema):
    """An import run: its file, profile, status, counts, progress and first errors."""

    revert = ma.fields.Nested(RunRevertDetailSchema, allow_none=True, metadata={
        "description": "Its revert, once asked (POST /imports/{id}/revert): null before."})

    errors = ma.fields.List(ma.fields.Nested(ImportRowErrorSchema), metadata={
        "description": f"The first {ERRORS_SHOWN} row errors; all at /imports/{{id}}/errors."})
    more_errors = ma.fields.Boolean(metadata={
        "description": f"True when the run has more than {ERRORS_SHOWN} row errors."})


def run_fields(run: ImportRun) -> dict[str, Any]:
    return {
        "id": run.id, "status": run.status, "source": run.source, "dry_run": run.is_dry_run,
        "forced": run.is_forced, "message": run_message(run),
        "started_by": run.started_by,
        "profile": {"id": run.profile_id, "name": run.profile.name if run.profile else None,
                    "version": run.profile_version},
        "file": {"name": run.file_name, "size": run.file_size, "sha256": run.sha256},
        "counts": {**run.counts, "fingerprinted": run.fingerprinted, "attached": run.attached},
        "progress": {"rows_done": run.rows_done, "rows_total": run.rows_total},
        "created_at": run.created_at, "started_at": run.started_at,
        "finished_at": run.finished_at, "diff_sample": run.diff_sample or [],
        "reverted_at": run.reverted_at, "reverted_by": run.reverted_by,
        "revert": revert_fields(run),
    }


def revert_fields(run: ImportRun) -> dict[str, Any] | None:
    if run.revert_status is None and run.reverted_at is None:
        return None
    summary = run.revert_summary if run.reverted_at is not None else None
    return {"status": run.revert_status or "done", "requested_at": run.revert_requested_at,
            "requested_by": (run.revert_actor or {}).get("label") or run.reverted_by,
            "message": revert_reason(run),
            "counts": (summary or {}).get("counts"), "result": summary}


class ImportRevertArgsSchema(InputSchema):
    """Options of a revert."""

    dry_run = ma.fields.Boolean(load_default=False, error_messages={
        "invalid": _l("Enter true or false."), "null": _l("Enter true or false.")}, metadata={
        "description": "Say what the revert would do, and change nothing."})


class RevertCountsSchema(ma.Schema):
    deleted = ma.fields.Integer()
    archived = ma.fields.Integer()
    restored = ma.fields.Integer()
    unarchived = ma.fields.Integer()
    skipped = ma.fields.Integer()


class ImportRevertResultSchema(ma.Schema):
    """What a revert did (or, dry run, would do), by record id."""

    entity = ma.fields.String()
    counts = ma.fields.Nested(RevertCountsSchema)
    runs = ma.fields.List(ma.fields.Integer(), metadata={
        "description": "The runs it undoes: this one, after the earlier goes of the same file "
                       "that were cut short (interrupted or failed, then run again)."})
    deleted = ma.fields.List(ma.fields.Integer(), metadata={
        "description": "Records the run created, deleted."})
    archived = ma.fields.List(ma.fields.Integer(), metadata={
        "description": "Records the run created that others refer to since: archived."})
    restored = ma.fields.List(ma.fields.Integer(), metadata={
        "description": "Records the run updated, given back their values of before it."})
    unarchived = ma.fields.List(ma.fields.Integer(), metadata={
        "description": "Records the run archived (full sync), brought back."})
    skipped = ma.fields.List(ma.fields.Integer(), metadata={
        "description": "Records changed since by someone else: left as they are."})


class ImportRevertSchema(ImportRevertResultSchema):
    """What a revert would do (dry run), by record id."""

    run_id = ma.fields.Integer()
    dry_run = ma.fields.Boolean()


class ImportRunCreateSchema(InputSchema):
    """The upload that starts a run (multipart/form-data)."""

    file = FilePart(required=True, metadata={"description": "The CSV or XLSX file."})
    profile = ma.fields.String(required=True, validate=ma.validate.Length(1, 100), metadata={
        "description": "The import profile, by name or id."})
    dry_run = ma.fields.Boolean(load_default=False, metadata={
        "description": "Compute everything, write nothing."})
    force = ma.fields.Boolean(load_default=False, metadata={
        "description": "Import even a file already imported by this profile."})


class ImportRunQueryArgsSchema(CursorPageArgsSchema):
    """Filters of the list of runs (newest first)."""

    status = ma.fields.String(validate=ma.validate.OneOf(RUN_STATUSES))
    profile_id = ma.fields.Integer(validate=ma.validate.Range(1, 2**31 - 1))
    source = ma.fields.String(validate=ma.validate.OneOf(RUN_SOURCES))
