"""An export run from queued to its end: read the rows, write the file, keep it, deliver it.

"Only what changed since the last export" never sends a version of a record twice and never
skips one, even when records change while the export reads them, on SQLite and PostgreSQL
alike. The candidates are the records whose updated_at is at or after the export's
watermark; among them, those whose version (id, updated_at) this export already sent are
left out (export_marks). After a delivered run the watermark moves to the moment the run
started reading, less a safety lag (EXPORT_CHANGES_LAG_SECONDS): a write stamped before that
moment but committed after the read (a transaction still open) is still a candidate next
time, and the marks keep what was sent within the lag from going twice. On PostgreSQL the
watermark also stays behind the oldest transaction that is writing. A run whose delivery
failed moves nothing: the next run sends its rows again. Two runs of one export never read
at once (the export's lock).
"""

from __future__ import annotations

import logging
import time
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, delete, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import Export, ExportMark, ExportRun, Tenant
from app.tenancy import Actor, tenant_context
from importers.destinations import KINDS, DeliveryFailed
from importers.export_files import EXTENSIONS, REPLACEMENTS_NAMED, open_writer
from importers.export_rows import (
    changed_only,
    column_kinds,
    copied_by_database,
    copy_rows,
    plan_export,
    read_batches,
)

log = logging.getLogger(__name__)
MARK_BATCH = 5000
HEARTBEAT_SECONDS = 10.0


def run_file_path(run: ExportRun) -> Path:
    """Where the run's file is kept (downloadable again)."""
    return (
        Path(current_app.config["FILES_DIR"])
        / "exports"
        / str(run.tenant_id)
        / f"{run.id}.{EXTENSIONS[run.format]}"
    )


def file_name(export: Export, moment: datetime) -> str:
    from app.values import local_zone

    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in export.name).strip("-.")
    local = moment.astimezone(local_zone())
    return f"{safe or 'export'}-{local:%Y%m%d-%H%M%S}.{EXTENSIONS[export.format]}"


def run_export(run_id: int, tenant_id: int) -> ExportRun | None:
    """Execute a queued run (a second delivery of the same job does nothing)."""
    with tenant_context(tenant_id, Actor("feed", None, "export")):
        run = db.session.scalar(select(ExportRun).where(ExportRun.id == run_id))
        if run is None or run.status != "queued":
            db.session.rollback()
            return run
        if not _claim(run):
            db.session.commit()
            return run
        try:
            _execute(run)
        except Exception as exc:  # any failure ends the run, with its reason
            log.exception("export run %s failed", run_id)
            db.session.rollback()
            _fail(
                run_id,
                str(exc)
                if isinstance(exc, DeliveryFailed)
                else _("The export failed: %(reason)s", reason=exc.__class__.__name__),
            )
        return db.session.scalar(select(ExportRun).where(ExportRun.id == run_id))


def _claim(run: ExportRun) -> bool:
    """Take the run and its export's lock; a run of the same export under way fails this one."""
    now = datetime.now(UTC)
    taken = (
        db.session.execute(
            update(ExportRun)
            .where(ExportRun.id == run.id, ExportRun.status == "queued")
            .values(status="running", started_at=now, heartbeat_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    if not taken:
        return False
    finished = select(ExportRun.id).where(ExportRun.status.in_(("succeeded", "failed")))
    locked = (
        db.session.execute(
            update(Export)
            .where(
                Export.id == run.export_id,
                or_(Export.locked_by_run_id.is_(None), Export.locked_by_run_id.in_(finished)),
            )
            .values(locked_by_run_id=run.id)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    db.session.commit()
    if not locked:
        _fail(run.id, _("Another run of this export was under way: this one sent nothing."))
        return False
    return True


def _fail(run_id: int, message: str) -> None:
    db.session.execute(
        update(ExportRun)
        .where(ExportRun.id == run_id)
        .values(status="failed", finished_at=datetime.now(UTC), message=message[:2000])
        .execution_options(synchronize_session=False)
    )
    _unlock(run_id)
    db.session.commit()


def _unlock(run_id: int) -> None:
    db.session.execute(
        update(Export)
        .where(Export.locked_by_run_id == run_id)
        .values(locked_by_run_id=None)
        .execution_options(synchronize_session=False)
    )


def _execute(run: ExportRun) -> None:
    db.session.refresh(run)
    export = run.export
    tenant = db.session.get(Tenant, run.tenant_id)
    read_at = datetime.now(UTC)
    plan = plan_export(
        export.entity,
        export.columns,
        export.headers,
        export.filters,
        tenant.default_locale if tenant else "fr",
        text_cells=export.format != "xlsx",
        versions=export.is_changes_only,
    )
    stmt = (
        changed_only(plan, export.id, export.changes_since) if export.is_changes_only else plan.stmt
    )
    lag = timedelta(seconds=float(current_app.config["EXPORT_CHANGES_LAG_SECONDS"]))
    # Only a changes-only export moves a watermark (the oldest writer asked on PostgreSQL).
    keep_from = _watermark(export, read_at - lag) if export.is_changes_only else read_at
    marked_ids, marked_at = array("q"), array("q")

    path = run_file_path(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    run.file_name = file_name(export, read_at)
    run.changes_from, run.read_at = export.changes_since, read_at
    changes = export.is_changes_only
    # Read now: after the commit below, `run.id` would be loaded again through the session's
    # connection, which a COPY holds until its last row.
    run_id = run.id
    # Committed before reading: the read holds no write lock (SQLite has one writer), and
    # the records' writers go on while the file is written.
    db.session.commit()
    kinds = column_kinds(plan)
    writer = open_writer(export.format, path, plan.header, kinds)
    beat = time.monotonic()
    try:
        copied = copied_by_database(plan, kinds, export.format, changes)
        if copied:
            for count, data in copy_rows(plan, stmt, kinds):
                writer.write_copied(count, data)
                if time.monotonic() - beat > HEARTBEAT_SECONDS:
                    beat = time.monotonic()
                    _heartbeat(run_id)
        # A changes-only export reads each row's id and version to remember what it sent.
        for rows in () if copied else read_batches(plan, stmt, versions=changes):
            writer.write_batch(rows, skip=2 if changes else 0)
            if changes:
                for row in rows:
                    if row[1] >= keep_from:
                        marked_ids.append(row[0])
                        marked_at.append(_micros(row[1]))
            if time.monotonic() - beat > HEARTBEAT_SECONDS:
                beat = time.monotonic()
                _heartbeat(run_id)
    finally:
        writer.close()
    run.rows, run.replaced_cells = writer.rows, writer.replaced
    run.file_size = path.stat().st_size
    run.sha256 = writer.sha256 or _sha256(path)
    if writer.replaced:
        run.message = _(
            "%(count)d cells held characters Windows-1252 cannot: replaced "
            "(line:column) %(cells)s%(more)s",
            count=writer.replaced,
            cells=", ".join(f"{line}:{col}" for line, col in writer.replaced_cells),
            more="…" if writer.replaced > REPLACEMENTS_NAMED else "",
        )
    db.session.flush()
    run.delivered_to = KINDS[export.destination].deliver(export, run, path)[:2000]
    if export.is_changes_only:
        _save_marks(export, marked_ids, marked_at, keep_from)
        export.changes_since = keep_from
    run.status, run.finished_at = "succeeded", datetime.now(UTC)
    export.locked_by_run_id = None
    db.session.commit()


def _watermark(export: Export, candidate: datetime) -> datetime:
    """The next watermark: `candidate`, held behind PostgreSQL's oldest writing transaction,
    never moved back (marks older than the current one are gone)."""
    if db.session.get_bind().dialect.name == "postgresql":
        oldest = db.session.scalar(
            text(
                "SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
            )
        )
        if oldest is not None:
            lag = timedelta(seconds=float(current_app.config["EXPORT_CHANGES_LAG_SECONDS"]))
            candidate = min(candidate, oldest - lag)
    if export.changes_since is not None:
        candidate = max(candidate, export.changes_since)
    return candidate


def _micros(moment: datetime) -> int:
    return int((moment - EPOCH) / timedelta(microseconds=1))


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _save_marks(export: Export, ids: array, moments: array, keep_from: datetime) -> None:
    """Remember the versions sent that may still be candidates; forget the older ones."""
    db.session.execute(
        delete(ExportMark)
        .where(and_(ExportMark.export_id == export.id, ExportMark.updated_at < keep_from))
        .execution_options(synchronize_session=False)
    )
    insert = (
        postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )(ExportMark)
    upsert = insert.on_conflict_do_update(
        index_elements=["tenant_id", "export_id", "record_id"],
        set_={"updated_at": insert.excluded.updated_at},
    )
    for start in range(0, len(ids), MARK_BATCH):
        db.session.execute(
            upsert,
            [
                {
                    "tenant_id": export.tenant_id,
                    "export_id": export.id,
                    "record_id": record_id,
                    "updated_at": EPOCH + timedelta(microseconds=micros),
                }
                for record_id, micros in zip(
                    ids[start : start + MARK_BATCH],
                    moments[start : start + MARK_BATCH],
                    strict=True,
                )
            ],
        )


def _heartbeat(run_id: int) -> None:
    """Beat on a connection of its own: the session's read goes on."""
    with db.engine.begin() as connection:
        connection.execute(
            update(ExportRun.__table__)
            .where(ExportRun.__table__.c.id == run_id)
            .values(heartbeat_at=datetime.now(UTC))
        )


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fail_abandoned_runs(stale_seconds: float) -> int:
    """End the runs whose process stopped beating (their export's lock goes with them); the
    next run of a changes-only export sends their rows, since they moved no watermark."""
    limit = datetime.now(UTC) - timedelta(seconds=stale_seconds)
    ids = db.session.scalars(
        select(ExportRun.id).where(ExportRun.status == "running", ExportRun.heartbeat_at < limit)
    ).all()
    for run_id in ids:
        _fail(run_id, _("The process running this export stopped: nothing was sent."))
    return len(ids)
