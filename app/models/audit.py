"""Audit events: who did what, when, with the values before and after."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, literal_column
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import JSONType, TenantScoped, UTCDateTime, utcnow

# The one event the API's sync index holds (the same literal on both backends).
_DELETIONS_ONLY = literal_column("action") == literal_column("'delete'")


class AuditEvent(TenantScoped, db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_tenant_id_record", "tenant_id", "entity", "record_id", "id"),
        Index("ix_audit_events_tenant_id_created_at", "tenant_id", "created_at"),
        # API sync: the deletions of an entity since a moment (GET /api/v1/<entity>/deleted).
        # Only deletions are indexed: every other write (a bulk call's ten thousand new
        # records, a feed's updates) would pay for an entry no query reads.
        Index("ix_audit_events_tenant_id_deletions", "tenant_id", "entity", "created_at", "id",
              postgresql_where=_DELETIONS_ONLY, sqlite_where=_DELETIONS_ONLY),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(30))
    entity: Mapped[str | None] = mapped_column(String(30))
    record_id: Mapped[int | None]
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    ip: Mapped[str | None] = mapped_column(String(45))

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.entity}:{self.record_id}>"


# The condition of the deletions' index, written as a literal: a database uses a partial
# index only for a query whose condition it can see implies the index's, never a parameter.
IS_DELETION = AuditEvent.action == literal_column("'delete'")
