"""Audit events for every write and every login."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app.extensions import db
from app.models import AuditEvent
from app.services.webhook_outbox import enqueue_audited
from app.tenancy import current_actor


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Keep only the keys whose value changed."""
    keys = [k for k in after.keys() | before.keys() if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in sorted(keys)}, {k: after.get(k) for k in sorted(keys)}


def record_event(
    action: str, entity: str | None = None, record_id: int | None = None,
    before: dict | None = None, after: dict | None = None, *, tenant_id: int | None = None,
) -> AuditEvent:
    """Add an audit event for the current actor (flushed with the change it describes)."""
    actor = current_actor()
    event = AuditEvent(
        action=action, entity=entity, record_id=record_id,
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
        actor_kind=actor.kind, actor_id=actor.id, actor_label=actor.label[:254], ip=actor.ip,
    )
    if tenant_id is not None:
        event.tenant_id = tenant_id
    db.session.add(event)
    db.session.flush()
    enqueue_audited(event)  # webhooks, in the same transaction
    return event
