"""/api/v1/exports (definitions, admin tokens), /api/v1/export-runs (runs: start one, read
them, download their files again) and /api/v1/sftp-servers (where exports send and pulls
fetch). Tenant-wide tokens only."""

from __future__ import annotations

from typing import Any

from flask import Response, url_for
from flask.views import MethodView
from flask_smorest import abort

from api.auth import current_principal, requires
from api.blueprint import Blueprint
from api.pagination import CursorPageArgsSchema, cursor_page
from api.schemas.exports import (
    ExportRunQueryArgsSchema,
    ExportRunSchema,
    ExportSchema,
    ExportUpdateSchema,
    SftpServerSchema,
)
from app.models import Export, ExportRun, SftpServer
from app.policies import get_visible_or_404
from app.queries.exports import export_runs_select, exports_select
from app.services.exports import (
    create_export,
    delete_export,
    restart_changes,
    start_run,
    update_export,
)
from app.services.sftp_servers import create_sftp_server, delete_sftp_server
from app.web.transactions import transaction
from importers.export_files import MEDIA_TYPES
from importers.export_runs import run_file_path
from importers.scheduled import submit_run
from importers.sftp_client import fingerprint

blp = Blueprint(
    "exports",
    __name__,
    url_prefix="/api/v1/exports",
    tenant_wide=True,
    description="Exports: files of records sent on a schedule or on demand (docs/exports.md).",
)
runs_blp = Blueprint(
    "export-runs",
    __name__,
    url_prefix="/api/v1/export-runs",
    tenant_wide=True,
    description="Export runs: start one, follow it, download its file again.",
)
servers_blp = Blueprint(
    "sftp-servers",
    __name__,
    url_prefix="/api/v1/sftp-servers",
    tenant_wide=True,
    description="The tenant's own SFTP servers, for exports and pulls.",
)


def shown(export: Export) -> dict[str, Any]:
    options = export.destination_options or {}
    return {
        **{
            name: getattr(export, name)
            for name in (
                "id",
                "name",
                "entity",
                "columns",
                "headers",
                "filters",
                "format",
                "destination",
                "sftp_server_id",
                "schedule",
                "is_active",
                "next_run_at",
                "changes_since",
                "created_at",
                "updated_at",
            )
        },
        "changes_only": export.is_changes_only,
        "recipients": options.get("recipients", []),
        "folder": options.get("folder", ""),
        "feed_account_id": options.get("feed_account_id"),
    }


def _export_or_404(export_id: int) -> Export:
    return get_visible_or_404(Export, export_id, current_principal())


@blp.route("")
class ExportViews(MethodView):
    @requires("admin")
    @blp.etag
    @blp.arguments(CursorPageArgsSchema, location="query")
    @blp.response(200, ExportSchema(many=True), headers={"X-Pagination": "CURSOR_PAGINATION"})
    def get(self, args: dict[str, Any]) -> Any:
        """List the exports by name."""
        found, headers = cursor_page(
            exports_select(current_principal()), Export.name, Export.id, args, descending=False
        )
        return [shown(e) for e in found], headers

    @requires("admin")
    @blp.arguments(ExportSchema)
    @blp.response(201, ExportSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Define an export."""
        with transaction():
            export = create_export(data)
        return shown(export), {"Location": url_for("exports.ExportByIdViews", export_id=export.id)}


@blp.route("/<int:export_id>")
class ExportByIdViews(MethodView):
    @requires("admin")
    @blp.etag
    @blp.response(200, ExportSchema)
    def get(self, export_id: int) -> Any:
        """Get an export."""
        return shown(_export_or_404(export_id))

    @requires("admin")
    @blp.etag
    @blp.arguments(ExportUpdateSchema)
    @blp.response(200, ExportSchema)
    def patch(self, data: dict[str, Any], export_id: int) -> Any:
        """Change some fields of an export."""
        export = _export_or_404(export_id)
        blp.check_etag(shown(export), ExportSchema)
        restart = data.pop("restart_changes", False)
        with transaction():
            update_export(export, data)
            if restart:
                restart_changes(export)
        return shown(export)

    @requires("admin")
    @blp.etag
    @blp.response(204)
    def delete(self, export_id: int) -> None:
        """Delete an export and its runs."""
        export = _export_or_404(export_id)
        blp.check_etag(shown(export), ExportSchema)
        with transaction():
            delete_export(export)


def _run_or_404(run_id: int) -> ExportRun:
    return get_visible_or_404(ExportRun, run_id, current_principal())


@runs_blp.route("")
class ExportRunViews(MethodView):
    @requires("export", "admin")
    @runs_blp.etag
    @runs_blp.arguments(ExportRunQueryArgsSchema, location="query")
    @runs_blp.response(
        200, ExportRunSchema(many=True), headers={"X-Pagination": "CURSOR_PAGINATION"}
    )
    def get(self, args: dict[str, Any]) -> Any:
        """List export runs, newest first."""
        return cursor_page(
            export_runs_select(current_principal(), args.get("export_id"), args.get("status")),
            ExportRun.id,
            ExportRun.id,
            args,
        )

    @requires("export", "admin")
    @runs_blp.arguments(ExportRunSchema)
    @runs_blp.response(202, ExportRunSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Run an export now (202: follow the run until it is finished)."""
        export = get_visible_or_404(Export, data["export_id"], current_principal())
        with transaction():
            run = start_run(export, "api")
        submit_run(run)
        return run, {"Location": url_for("export-runs.ExportRunByIdViews", run_id=run.id)}


@runs_blp.route("/<int:run_id>")
class ExportRunByIdViews(MethodView):
    @requires("export", "admin")
    @runs_blp.etag
    @runs_blp.response(200, ExportRunSchema)
    def get(self, run_id: int) -> Any:
        """Get an export run."""
        return _run_or_404(run_id)


@runs_blp.route("/<int:run_id>/file")
class ExportRunFileViews(MethodView):
    @requires("export", "admin")
    @runs_blp.response(
        200,
        {"type": "string", "format": "binary"},
        content_type="application/octet-stream",
        description="The run's file, as it was sent.",
    )
    def get(self, run_id: int) -> Any:
        """Download a run's file again."""
        run = _run_or_404(run_id)
        path = run_file_path(run) if run.file_name else None
        if path is None or not path.exists():
            abort(404, message="This run has no file.")
        return Response(
            path.read_bytes(),
            mimetype=MEDIA_TYPES[run.format],
            headers={"Content-Disposition": f'attachment; filename="{run.file_name}"'},
        )


def shown_server(server: SftpServer) -> dict[str, Any]:
    return {
        name: getattr(server, name)
        for name in (
            "id",
            "name",
            "host",
            "port",
            "username",
            "host_key",
            "secret_kind",
            "created_at",
        )
    } | {"host_key_fingerprint": fingerprint(server.host_key)}


@servers_blp.route("")
class SftpServerViews(MethodView):
    @requires("admin")
    @servers_blp.arguments(CursorPageArgsSchema, location="query")
    @servers_blp.response(
        200, SftpServerSchema(many=True), headers={"X-Pagination": "CURSOR_PAGINATION"}
    )
    def get(self, args: dict[str, Any]) -> Any:
        """List the SFTP servers by name."""
        from sqlalchemy import select

        found, headers = cursor_page(
            select(SftpServer), SftpServer.name, SftpServer.id, args, descending=False
        )
        return [shown_server(s) for s in found], headers

    @requires("admin")
    @servers_blp.arguments(SftpServerSchema)
    @servers_blp.response(201, SftpServerSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Set up an SFTP server (its host key pinned, its secret never answered back)."""
        with transaction():
            server = create_sftp_server(data)
        return shown_server(server)


@servers_blp.route("/<int:server_id>")
class SftpServerByIdViews(MethodView):
    @requires("admin")
    @servers_blp.response(204)
    def delete(self, server_id: int) -> None:
        """Remove an SFTP server no export or pull uses."""
        with transaction():
            delete_sftp_server(get_visible_or_404(SftpServer, server_id, current_principal()))
