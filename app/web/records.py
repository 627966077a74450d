"""A record's page, in both faces: its files (listed and sent) and, for staff, its history."""
from __future__ import annotations

from flask import Response, abort, send_file
from flask_login import current_user

from app.models import Attachment, AuditEvent
from app.policies import get_visible_or_404
from app.queries.history import readable_changes, readable_history
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


def audit_changes(event: AuditEvent) -> list[tuple[str, str, str]]:
    """(field label, before, after) of one event, as its reader reads them."""
    return [(c.label, c.before, c.after)
            for c in readable_changes(event.entity, event.before, event.after)]


def audit_history(events: list[AuditEvent]) -> list[list[tuple[str, str, str]]]:
    """`audit_changes` of a record's events, their names read once for all."""
    return [[(c.label, c.before, c.after) for c in changes] for changes in readable_history(
        (event.entity, event.before, event.after) for event in events)]
