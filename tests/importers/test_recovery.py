"""A run ends whatever happens: an error in its own error handling ends it failed, a run whose
process or heartbeat stopped is recovered by the periodic check (no restart), and its feed
proceeds; SQLite writers wait for each other instead of failing."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models import ImportRun, WebhookDelivery
from app.services import feeds
from app.services.webhooks import create_endpoint
from importers import heartbeat, recovery, runs
from importers.engine import ImportEngine

COLUMNS = {"Code client": "external_ref", "Raison sociale": "name"}


@pytest.fixture
def feed(app, tenant, tmp_path, make_profile, monkeypatch):
    """An accounts feed, its file, and an endpoint that wants to hear of failed imports."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    create_endpoint({"url": "http://127.0.0.1:9/relais", "events": ["import.failed"]})
    profile = make_profile("accounts", COLUMNS, name="clients")
    path = tmp_path / "clients.csv"
    path.write_text("Code client;Raison sociale\nC1;Dupont\nC2;Martin\n", encoding="utf-8")
    db.session.commit()
    return profile, path


def queue(profile, path: Path) -> ImportRun:
    with path.open("rb") as stream:
        run = feeds.create_run(profile, stream, path.name, source="upload", force=True)
    db.session.commit()
    return run


def failed_webhooks(run_id: int) -> list[WebhookDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.event == "import.failed", WebhookDelivery.record_id == run_id)))


def fresh(run: ImportRun) -> ImportRun:
    db.session.expire_all()
    return db.session.get(ImportRun, run.id)


def test_a_run_whose_error_handling_fails_too_still_ends_failed(tenant, feed, monkeypatch):
    profile, path = feed
    first, second = queue(profile, path), queue(profile, path)

    def locked(self):
        raise OperationalError("UPDATE accounts", {}, Exception("database is locked"))

    monkeypatch.setattr(ImportEngine, "execute", locked)
    real_end, calls = runs.end_run, []

    def end_failing_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise OperationalError("UPDATE import_runs", {}, Exception("database is locked"))
        return real_end(*args, **kwargs)

    monkeypatch.setattr(runs, "end_run", end_failing_once)
    runs.run_import(first.id, tenant.id, max_wait=0)
    first = fresh(first)
    assert first.status == "failed" and first.finished_at is not None
    assert "database is locked" in first.message
    assert runs.holder(first) is None
    assert len(failed_webhooks(first.id)) == 1
    assert len(calls) == 2

    monkeypatch.undo()
    done = runs.run_import(second.id, tenant.id, max_wait=0)
    assert (done.status, done.counts["unchanged"] + done.counts["created"]) == ("succeeded", 2)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("owner, beat_ago, recovered", [
    ("dead-process", 0, True),  # killed, restarted at once: its heartbeat is still fresh
    ("same-pid-new-process", 0, True),  # a restarted container gets the same pid again
    ("other-host", 600, True),  # another machine's run: by its heartbeat alone
    ("other-host", 5, False),  # ... which is fresh: it may be running
])
def test_a_run_left_behind_is_recovered_without_a_restart_and_its_feed_proceeds(
        tenant, feed, owner, beat_ago, recovered):
    profile, path = feed
    stuck, waiting = queue(profile, path), queue(profile, path)
    host = socket.gethostname()
    stuck.worker_id = {"dead-process": f"{host}:{_dead_pid()}:0a1b2c3d",
                       "same-pid-new-process": f"{host}:{os.getpid()}:0a1b2c3d",
                       "other-host": "elsewhere:4242:0a1b2c3d"}[owner]
    stuck.status, stuck.started_at = "running", datetime.now(UTC) - timedelta(minutes=10)
    stuck.heartbeat_at = datetime.now(UTC) - timedelta(seconds=beat_ago)
    db.session.commit()
    assert runs.claim(stuck)
    assert runs.run_import(waiting.id, tenant.id, max_wait=0).status == "queued"
    waiting_again = queue(profile, path)  # queued in a pool, not yet picked up

    assert recovery.recover_interrupted_runs() == (2 if recovered else 1)  # + the abandoned one
    stuck = fresh(stuck)
    if not recovered:
        assert stuck.status == "running" and runs.holder(stuck) == stuck.id
        return
    assert stuck.status == "interrupted" and stuck.finished_at is not None
    assert runs.holder(stuck) is None
    assert len(failed_webhooks(stuck.id)) == 1
    assert fresh(waiting_again).status == "queued"
    done = runs.run_import(waiting_again.id, tenant.id, max_wait=0)
    assert done.status == "succeeded"


def test_a_queued_run_held_by_a_live_worker_is_not_recovered(tenant, feed):
    profile, path = feed
    run = queue(profile, path)
    heartbeat.hold(run.id)
    try:
        heartbeat.beat([run.id])
        assert recovery.recover_interrupted_runs(stale_seconds=0) == 0
    finally:
        heartbeat.let_go(run.id)
    assert fresh(run).status == "queued"
    assert recovery.recover_interrupted_runs(stale_seconds=0) == 1  # no longer held by anyone


def test_sqlite_writers_wait_for_each_other_instead_of_failing(app_ctx):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's locking")
    engine = db.engine
    with engine.connect() as first:
        assert first.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert first.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        first.exec_driver_sql("CREATE TABLE IF NOT EXISTS lock_probe (n INTEGER)")
        first.commit()
        first.exec_driver_sql("INSERT INTO lock_probe VALUES (1)")  # holds the write lock
        outcome: dict[str, object] = {}

        def second_writer() -> None:
            started = time.monotonic()
            try:
                with engine.connect() as second:
                    second.exec_driver_sql("INSERT INTO lock_probe VALUES (2)")
                    second.commit()
            except Exception as exc:  # noqa: BLE001 - what the test looks for
                outcome["error"] = exc
            outcome["waited"] = time.monotonic() - started

        thread = threading.Thread(target=second_writer)
        thread.start()
        time.sleep(1.0)
        first.commit()
        thread.join(30)
        first.exec_driver_sql("DROP TABLE lock_probe")
        first.commit()
    assert "error" not in outcome, outcome
    assert outcome["waited"] >= 0.9


def test_the_watch_beats_for_held_runs_and_the_recovery_ends_abandoned_ones(app, tenant, feed):
    profile, path = feed
    held, abandoned = queue(profile, path), queue(profile, path)
    abandoned.worker_id, abandoned.status = "elsewhere:4242:0a1b2c3d", "running"
    abandoned.heartbeat_at = datetime.now(UTC) - timedelta(minutes=5)
    db.session.commit()
    heartbeat.hold(held.id)
    try:
        heartbeat.RunWatch(app).tick()
        assert recovery.recover_interrupted_runs() == 1
    finally:
        heartbeat.let_go(held.id)
    held, abandoned = fresh(held), fresh(abandoned)
    assert held.status == "queued" and held.worker_id == heartbeat.worker_id()
    assert held.heartbeat_at is not None
    assert abandoned.status == "interrupted"


def test_a_run_another_delivery_runs_elsewhere_is_recovered_when_that_one_dies(tenant, feed):
    # The job was delivered twice: the other delivery took the profile and ran the file on
    # another worker, which was killed; this one waits here for the profile, holding the run.
    profile, path = feed
    run = queue(profile, path)
    assert runs.claim(run)
    run.status, run.worker_id = "running", f"{socket.gethostname()}:{_dead_pid()}:0a1b2c3d"
    run.heartbeat_at = datetime.now(UTC) - timedelta(minutes=5)
    db.session.commit()
    heartbeat.hold(run.id)
    try:
        heartbeat.beat([run.id])  # the waiting delivery does not beat for the dead one
        assert fresh(run).heartbeat_at < datetime.now(UTC) - timedelta(minutes=4)
        assert recovery.recover_interrupted_runs() == 1
    finally:
        heartbeat.let_go(run.id)
    assert fresh(run).status == "interrupted" and runs.holder(fresh(run)) is None
