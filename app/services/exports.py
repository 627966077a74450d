"""Exports' writes: definitions (checked against the entity, its columns and the list
filters, the destination's options and the schedule) and runs, queued to the job engine
(importers/export_runs.py writes and delivers the file). They flush; the caller commits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import DESTINATION_KINDS, EXPORT_FORMATS, Export, ExportRun, Tenant
from app.schedules import checked_schedule, next_firing
from app.services.audit import record_event
from app.tenancy import current_actor, current_tenant_id
from app.values import parse_bool
from importers.destinations import KINDS
from importers.export_rows import plan_export

AUDITED = (
    "name",
    "entity",
    "columns",
    "headers",
    "filters",
    "format",
    "destination",
    "destination_options",
    "sftp_server_id",
    "schedule",
    "is_changes_only",
    "is_active",
)


def _flag(raw: Any, field: str) -> bool:
    if isinstance(raw, bool):
        return raw
    try:
        return parse_bool(str(raw or "false"))
    except ValueError as exc:
        raise ValidationError({field: _("Answer yes or no.")}) from exc


def _checked(data: dict[str, Any], current: Export | None) -> dict[str, Any]:
    """The definition's columns, from `data` over the current export's."""
    merged = {k: getattr(current, k) for k in AUDITED} if current is not None else {}
    if current is not None:
        merged["changes_only"] = current.is_changes_only
        merged.update(current.destination_options or {})
    merged.update({k: v for k, v in data.items() if v is not None or k == "schedule"})
    name = str(merged.get("name") or "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": _("Give the export a name (100 characters at most).")})
    other = db.session.scalar(select(Export).where(Export.name == name))
    if other is not None and other is not current:
        raise ValidationError({"name": _("An export with this name already exists.")})
    fmt = merged.get("format") or "csv_cp1252"
    if fmt not in EXPORT_FORMATS:
        raise ValidationError({"format": _("Unknown format: %(name)s.", name=str(fmt)[:30])})
    kind = merged.get("destination") or "download"
    if kind not in DESTINATION_KINDS:
        raise ValidationError(
            {"destination": _("Unknown destination: %(name)s.", name=str(kind)[:30])}
        )
    columns = merged.get("columns") or []
    headers = merged.get("headers") or {}
    filters = merged.get("filters") or {}
    if (
        not isinstance(columns, list)
        or not isinstance(headers, dict)
        or not isinstance(filters, dict)
    ):
        raise ValidationError(
            {"columns": _("Columns are a list; headers and filters are objects.")}
        )
    tenant = db.session.get(Tenant, current_tenant_id())
    plan_export(
        str(merged.get("entity") or ""),
        columns,
        headers,
        filters,
        tenant.default_locale if tenant else "fr",
    )
    options, server_id = KINDS[kind].options(merged)
    return {
        "name": name,
        "entity": merged["entity"],
        "columns": [str(c).strip() for c in columns],
        "headers": {str(k): str(v)[:100] for k, v in headers.items() if str(v).strip()},
        "filters": filters,
        "format": fmt,
        "destination": kind,
        "destination_options": options,
        "sftp_server_id": server_id,
        "schedule": checked_schedule(merged.get("schedule")),
        "is_changes_only": _flag(merged.get("changes_only", False), "changes_only"),
        "is_active": _flag(merged.get("is_active", True), "is_active"),
    }


def create_export(data: dict[str, Any]) -> Export:
    values = _checked(data, None)
    export = Export(**values)
    export.next_run_at = next_firing(export.schedule) if export.schedule else None
    db.session.add(export)
    db.session.flush()
    record_event("create", "exports", export.id, None, values)
    return export


def update_export(export: Export, data: dict[str, Any]) -> Export:
    """Change a definition. Changing what is read (entity, columns or filters) keeps the
    "changes only" watermark: the next run sends what changed, in the new shape."""
    before = {k: getattr(export, k) for k in AUDITED}
    values = _checked(data, export)
    for key, value in values.items():
        setattr(export, key, value)
    if values["schedule"] != before["schedule"] or values["is_active"] != before["is_active"]:
        export.next_run_at = (
            next_firing(export.schedule) if export.schedule and export.is_active else None
        )
    db.session.flush()
    record_event("update", "exports", export.id, before, values)
    return export


def delete_export(export: Export) -> None:
    record_event("delete", "exports", export.id, {k: getattr(export, k) for k in AUDITED}, None)
    db.session.delete(export)
    db.session.flush()


def restart_changes(export: Export) -> Export:
    """Forget what a changes-only export sent: its next run sends every row again."""
    from app.models import ExportMark

    db.session.execute(
        ExportMark.__table__.delete().where(
            ExportMark.tenant_id == export.tenant_id, ExportMark.export_id == export.id
        )
    )
    export.changes_since = None
    db.session.flush()
    record_event("update", "exports", export.id, None, {"changes_since": None})
    return export


def start_run(export: Export, trigger: str) -> ExportRun:
    """A queued run of the export (the job engine executes it)."""
    if not export.is_active and trigger != "cli":
        raise ValidationError({"export": _("This export is deactivated.")})
    run = ExportRun(
        export_id=export.id,
        trigger=trigger,
        status="queued",
        started_by=current_actor().label[:254],
        format=export.format,
        destination=export.destination,
        created_at=datetime.now(UTC),
    )
    db.session.add(run)
    db.session.flush()
    return run
