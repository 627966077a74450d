"""The job engine without a broker (`make run`): jobs run on this process's threads, the
recovery job runs an interrupted import again, and one process of several holds the lease."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest
from flask import Flask

from app import jobs
from app.extensions import db
from app.models import ImportRun
from app.scheduler import Election
from app.services import feeds
from app.services.import_revert import claim_revert, request_revert
from app.tenancy import SYSTEM, tenant_context
from importers import heartbeat, recovery, runs
from importers import jobs as import_jobs
from tests.jobs.conftest import COLUMNS, accounts_state, finished, wait_for, write_feed

DEAD_WORKER = f"{socket.gethostname()[:80]}:999999999:0a1b2c3d"  # no such pid


def queue(profile, path: Path) -> ImportRun:
    with path.open("rb") as stream:
        run = feeds.create_run(profile, stream, path.name, source="upload")
    db.session.commit()
    return run


def clean_state(tenant_id: int, path: Path) -> list[dict]:
    """The accounts one clean run of `path` leaves, in another tenant."""
    with tenant_context(tenant_id, SYSTEM):
        profile = feeds.create_profile({"name": "clients", "entity": "accounts",
                                          "columns": COLUMNS})
        run = queue(profile, path)
        assert runs.run_import(run.id, tenant_id, max_wait=0).status == "succeeded"
        return accounts_state()


def killed(run: ImportRun) -> ImportRun:
    """The run as a worker SIGKILLed while running it leaves it."""
    run.status, run.worker_id = "running", DEAD_WORKER
    db.session.commit()
    return run


def test_the_registry_fires_only_the_enabled_periodic_jobs(app: Flask, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_WATCH", True)
    monkeypatch.setitem(app.config, "WEBHOOK_DISPATCH", False)
    assert {job.name for job, _every in jobs.periodic(app)} == {"recover_runs"}
    monkeypatch.setitem(app.config, "IMPORT_WATCH", False)
    assert jobs.periodic(app) == []  # as in the other tests: no scheduler starts


def test_an_upload_runs_at_once_on_this_process_threads(app, tenant, make_profile, tmp_path):
    profile = make_profile("accounts", COLUMNS, name="clients")
    run = queue(profile, write_feed(tmp_path / "clients.csv", 50))
    import_jobs.submit(app, run.id, tenant.id)
    done = wait_for(lambda: finished(run.id), timeout=30)
    assert done.status == "succeeded" and done.created == 50
    assert done.worker_id == heartbeat.worker_id()


def test_the_recovery_job_runs_an_interrupted_import_again_to_a_clean_runs_state(
        app, tenant, other_tenant, make_profile, tmp_path):
    path = write_feed(tmp_path / "clients.csv", 300)
    expected = clean_state(other_tenant.id, path)
    profile = make_profile("accounts", COLUMNS, name="clients")
    run = killed(queue(profile, path))

    assert import_jobs.recover_runs() == 1

    assert finished(run.id).status == "interrupted"
    again = wait_for(lambda: db.session.scalar(db.select(ImportRun).where(
        ImportRun.id > run.id, ImportRun.status == "succeeded")), timeout=30)
    assert again.profile_id == profile.id and again.sha256 == run.sha256
    assert again.created == 300
    assert accounts_state() == expected


def test_an_interrupted_run_is_not_run_again_once_a_later_file_came(
        app, tenant, make_profile, tmp_path):
    profile = make_profile("accounts", COLUMNS, name="clients")
    run = killed(queue(profile, write_feed(tmp_path / "old.csv", 5)))
    later = queue(profile, write_feed(tmp_path / "new.csv", 7))
    heartbeat.hold(later.id)  # its upload's pool has it
    try:
        assert import_jobs.recover_runs() == 1
    finally:
        heartbeat.let_go(later.id)
    assert db.session.scalar(db.select(db.func.count()).select_from(ImportRun)) == 2
    assert finished(run.id).status == "interrupted"


def test_an_interrupted_run_is_run_again_when_only_a_dry_run_came_after_it(
        app, tenant, make_profile, tmp_path):
    """A dry run asked while the night's import ran writes nothing: the older file cannot
    change back what it did, so the night's file still gets its second go."""
    profile = make_profile("accounts", COLUMNS, name="clients")
    with write_feed(tmp_path / "nuit.csv", 20).open("rb") as stream:
        run = feeds.create_run(profile, stream, "nuit.csv", source="upload")
    run.status, run.worker_id = "running", DEAD_WORKER
    db.session.commit()
    with write_feed(tmp_path / "essai.csv", 3).open("rb") as stream:
        dry = feeds.create_run(profile, stream, "essai.csv", source="upload", dry_run=True)
    db.session.commit()
    heartbeat.hold(dry.id)  # its upload's pool has it, waiting for the profile
    try:
        with tenant_context(tenant.id, SYSTEM):
            assert recovery.interrupt_abandoned_runs() == [(run.id, tenant.id)]
            again = recovery.rerun_interrupted(run.id)
            db.session.commit()
    finally:
        heartbeat.let_go(dry.id)
    assert again is not None, "the interrupted file is never run again"
    assert again.sha256 == run.sha256 and not again.is_dry_run


def test_a_file_that_keeps_killing_its_worker_is_not_run_again_forever(
        app, tenant, make_profile, tmp_path):
    profile = make_profile("accounts", COLUMNS, name="clients")
    path = write_feed(tmp_path / "clients.csv", 3)
    run = killed(queue(profile, path))
    for _attempt in range(recovery.AUTO_RERUNS + 1):
        with tenant_context(tenant.id, SYSTEM):
            recovery.interrupt_abandoned_runs()
            again = recovery.rerun_interrupted(run.id)
            db.session.commit()
        if again is None:
            break
        run = killed(again)
    assert again is None
    assert db.session.scalar(db.select(db.func.count()).select_from(ImportRun)) \
        == recovery.AUTO_RERUNS + 1


def test_one_process_holds_the_scheduler_lease_until_it_stops(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_LEASE_SECONDS", 1.0)
    first, second = Election(app), Election(app)
    assert first.renew() and first.leading
    assert not second.renew() and not second.leading
    assert first.renew()  # renewing keeps it
    first.resign()
    assert not first.leading
    assert second.renew() and not first.renew()


def test_an_expired_lease_passes_to_another_process(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_LEASE_SECONDS", 1.0)
    first, second = Election(app), Election(app)
    assert first.renew()
    assert not second.renew()
    import time

    time.sleep(1.1)  # the first one stopped renewing (killed)
    assert not first.leading  # it stopped firing before its lease expired
    assert second.renew() and not first.renew()


@pytest.fixture(autouse=True)
def _embedded(app: Flask, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(app.config, "JOBS_BROKER_URL", "")
    jobs.forget_runner(app)


def test_an_upload_made_while_the_broker_is_down_is_saved_for_the_recovery(
        app, tenant, make_profile, tmp_path, monkeypatch):
    profile = make_profile("accounts", COLUMNS, name="clients")
    run = queue(profile, write_feed(tmp_path / "clients.csv", 3))
    monkeypatch.setitem(app.config, "JOBS_BROKER_URL", "redis://127.0.0.1:1/14")
    jobs.forget_runner(app)
    try:
        assert import_jobs.submit(app, run.id, tenant.id) is None  # no error page
    finally:
        jobs.forget_runner(app)
    assert finished(run.id) is None  # still queued: recovery runs it once it is stale


def _imported(profile, path: Path, tenant_id: int) -> ImportRun:
    run = queue(profile, path)
    assert runs.run_import(run.id, tenant_id, max_wait=0).status == "succeeded"
    return db.session.get(ImportRun, run.id, populate_existing=True)


def _reverted(run_id: int) -> ImportRun | None:
    run = db.session.get(ImportRun, run_id, populate_existing=True)
    return run if run.revert_status not in ("queued", "running") else None


def test_a_revert_asked_runs_on_this_process_threads(app, tenant, make_profile, tmp_path):
    profile = make_profile("accounts", COLUMNS, name="clients")
    run = _imported(profile, write_feed(tmp_path / "clients.csv", 40), tenant.id)
    request_revert(run)
    db.session.commit()
    import_jobs.submit_revert(app, run.id, tenant.id)
    done = wait_for(lambda: _reverted(run.id), timeout=30)
    assert done.revert_status == "done" and done.reverted_at is not None
    assert done.revert_summary["counts"]["deleted"] == 40
    assert accounts_state() == []


def test_the_recovery_job_queues_again_a_revert_whose_worker_died(
        app, tenant, make_profile, tmp_path):
    profile = make_profile("accounts", COLUMNS, name="clients")
    run = _imported(profile, write_feed(tmp_path / "clients.csv", 30), tenant.id)
    request_revert(run)
    db.session.commit()
    assert claim_revert(run.id, DEAD_WORKER)  # taken, then the worker was SIGKILLed
    db.session.commit()
    assert len(accounts_state()) == 30  # its one transaction died with it

    import_jobs.recover_runs()

    done = wait_for(lambda: _reverted(run.id), timeout=30)
    assert done.revert_status == "done" and accounts_state() == []
