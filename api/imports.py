"""/api/v1/imports: upload a file to import (202: the run goes on outside the request),
follow runs, read their errors as JSON or as the CSV a tenant fixes and sends back."""
from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _

from api.auth import current_principal, peek_token, requires
from api.blueprint import Blueprint
from api.pagination import cursor_page
from api.schemas.imports import (
    ERRORS_SHOWN,
    ErrorSummaryQueryArgsSchema,
    ErrorSummarySchema,
    ImportErrorsQueryArgsSchema,
    ImportRevertArgsSchema,
    ImportRevertSchema,
    ImportRowErrorSchema,
    ImportRunCreateSchema,
    ImportRunQueryArgsSchema,
    ImportRunSchema,
    ImportRunSummarySchema,
    run_fields,
)
from app.errors import ValidationError
from app.extensions import db
from app.models import ImportRowError, ImportRun
from app.policies import get_visible_or_404
from app.queries.error_groups import error_summary, group_first, in_group
from app.queries.feeds import errors_select, find_profile, first_errors, runs_select
from app.services.feeds import create_run
from app.services.import_revert import plan_revert, request_revert
from app.web.downloads import download
from app.web.transactions import transaction
from importers import jobs
from importers.errors_csv import stream_errors_csv

blp = Blueprint("imports", __name__, url_prefix="/api/v1/imports", tenant_wide=True,
                description="Import runs: upload a file through an import profile, follow "
                            "the run, read its errors.")
MULTIPART_OVERHEAD = 1024 * 1024
CSV = "text/csv"
ERRORS_DESCRIPTION = ("A page of row errors; with Accept: text/csv, every failing row of the file "
                      "as it came, plus its line and error.")


@blp.url_value_preprocessor
def _allow_large_uploads(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Feeds are larger than the app's MAX_CONTENT_LENGTH. Raised here, for a valid token only,
    # because url_value_preprocessors run before every before_request and the app's own
    # before_request (the NUL-byte check) already reads the form.
    if endpoint == "imports.ImportViews" and request.method == "POST":
        found = peek_token()
        if found is not None and found[0].has_scope("import") and found[0].partner_id is None:
            request.max_content_length = (current_app.config["IMPORT_MAX_BYTES"]
                                          + MULTIPART_OVERHEAD)


def run_detail(run: ImportRun) -> dict[str, Any]:
    """The run with its first row errors."""
    errors = first_errors(run, ERRORS_SHOWN + 1)
    return {**run_fields(run), "errors": errors[:ERRORS_SHOWN],
            "more_errors": len(errors) > ERRORS_SHOWN}


def _run_or_404(run_id: int) -> ImportRun:
    return get_visible_or_404(ImportRun, run_id, current_principal())


@blp.route("")
class ImportViews(MethodView):
    @requires("import", "read")
    @blp.etag
    @blp.arguments(ImportRunQueryArgsSchema, location="query")
    @blp.response(200, ImportRunSummarySchema(many=True),
                  headers={"X-Pagination": "CURSOR_PAGINATION"})
    def get(self, args: dict[str, Any]) -> Any:
        """List import runs, newest first."""
        stmt = runs_select(current_principal(), args.get("status"), args.get("profile_id"),
                           args.get("source"))
        return cursor_page(stmt, ImportRun.id, ImportRun.id, args)

    @requires("import")
    @blp.arguments(ImportRunCreateSchema, location="multipart")
    @blp.response(202, ImportRunSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Upload a file and queue its import through a profile."""
        profile = find_profile(data["profile"])
        if profile is None:
            raise ValidationError({"profile": _("Unknown import profile.")})
        upload = data["file"]
        with transaction():
            run = create_run(profile, upload.stream, upload.filename or "", source="api",
                             dry_run=data["dry_run"], force=data["force"])
        jobs.queue_run(run)
        location = url_for("imports.ImportByIdViews", run_id=run.id)
        return run_detail(run), {"Location": location}


@blp.route("/<int:run_id>")
class ImportByIdViews(MethodView):
    @requires("import", "read")
    @blp.etag
    @blp.response(200, ImportRunSchema)
    def get(self, run_id: int) -> Any:
        """Get an import run: status, counts, progress and its first errors."""
        return run_detail(_run_or_404(run_id))


@blp.route("/<int:run_id>/revert")
class ImportRevertViews(MethodView):
    @requires("admin")
    @blp.arguments(ImportRevertArgsSchema, required=False)
    @blp.response(202, ImportRunSchema, description="The revert is queued: follow it at "
                  "the run's URL (Location), under `revert`.")
    @blp.alt_response(200, schema=ImportRevertSchema, success=True,
                      description="dry_run: what undoing the run would do; nothing changed.")
    def post(self, data: dict[str, Any], run_id: int) -> Any:
        """Queue the undoing of a finished run (admin scope); dry_run: what it would do."""
        run = _run_or_404(run_id)
        if data["dry_run"]:
            with transaction():
                plan = plan_revert(run)
            return jsonify(ImportRevertSchema().dump(
                {"run_id": run.id, "dry_run": True, **plan.summary()}))
        with transaction():
            request_revert(run)
        jobs.queue_revert(run)
        db.session.refresh(run)  # as the worker left it, if it was quick
        location = url_for("imports.ImportByIdViews", run_id=run.id)
        return run_detail(run), {"Location": location}


@blp.route("/<int:run_id>/errors")
class ImportErrorViews(MethodView):
    @requires("import", "read")
    @blp.arguments(ImportErrorsQueryArgsSchema, location="query")
    @blp.response(200, ImportRowErrorSchema(many=True), description=ERRORS_DESCRIPTION,
                  headers={"X-Pagination": "CURSOR_PAGINATION"})
    @blp.alt_response(200, schema={"type": "string"}, content_type=CSV, success=True,
                      description=ERRORS_DESCRIPTION)
    def get(self, args: dict[str, Any], run_id: int) -> Any:
        """List a run's row errors (JSON pages, or the whole CSV with Accept: text/csv)."""
        run = _run_or_404(run_id)
        if request.accept_mimetypes.best_match(["application/json", CSV]) == CSV:
            return _errors_csv(run)
        stmt = errors_select(run)
        for name in ("group", "kind"):
            if args.get(name):
                first = group_first(run, args[name])
                if first is None:
                    raise ValidationError({name: _("No group of this run's errors has this "
                                                   "id.")})
                stmt = in_group(stmt, first, whole_kind=name == "kind")
        return cursor_page(stmt, ImportRowError.line, ImportRowError.id, args,
                           descending=False)


@blp.route("/<int:run_id>/errors/summary")
class ImportErrorSummaryViews(MethodView):
    @requires("import", "read")
    @blp.etag
    @blp.arguments(ErrorSummaryQueryArgsSchema, location="query")
    @blp.response(200, ErrorSummarySchema)
    def get(self, args: dict[str, Any], run_id: int) -> Any:
        """Count a run's row errors by kind: column, message and value, largest first."""
        return error_summary(_run_or_404(run_id), args["limit"])


def _errors_csv(run: ImportRun) -> Response:
    return download(stream_errors_csv(run), filename=f"import-{run.id}-errors.csv",
                    mimetype=CSV)
