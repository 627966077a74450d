"""A record's page, in both faces: its files (listed and sent) and, for staff, its history."""
from __future__ import annotations

from typing import Any

from flask import Response, abort, send_file
from flask_login import current_user

from app.models import Attachment, AuditEvent
from app.policies import get_visible_or_404
from app.queries.records import attachments_of, history_of
from app.services.attachments import storage_path
from app.tenancy import current_tenant_id

AUDIT_TRAIL_LENGTH = 50


def attachment_file(attachment_id: int) -> Response:
    """Send an attachment the current user may see (404 otherwise), always as a download."""
    attachment = get_visible_or_404(Attachment, attachment_id, current_user)
    path = storage_path(current_tenant_id(), attachment.sha256)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype=attachment.media_type, as_attachment=True,
                     download_name=attachment.file_name, max_age=0)


def record_attachments(record_type: str, record_id: int) -> list[Attachment]:
    """The files attached to a record that the current user may see, newest first."""
    return attachments_of(record_type, record_id, current_user)


def audit_trail(entity_name: str, record_id: int,
                limit: int = AUDIT_TRAIL_LENGTH) -> list[AuditEvent]:
    """A record's history, for staff only (it names the tenant's users)."""
    if not current_user.is_authenticated or not current_user.is_staff:
        return []
    return history_of(entity_name, record_id, limit)


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
