"""The schedules of exports and pulls as jobs of the job engine (app/jobs.py).

`fire_schedules`, fired by the elected scheduler every FEED_SCHEDULE_SECONDS, takes each due
export or pull by moving its next firing forward with a conditional UPDATE (on the firing it
read): of two processes that read the same due row, one moves it and fires, the other finds
it moved and does nothing. A due export gets its run in the same transaction, then the
`export_run` job; a due pull, the `pull_feed` job. Firings missed while no scheduler ran are
fired once, not once per missed slot. The same job ends export runs whose process stopped and
queues again those that waited too long (a broker that lost them).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from app import jobs as engine
from app.extensions import db
from app.models import Export, ExportRun, FeedPull
from app.schedules import next_firing
from app.services.exports import start_run
from app.tenancy import Actor, all_tenants_unsafe, tenant_context
from importers import export_runs, pulls

log = logging.getLogger(__name__)
SCHEDULER = Actor("system", None, "scheduler")


def export_run(run_id: int, tenant_id: int) -> None:
    """The `export_run` job."""
    export_runs.run_export(run_id, tenant_id)


def pull_feed(pull_id: int, tenant_id: int) -> None:
    """The `pull_feed` job."""
    pulls.pull_feed(pull_id, tenant_id)


def submit_run(run: ExportRun) -> None:
    """Hand a queued run to the job engine (broker down: the schedule job queues it again)."""
    try:
        engine.enqueue(
            "export_run",
            run.id,
            run.tenant_id,
            app=current_app._get_current_object(),  # type: ignore[attr-defined]
            job_id=f"export_run-{run.id}",
        )
    except Exception:  # noqa: BLE001 - saved as queued; fire_schedules retries
        log.exception("export run %s: queuing it failed", run.id)


def fire_schedules() -> int:
    """The `fire_schedules` job: fire what is due; returns how many were fired."""
    now = datetime.now(UTC)
    with all_tenants_unsafe("job:fire_schedules"):
        exports = db.session.execute(
            select(Export.id, Export.tenant_id, Export.next_run_at).where(
                Export.is_active.is_(True), Export.schedule.isnot(None), Export.next_run_at <= now
            )
        ).all()
        due_pulls = db.session.execute(
            select(FeedPull.id, FeedPull.tenant_id, FeedPull.next_run_at).where(
                FeedPull.is_active.is_(True), FeedPull.next_run_at <= now
            )
        ).all()
        _recover(now)
        db.session.commit()
    fired = 0
    for export_id, tenant_id, due in exports:
        with tenant_context(tenant_id, SCHEDULER):
            run = _take_export(export_id, due, now)
            if run is not None:
                submit_run(run)
                fired += 1
    for pull_id, tenant_id, due in due_pulls:
        with tenant_context(tenant_id, SCHEDULER):
            if _take_pull(pull_id, due, now):
                engine.enqueue(
                    "pull_feed", pull_id, tenant_id, app=current_app._get_current_object()
                )  # type: ignore[attr-defined]
                fired += 1
    return fired


def _take_export(export_id: int, due: datetime, now: datetime) -> ExportRun | None:
    export = db.session.scalar(select(Export).where(Export.id == export_id))
    if export is None or not export.schedule:
        db.session.rollback()
        return None
    moved = (
        db.session.execute(
            update(Export)
            .where(Export.id == export_id, Export.next_run_at == due)
            .values(next_run_at=next_firing(export.schedule, now))
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    if not moved:  # another process fired it
        db.session.rollback()
        return None
    run = start_run(export, "schedule")
    db.session.commit()
    return run


def _take_pull(pull_id: int, due: datetime, now: datetime) -> bool:
    pull = db.session.scalar(select(FeedPull).where(FeedPull.id == pull_id))
    if pull is None:
        db.session.rollback()
        return False
    moved = (
        db.session.execute(
            update(FeedPull)
            .where(FeedPull.id == pull_id, FeedPull.next_run_at == due)
            .values(next_run_at=next_firing(pull.schedule, now))
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    db.session.commit()
    return moved


def _recover(now: datetime) -> None:
    stale = float(current_app.config["EXPORT_STALE_SECONDS"])
    ended = export_runs.fail_abandoned_runs(stale)
    if ended:
        log.warning("%d export run(s) ended: their process stopped", ended)
    waiting = db.session.scalars(
        select(ExportRun).where(
            ExportRun.status == "queued", ExportRun.created_at < now - timedelta(seconds=stale)
        )
    ).all()
    for run in waiting:
        submit_run(run)
