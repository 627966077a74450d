"""Platform-level events: what happened to a tenant as a whole, kept after the tenant is gone."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import JSONType, UTCDateTime, utcnow


class PlatformEvent(db.Model):
    """Not tenant-scoped on purpose: a deleted tenant's erasure must outlive its rows."""

    __tablename__ = "platform_events"
    __table_args__ = (Index("ix_platform_events_tenant_slug", "tenant_slug", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(30))
    # Plain values, no foreign key: the tenant may no longer exist.
    tenant_ref: Mapped[int | None]
    tenant_slug: Mapped[str] = mapped_column(String(50))
    actor_label: Mapped[str] = mapped_column(String(254))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    def __repr__(self) -> str:
        return f"<PlatformEvent {self.id} {self.action} {self.tenant_slug}>"


class SchedulerLease(db.Model):
    """Which process fires the periodic jobs (app/scheduler.py): the holder renews its lease
    before `expires_at`; when it stops, another process takes the lease over."""

    __tablename__ = "scheduler_leases"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # the lease's key
    name: Mapped[str] = mapped_column(String(50))
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
