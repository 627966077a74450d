"""Deleted records, read from their audit events: what a sync client must remove."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from app.models import AuditEvent
from app.models.audit import IS_DELETION
from app.policies import deleted_clause


def deleted_records(entity_name: str, user: Any, since: datetime) -> Select:
    """The 'delete' events of `entity_name` records since `since` whose snapshot `user` may see."""
    return select(AuditEvent).where(
        AuditEvent.entity == entity_name, IS_DELETION,
        AuditEvent.created_at >= since, deleted_clause(entity_name, user))
