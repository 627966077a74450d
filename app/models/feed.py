"""Feeds: import profiles (versioned), import runs and their row errors."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import JSONType, OrderedJSON, TenantScoped, TimestampMixin, UTCDateTime, utcnow

RUN_STATUSES = ("queued", "running", "succeeded", "partial", "failed", "interrupted")
RUN_SOURCES = ("upload", "api", "cli", "sftp", "pull")
FINISHED = ("succeeded", "partial", "failed", "interrupted")
# Runs that did not reach their file's end: a later run of the same file goes on from them.
CUT_SHORT = ("failed", "interrupted")
LIVE = ("queued", "running")
# A revert runs as a job (app/services/import_revert.py): asked, then taken by a worker,
# then done (or failed, nothing changed: it can be asked again).
REVERT_STATUSES = ("queued", "running", "done", "failed")


class ImportProfile(TenantScoped, TimestampMixin, db.Model):
    """How one feed's files map onto an entity; `definition` is the profile JSON."""

    __tablename__ = "import_profiles"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(default=1)
    definition: Mapped[dict[str, Any]] = mapped_column(OrderedJSON)
    is_active: Mapped[bool] = mapped_column(default=True)
    # The run holding the profile: two runs of one profile never run at once.
    locked_by_run_id: Mapped[int | None]

    versions: Mapped[list[ImportProfileVersion]] = relationship(
        back_populates="profile", order_by="ImportProfileVersion.version.desc()",
        cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<ImportProfile {self.id} {self.name} v{self.version}>"


class ImportProfileVersion(TenantScoped, db.Model):
    __tablename__ = "import_profile_versions"
    __table_args__ = (UniqueConstraint("tenant_id", "profile_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("import_profiles.id", ondelete="CASCADE"))
    version: Mapped[int]
    definition: Mapped[dict[str, Any]] = mapped_column(OrderedJSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(254), default="")

    profile: Mapped[ImportProfile] = relationship(back_populates="versions")

    def __repr__(self) -> str:
        return f"<ImportProfileVersion {self.profile_id} v{self.version}>"


class ImportRun(TenantScoped, db.Model):
    """One file going through a profile: who, what, when, counts and progress."""

    __tablename__ = "import_runs"
    __table_args__ = (
        Index("ix_import_runs_tenant_id_profile_id", "tenant_id", "profile_id", "id"),
        Index("ix_import_runs_tenant_id_status", "tenant_id", "status"),
        Index("ix_import_runs_tenant_id_sha256", "tenant_id", "profile_id", "sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("import_profiles.id", ondelete="CASCADE"))
    profile_version: Mapped[int]
    source: Mapped[str] = mapped_column(String(10))
    file_name: Mapped[str] = mapped_column(String(255))
    file_size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    is_dry_run: Mapped[bool] = mapped_column(default=False)
    is_forced: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    message: Mapped[str | None] = mapped_column(Text)
    # Its id and parameters, when known, so that it reads in the reader's language.
    message_id: Mapped[str | None] = mapped_column(Text)
    message_params: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    started_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # host:pid:token of the process running (or holding in its queue) the run.
    worker_id: Mapped[str | None] = mapped_column(String(120))
    rows_total: Mapped[int | None]
    rows_done: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    # Of the unchanged rows, those recognised by their fingerprint, without converting a cell.
    fingerprinted: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    archived: Mapped[int] = mapped_column(default=0)
    # Files it attached to records (an archive's documents; those they replaced go).
    attached: Mapped[int] = mapped_column(default=0, server_default="0")
    # The run whose ZIP archive holds the documents its rows name: an archive's errors file
    # sent back fixed from that run's page is its metadata file alone.
    documents_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_runs.id", ondelete="SET NULL"))
    # Field-by-field changes of the first updated rows (dry runs show what would change).
    diff_sample: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    # Its revert (app/services/import_revert.py): when, by whom, and what it did.
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reverted_by: Mapped[str | None] = mapped_column(String(254))
    revert_summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Its revert job: its state, who asked (the actor its writes are audited as), the
    # process running it and that process's last beat, and why it failed.
    revert_status: Mapped[str | None] = mapped_column(String(10))
    revert_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revert_actor: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    revert_worker_id: Mapped[str | None] = mapped_column(String(120))
    revert_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why its revert failed: an English message id, and its values (read in the reader's
    # language: `revert_reason`).
    revert_message: Mapped[str | None] = mapped_column(Text)
    revert_message_params: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Its row errors by kind, counted once when it ended (app/queries/error_groups.py).
    error_groups: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    profile: Mapped[ImportProfile] = relationship()

    @property
    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("created", "updated", "unchanged", "failed",
                                               "archived")}

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def can_apply(self) -> bool:
        """A finished dry run, not failed, may be imported for real."""
        return self.is_dry_run and self.is_finished and self.status != "failed"

    @property
    def can_revert(self) -> bool:
        """A finished real run that wrote records, not reverted yet, may be undone."""
        return not self.is_dry_run and self.is_finished and self.reverted_at is None \
            and self.wrote_records

    @property
    def wrote_records(self) -> bool:
        """It created, updated or archived records, or attached files to them (its counts
        are committed with its batches: a run that failed part way counts what it wrote)."""
        return bool(self.created or self.updated or self.archived or self.attached)

    @property
    def revert_pending(self) -> bool:
        """Its revert was asked and has not ended yet."""
        return self.revert_status in ("queued", "running")

    def __repr__(self) -> str:
        return f"<ImportRun {self.id} {self.status}>"


class ImportRowError(TenantScoped, db.Model):
    """A row that did not go in: where, which column, which value, why; and the row itself."""

    __tablename__ = "import_row_errors"
    __table_args__ = (
        Index("ix_import_row_errors_tenant_id_run_id", "tenant_id", "run_id", "line"),
        # A run's errors by kind (the run page's summary) and one kind's pages by line.
        Index("ix_import_row_errors_tenant_id_run_id_column", "tenant_id", "run_id", "column",
              "message_id", "line", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id", ondelete="CASCADE"))
    line: Mapped[int]
    column: Mapped[str | None] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    # The message's id and parameters, so the errors read in the reader's language.
    message_id: Mapped[str | None] = mapped_column(Text)
    message_params: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    raw: Mapped[list[Any] | None] = mapped_column(JSONType)

    def __repr__(self) -> str:
        return f"<ImportRowError run {self.run_id} line {self.line}>"
