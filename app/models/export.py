"""Scheduled exports and pulls: their definitions, their runs, and the tenant's own SFTP
servers they send to or fetch from (docs/exports.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import JSONType, TenantScoped, TimestampMixin, UTCDateTime, utcnow

EXPORT_FORMATS = ("csv_cp1252", "csv_utf8", "xlsx")
# Where a run's file goes; each kind is a class of importers/destinations.py. "download":
# kept only, for the back office and the API to fetch.
DESTINATION_KINDS = ("download", "email", "sftp", "outbox")
EXPORT_RUN_STATUSES = ("queued", "running", "succeeded", "failed")
EXPORT_TRIGGERS = ("schedule", "manual", "api", "cli")
PULL_KINDS = ("sftp", "https")
SECRET_KINDS = ("password", "key")


class SftpServer(TenantScoped, TimestampMixin, db.Model):
    """A tenant's own SFTP server: exports send to it, pulls fetch from it. Its host key is
    pinned when it is set up; its password or private key is kept encrypted and never shown."""

    __tablename__ = "sftp_servers"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(default=22)
    username: Mapped[str] = mapped_column(String(100))
    # "<type> <base64>" as in known_hosts: a server answering with another key is refused.
    host_key: Mapped[str] = mapped_column(Text)
    secret_kind: Mapped[str] = mapped_column(String(10))
    secret_encrypted: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<SftpServer {self.id} {self.name}>"


class Export(TenantScoped, TimestampMixin, db.Model):
    """What an export sends (entity, columns, filters, format), where, and when."""

    __tablename__ = "exports"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_exports_next_run_at", "next_run_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(30))
    columns: Mapped[list[str]] = mapped_column(JSONType)
    headers: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    format: Mapped[str] = mapped_column(String(12))
    destination: Mapped[str] = mapped_column(String(20), default="download")
    # Recipients (email), remote folder (sftp): what the destination's kind needs.
    destination_options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    sftp_server_id: Mapped[int | None] = mapped_column(
        ForeignKey("sftp_servers.id", ondelete="RESTRICT")
    )
    schedule: Mapped[str | None] = mapped_column(String(100))  # cron, in the tenant's zone
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_changes_only: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Changes only: records changed at or after this moment are the next run's candidates.
    changes_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The run holding the export: two runs of one export never read at once.
    locked_by_run_id: Mapped[int | None]

    sftp_server: Mapped[SftpServer | None] = relationship()

    def __repr__(self) -> str:
        return f"<Export {self.id} {self.name}>"


class ExportRun(TenantScoped, db.Model):
    """One export's file: when, how many rows, where it went, and how that ended."""

    __tablename__ = "export_runs"
    __table_args__ = (
        Index("ix_export_runs_tenant_id_export_id", "tenant_id", "export_id", "id"),
        Index("ix_export_runs_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    export_id: Mapped[int] = mapped_column(ForeignKey("exports.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    started_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rows: Mapped[int] = mapped_column(default=0)
    # Cells cp1252 could not hold, written with a replacement (docs/exports.md).
    replaced_cells: Mapped[int] = mapped_column(default=0)
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_size: Mapped[int | None]
    sha256: Mapped[str | None] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(12))
    destination: Mapped[str] = mapped_column(String(20))
    delivered_to: Mapped[str | None] = mapped_column(Text)
    # Changes only: the window this run read, [changes_from, read_at).
    changes_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message: Mapped[str | None] = mapped_column(Text)

    export: Mapped[Export] = relationship()

    @property
    def is_finished(self) -> bool:
        return self.status in ("succeeded", "failed")

    def __repr__(self) -> str:
        return f"<ExportRun {self.id} {self.status}>"


class ExportMark(TenantScoped, db.Model):
    """The version (updated_at) of a record a changes-only export last sent, kept while the
    record may still be a candidate: a version is never sent twice."""

    __tablename__ = "export_marks"
    __table_args__ = (UniqueConstraint("tenant_id", "export_id", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    export_id: Mapped[int] = mapped_column(ForeignKey("exports.id", ondelete="CASCADE"))
    record_id: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<ExportMark {self.export_id} {self.record_id}>"


class FeedPull(TenantScoped, TimestampMixin, db.Model):
    """A feed that fetches its file on a schedule, from an SFTP server or an HTTPS address."""

    __tablename__ = "feed_pulls"
    __table_args__ = (
        UniqueConstraint("tenant_id", "profile_id"),
        Index("ix_feed_pulls_next_run_at", "next_run_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("import_profiles.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    sftp_server_id: Mapped[int | None] = mapped_column(
        ForeignKey("sftp_servers.id", ondelete="RESTRICT")
    )
    path: Mapped[str | None] = mapped_column(String(500))  # sftp: the remote file
    url: Mapped[str | None] = mapped_column(String(2000))  # https
    schedule: Mapped[str] = mapped_column(String(100))
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_active: Mapped[bool] = mapped_column(default=True)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sha256: Mapped[str | None] = mapped_column(String(64))
    last_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_runs.id", ondelete="SET NULL")
    )
    last_error: Mapped[str | None] = mapped_column(Text)

    profile = relationship("ImportProfile")
    sftp_server: Mapped[SftpServer | None] = relationship()

    def __repr__(self) -> str:
        return f"<FeedPull {self.id} {self.kind}>"
