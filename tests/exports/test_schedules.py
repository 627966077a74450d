"""Schedules: cron in the tenant's time zone; a due export fires once, whatever the number of
processes looking at it (two sweeps at once, or two `flask scheduler` processes of which the
lease holder fires), and as a job of the registry."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue
from sqlalchemy import select, update

from app.extensions import db
from app.models import Export, ExportRun
from app.schedules import next_firing
from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context
from importers import scheduled
from tests.jobs.conftest import wait_for

YEARLY = "0 6 1 1 *"  # far away: a firing during the test is the forced one only


def make_due(*exports: Export) -> None:
    with all_tenants_unsafe("tests"):
        db.session.execute(
            update(Export)
            .where(Export.id.in_([e.id for e in exports]))
            .values(next_run_at=datetime.now(UTC) - timedelta(minutes=1))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def runs_of(export: Export) -> list[ExportRun]:
    return list(db.session.scalars(select(ExportRun).where(ExportRun.export_id == export.id)))


def test_a_schedule_reads_in_the_tenants_time_zone(app_ctx):
    # 06:30 in Paris is 05:30 UTC in winter and 04:30 UTC in summer.
    assert next_firing("30 6 * * *", datetime(2026, 1, 15, 12, tzinfo=UTC)) == datetime(
        2026, 1, 16, 5, 30, tzinfo=UTC
    )
    assert next_firing("30 6 * * *", datetime(2026, 7, 15, 12, tzinfo=UTC)) == datetime(
        2026, 7, 16, 4, 30, tzinfo=UTC
    )


def test_a_new_export_waits_for_its_next_firing(make_export):
    export = make_export(schedule="30 6 * * 1-5")
    assert export.next_run_at == next_firing("30 6 * * 1-5")
    assert make_export(name="sans-horaire").next_run_at is None


def test_two_sweeps_at_once_fire_a_due_export_once(app, tenant, make_export, monkeypatch):
    enqueued: list[tuple] = []
    monkeypatch.setattr(
        scheduled.engine, "enqueue", lambda name, *args, **kw: enqueued.append((name, *args))
    )
    exports = [make_export(name=f"export-{n}", schedule=YEARLY) for n in range(3)]
    make_due(*exports)
    barrier = threading.Barrier(2)

    def sweep() -> None:
        with app.app_context():
            barrier.wait()
            scheduled.fire_schedules()
            db.session.remove()

    workers = [threading.Thread(target=sweep) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    with tenant_context(tenant.id, SYSTEM):
        db.session.expire_all()
        for export in exports:
            [run] = runs_of(export)
            assert run.trigger == "schedule" and run.status == "queued"
            assert db.session.get(Export, export.id).next_run_at > datetime.now(UTC)
    assert sorted(e[0] for e in enqueued) == ["export_run"] * 3


def test_of_two_scheduler_processes_each_due_export_fires_once(
    broker, app, tenant, make_export, spawn, redis_url
):
    """The lease holder fires the sweep; workers (two, racing) run it and the runs."""
    exports = [make_export(name=f"nuit-{n}", schedule=YEARLY) for n in range(3)]
    make_due(*exports)
    settings = {
        "JOBS_LEASE_SECONDS": "2",
        "FEED_SCHEDULES": "1",
        "FEED_SCHEDULE_SECONDS": "0.2",
        "IMPORT_WATCH": "0",
        "WEBHOOK_DISPATCH": "0",
        "TENANT_FILES_SWEEP": "0",
    }
    schedulers = [spawn("scheduler", **settings) for _ in range(2)]
    for _ in range(2):
        spawn("worker", **settings)
    wait_for(
        lambda: all(runs_of(e) and runs_of(e)[0].status == "succeeded" for e in exports),
        timeout=120,
    )
    sweeps = Queue("default", connection=Redis.from_url(redis_url))
    before = sweeps.finished_job_registry.count
    wait_for(lambda: sweeps.finished_job_registry.count >= before + 5, timeout=60)
    db.session.expire_all()
    assert [len(runs_of(e)) for e in exports] == [1, 1, 1]  # after many more sweeps
    fired = [sweeps.fetch_job(job_id) for job_id in sweeps.finished_job_registry.get_job_ids()]
    by = {job.meta["by"] for job in fired if job is not None and job.args[0] == "fire_schedules"}
    assert len(by) == 1  # one process, the lease holder, fired every sweep
    [holder] = by
    assert any(holder.endswith(f":{p.pid}") for p in schedulers)
