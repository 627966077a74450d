"""Import runs left behind: a run whose process stopped, or whose heartbeat stopped, is ended
`interrupted` (its profile released, import.failed queued) so that the runs queued behind it
proceed; then, unless that would undo a later file, it is run again. Platform work over
every tenant: the scheduled `recover_runs` job (importers/jobs.py) and the start of
`flask feed import`."""
from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import FeedArrival, ImportRun
from app.models.feed import LIVE
from app.services.feeds import rerun, run_file_path
from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context
from importers import heartbeat, runs

log = logging.getLogger(__name__)
AUTO_RERUNS = 2  # an interrupted file is run again this many times at most
# Kept in English, translated where it is shown (the run page, the API).
INTERRUPTED = "The run stopped before its end: its process stopped."


def recover(app: Flask) -> None:
    """End the runs a stopped process or a stopped heartbeat left behind (each in its own
    tenant's context, as its end is audited there)."""
    with app.app_context():
        count = recover_interrupted_runs()
        if count:
            log.warning("%d import run(s) marked interrupted", count)


def recover_interrupted_runs(stale_seconds: float | None = None) -> int:
    """End the runs left behind `interrupted`; returns how many it ended."""
    return len(interrupt_abandoned_runs(stale_seconds))


def interrupt_abandoned_runs(stale_seconds: float | None = None,
                             keep: Collection[int] = ()) -> list[tuple[int, int]]:
    """recover_interrupted_runs, sparing the runs in `keep` (known to wait in a queue);
    (run id, tenant id) of the runs it ended."""
    if stale_seconds is None:
        stale_seconds = float(current_app.config["IMPORT_STALE_SECONDS"])
    stale = datetime.now(UTC) - timedelta(seconds=stale_seconds)
    held, me = set(heartbeat.held_runs()) | set(keep), heartbeat.worker_id()
    with all_tenants_unsafe("import recovery"):
        live = db.session.execute(select(
            ImportRun.id, ImportRun.tenant_id, ImportRun.status, ImportRun.worker_id,
            ImportRun.heartbeat_at, ImportRun.created_at)
            .where(ImportRun.status.in_(LIVE))).all()
        db.session.rollback()
    ended: list[tuple[int, int]] = []
    for run_id, tenant_id, status, owner, heartbeat_at, created_at in live:
        # Held here: waiting in this process, or run by it; not when another delivery of its
        # job runs it elsewhere (that one's end is judged by its own heartbeat).
        if run_id in held and (status == "queued" or owner == me):
            continue
        last = heartbeat_at or created_at
        if owner == me or heartbeat.worker_is_gone(owner) or last is None or last < stale:
            with tenant_context(tenant_id, SYSTEM):
                try:
                    if runs.end_run(run_id, "interrupted", INTERRUPTED):
                        ended.append((run_id, tenant_id))
                    db.session.commit()
                except Exception:  # the next check tries again
                    log.exception("import run %s: marking it interrupted failed", run_id)
                    db.session.rollback()
    return ended


def rerun_interrupted(run_id: int) -> ImportRun | None:
    """The interrupted run's second go, as if its file were sent again, unless another run of
    its profile came since (the older file would change records back; a dry run does not)
    or the file was already interrupted AUTO_RERUNS times (a file that kills its worker must
    not loop).
    Flushes: the caller commits."""
    run = db.session.get(ImportRun, run_id)
    if run is None or run.status != "interrupted" or run.profile is None:
        return None
    later = db.session.scalar(select(ImportRun.id).where(  # a dry run changes nothing back
        ImportRun.profile_id == run.profile_id, ImportRun.id > run.id,
        ImportRun.is_dry_run.is_(False)).limit(1))
    tries = db.session.scalar(select(func.count()).select_from(ImportRun).where(
        ImportRun.profile_id == run.profile_id, ImportRun.sha256 == run.sha256,
        ImportRun.status == "interrupted",
        ImportRun.created_at >= datetime.now(UTC) - timedelta(days=1)))
    if later is not None or (tries or 0) > AUTO_RERUNS or not run_file_path(run).exists():
        return None
    again = rerun(run)
    # A file that came by SFTP: its arrival now leads to the second go, whose results (not
    # the interrupted run's) go back to the sender's outbox/ (importers/sftp/arrivals.py).
    db.session.execute(
        update(FeedArrival).where(FeedArrival.run_id == run.id).values(run_id=again.id)
    )
    return again
