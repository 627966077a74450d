"""Audit events for every write and every login."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.extensions import db
from app.models import AuditEvent
from app.services.record_rules import jsonable
from app.services.webhook_outbox import enqueue
from app.tenancy import Actor, current_actor


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Keep only the keys whose value changed."""
    keys = [k for k in after.keys() | before.keys() if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in sorted(keys)}, {k: after.get(k) for k in sorted(keys)}


def audit_row(action: str, entity: str | None, record_id: int | None,
              before: dict | None, after: dict | None, now: datetime,
              actor: Actor | None = None) -> dict[str, Any]:
    """An audit event of the current actor (or `actor`, the current one read once for a
    batch) as a row, for writes made a batch at a time; `before` and `after` already
    jsonable."""
    if actor is None:
        actor = current_actor()
    return {"action": action, "entity": entity, "record_id": record_id, "before": before,
            "after": after, "created_at": now, "actor_kind": actor.kind, "actor_id": actor.id,
            "actor_label": actor.label[:254], "ip": actor.ip}


def record_event(
    action: str, entity: str | None = None, record_id: int | None = None,
    before: dict | None = None, after: dict | None = None, *, tenant_id: int | None = None,
) -> AuditEvent:
    """Add an audit event for the current actor (flushed with the change it describes)."""
    row = audit_row(action, entity, record_id,
                    jsonable(before) if before is not None else None,
                    jsonable(after) if after is not None else None, datetime.now(UTC))
    event = AuditEvent(**row)
    if tenant_id is not None:
        event.tenant_id = tenant_id
    db.session.add(event)
    db.session.flush()
    enqueue([row])  # webhooks, in the same transaction
    return event
