"""Webhooks: endpoints a tenant's admin registers, and the deliveries sent to them."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import JSONType, TenantScoped, UTCDateTime, utcnow

WEBHOOK_DELIVERY_STATUSES = ("pending", "succeeded", "failed", "abandoned")


class WebhookEndpoint(TenantScoped, db.Model):
    """A URL that receives the events it subscribes to, signed with its secret."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    # Kept as given: every delivery is signed with it. Shown once, then only its prefix.
    secret: Mapped[str] = mapped_column(String(200))
    secret_prefix: Mapped[str] = mapped_column(String(16))
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Consecutive failed attempts, and since when (both reset by a success).
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # After a failure, only the failed delivery is tried again before others are sent.
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    created_by: Mapped[str] = mapped_column(String(254), default="")

    deliveries: Mapped[list[WebhookDelivery]] = relationship(
        back_populates="endpoint", passive_deletes=True, cascade="all, delete-orphan")

    def subscribes(self, event: str) -> bool:
        return event in (self.events or ())

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.id} {self.url}>"


class WebhookDelivery(TenantScoped, db.Model):
    """One event for one endpoint: its payload, where it stands, and its last answer."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The dispatcher's poll, across tenants.
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        # "An earlier delivery of the same record is still pending": per-record order.
        Index("ix_webhook_deliveries_endpoint_id_ordering_key", "endpoint_id", "ordering_key",
              "status", "id"),
        Index("ix_webhook_deliveries_tenant_id_endpoint_id", "tenant_id", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str | None] = mapped_column(String(30))
    record_id: Mapped[int | None]
    # Deliveries sharing a key (one record, one import run) go out one after the other.
    ordering_key: Mapped[str | None] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A dispatcher holds the delivery until then (several processes may dispatch).
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    endpoint: Mapped[WebhookEndpoint] = relationship(back_populates="deliveries")
    attempt_log: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="delivery", passive_deletes=True, cascade="all, delete-orphan",
        order_by="WebhookAttempt.id")

    def __repr__(self) -> str:
        return f"<WebhookDelivery {self.id} {self.event} {self.status}>"


class WebhookAttempt(TenantScoped, db.Model):
    """One HTTP request of a delivery and what came back (the body truncated)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_tenant_id_delivery_id", "tenant_id", "delivery_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(500))

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempt_log")

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def __repr__(self) -> str:
        return f"<WebhookAttempt {self.id} {self.status_code}>"
