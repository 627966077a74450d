"""Feed alerts: when a feed's file is expected, the alerts raised (each mailed once) and the
admins who want a daily digest of every feed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TenantScoped, TimestampMixin, UTCDateTime, utcnow

ALERT_KINDS = ("failed", "partial", "interrupted", "late")


class FeedExpectation(TenantScoped, TimestampMixin, db.Model):
    """When a profile's file should come: each time `cron` fires (tenant time zone), by
    `grace_minutes` later at the latest (its deadline)."""

    __tablename__ = "feed_expectations"
    __table_args__ = (UniqueConstraint("tenant_id", "profile_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("import_profiles.id", ondelete="CASCADE"))
    cron: Mapped[str] = mapped_column(String(100))
    grace_minutes: Mapped[int] = mapped_column(default=0)

    profile = relationship("ImportProfile")

    def __repr__(self) -> str:
        return f"<FeedExpectation {self.id} profile {self.profile_id} {self.cron}>"


class FeedAlert(TenantScoped, db.Model):
    """Something wrong with a feed, raised once (its `key` is unique per profile): a run
    that failed or partly failed, or a file not come by its deadline."""

    __tablename__ = "feed_alerts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "profile_id", "key"),
        Index("ix_feed_alerts_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("import_profiles.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(12))
    # "run:<id>" or "late:<deadline ISO>": what makes the alert one of a kind.
    key: Mapped[str] = mapped_column(String(60))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a late file's deadline
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    profile = relationship("ImportProfile")

    def __repr__(self) -> str:
        return f"<FeedAlert {self.id} {self.kind} {self.key}>"


class FeedDigestSubscription(TenantScoped, db.Model):
    """An admin who gets the daily digest of every feed; `last_sent_on`, the tenant's day it
    was last sent (never twice a day)."""

    __tablename__ = "feed_digest_subscriptions"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    last_sent_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user = relationship("User")

    def __repr__(self) -> str:
        return f"<FeedDigestSubscription {self.id} user {self.user_id}>"
