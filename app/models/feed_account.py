"""The SFTP inbox: feed accounts (who may send files, where they land, which profile takes
them) and the files that arrived through them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import JSONType, TenantScoped, TimestampMixin, UTCDateTime, utcnow

# incomplete: the client vanished mid-upload; unrouted: no route takes the file; refused:
# a limit, an unknown or inactive profile, a marker naming nothing; imported: a run has it;
# removed: a cut upload or forgotten temporary file the sweep deleted.
ARRIVAL_STATUSES = ("incomplete", "unrouted", "refused", "imported", "removed")


class FeedAccount(TenantScoped, TimestampMixin, db.Model):
    """An SFTP login of a tenant, jailed in its own folder, with its routes to profiles.

    `routes` is an ordered list of {"pattern": "clients/*.csv", "profile_id": 3}; the first
    pattern matching the path inside the account's folder picks the profile."""

    __tablename__ = "feed_accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # OpenSSH public key lines ("ssh-ed25519 AAAA… comment").
    public_keys: Mapped[list[str]] = mapped_column(JSONType, default=list)
    routes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # None: the platform's defaults (FEED_QUOTA_BYTES, IMPORT_MAX_BYTES).
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger)
    max_file_bytes: Mapped[int | None] = mapped_column(BigInteger)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(254), default="")
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<FeedAccount {self.id} {self.name}>"


class FeedArrival(TenantScoped, db.Model):
    """A file that came in through a feed account and what became of it."""

    __tablename__ = "feed_arrivals"
    __table_args__ = (
        Index("ix_feed_arrivals_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_feed_arrivals_tenant_id_run_id", "tenant_id", "run_id"),
        Index("ix_feed_arrivals_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("feed_accounts.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(12))
    message: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    account: Mapped[FeedAccount] = relationship()

    def __repr__(self) -> str:
        return f"<FeedArrival {self.id} {self.path} {self.status}>"
