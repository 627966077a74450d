"""Column types and mixins shared by every model."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    TypeDecorator,
    null,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")
# JSON text on both: a document whose keys' order is the user's (an import profile lists its
# columns as the file gives them), which JSONB would sort by length and bytes.
OrderedJSON = JSON()
Money = Numeric(14, 2, asdecimal=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC (without an offset, it is UTC); ValueError when UTC has no such time.

    The one check of a date-time read from outside (API arguments, list cursors): Python's
    datetime ends at year 1 and 9999, so 9999-12-31T23:59:59-14:00 has no UTC equivalent.
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{moment.isoformat()} is out of range in UTC") from exc


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime, also on SQLite (which drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type:
        return datetime  # keyset cursors decode their value by it

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class TenantScoped:
    """A row that belongs to one tenant; app/tenancy.py scopes every query on it."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)


# The feed stamps of a record: the profile it came from and the last run that wrote it.
FEED_STAMPS = ("import_run_id", "import_profile_id")


class RecordMixin(TenantScoped, TimestampMixin):
    """The common columns of every domain record (ARCHITECTURE.md)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    # Its value before a change is loaded when not yet (active_history): a rename must be
    # seen as one, by the listener that forgets the fingerprints naming it
    # (app/services/fingerprints.py), even on a record read before its last commit.
    external_ref: Mapped[str | None] = mapped_column(String(100), active_history=True)
    custom: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Set when a full-sync feed no longer sends the record: hidden from lists, never deleted.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @declared_attr
    def import_profile_id(cls) -> Mapped[int | None]:
        """The feed the record came from (full sync archives only its own records)."""
        return mapped_column(ForeignKey("import_profiles.id", ondelete="SET NULL"))

    @declared_attr
    def import_run_id(cls) -> Mapped[int | None]:
        """The last import run that created or changed the record."""
        return mapped_column(ForeignKey("import_runs.id", ondelete="SET NULL"))

    # The fingerprint of the feed row that made the record as it is (importers/fingerprints.py):
    # any other write empties it, by this `onupdate` (ORM and Core updates) or by the record
    # writer's own statements (app/services/record_batches.py). Never loaded with the record.
    import_digest: Mapped[bytes | None] = mapped_column(LargeBinary(16), deferred=True,
                                                        onupdate=null())


ZERO = Decimal("0.00")
# Ids are 32-bit INTEGER columns: a larger id cannot exist, and PostgreSQL refuses to compare it.
MAX_ID = 2**31 - 1


class Searchable:
    """A record found by search: its searched fields folded into one text (app/search_text.py),
    written with them by the one record writer."""

    # Read by the database only (app/search_text.found): never loaded with the record.
    search_text: Mapped[str | None] = mapped_column(Text, deferred=True)


def reference_index(table: str, column: str, *columns: str) -> Index:
    """The index of a reference to a record that is deleted (a customer, an invoice…), led by
    it: deleting that record has the database find what refers to it (ON DELETE CASCADE or
    SET NULL) by this index, rather than by a scan of the whole table for each record deleted
    (an index led by tenant_id cannot answer `column = ?`). Ids are unique across tenants:
    tenant_id second serves a tenant's records of that reference as well (IS NULL too)."""
    return Index(f"ix_{table}_{column}_tenant_id", column, "tenant_id", *columns)


def optional_reference_index(table: str, column: str) -> Index:
    """A reference that most records leave empty, indexed for the records that give it only
    (see `reference_index`): an import of records without it maintains nothing."""
    where = text(f"{column} IS NOT NULL")
    return Index(f"ix_{table}_{column}", column, postgresql_where=where, sqlite_where=where)


def search_index(table: str) -> Index:
    """The index of a table's search texts, by tenant: on PostgreSQL a GIN index (trigrams of
    the text, which answer `LIKE '%word%'`; btree_gin for tenant_id); on SQLite a plain one,
    which a search reads instead of the table's rows (app/search_text.found)."""
    return Index(f"ix_{table}_search_text", "tenant_id", "search_text", postgresql_using="gin",
                 postgresql_ops={"search_text": "gin_trgm_ops"})
