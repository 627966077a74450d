"""The job engine with a broker: jobs queued on the machine's Redis run in `flask worker`
processes (another process, the same database), a worker SIGKILLed mid-import has its run
recovered and run again to a clean run's state, webhooks go out from a worker, and of two
`flask scheduler` processes only the lease holder fires."""
from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from app.extensions import db
from app.models import Account, ImportRun, SchedulerLease
from importers import jobs as import_jobs
from importers import runs
from tests.jobs.conftest import COLUMNS, accounts_state, finished, wait_for, write_feed
from tests.jobs.test_embedded import clean_state, queue
from tests.webhooks.conftest import Receiver, _serve


def worker_pid(run: ImportRun) -> int:
    return int((run.worker_id or "::").split(":")[1] or 0)


def test_an_upload_queued_by_the_web_runs_in_a_worker_process(
        broker, spawn, tenant, make_profile, tmp_path):
    profile = make_profile("accounts", COLUMNS, name="clients")
    run = queue(profile, write_feed(tmp_path / "clients.csv", 200))
    worker = spawn("worker")

    import_jobs.submit(broker, run.id, tenant.id)

    done = wait_for(lambda: finished(run.id))
    assert done.status == "succeeded" and done.created == 200
    assert worker_pid(done) == worker.pid != os.getpid()
    assert len(accounts_state()) == 200


def test_a_worker_killed_mid_import_is_recovered_and_run_again_to_a_clean_runs_state(
        broker, spawn, tenant, other_tenant, make_profile, tmp_path):
    path = write_feed(tmp_path / "clients.csv", 60_000)
    expected = clean_state(other_tenant.id, path)
    profile = make_profile("accounts", COLUMNS, name="clients")
    run = queue(profile, path)
    first = spawn("worker")
    import_jobs.submit(broker, run.id, tenant.id)

    # Killed once its first batches are written, before its end.
    wait_for(lambda: (found := db.session.get(ImportRun, run.id, populate_existing=True))
             and found.status == "running" and found.rows_done > 0, every=0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    db.session.expire_all()
    killed = db.session.get(ImportRun, run.id)
    assert killed.status == "running" and 0 < killed.rows_done < 60_000
    assert 0 < len(accounts_state()) < 60_000  # half imported

    second = spawn("worker")
    assert import_jobs.recover_runs() == 1  # what the scheduler fires

    assert finished(run.id).status == "interrupted"
    again = wait_for(lambda: db.session.scalar(db.select(ImportRun).where(
        ImportRun.id > run.id, ImportRun.status.in_(("succeeded", "failed", "partial")))),
        timeout=180)
    assert again.status == "succeeded" and worker_pid(again) == second.pid
    assert accounts_state() == expected


def test_two_workers_run_one_profiles_files_in_the_order_they_came(
        broker, spawn, tenant, make_profile, tmp_path):
    """Three nightly files of one profile, sent one after the other (a large one, then two
    that each change one customer's city), taken by two workers: one at a time, and in the
    order they came, so that the last file's value is the one kept."""
    profile = make_profile("accounts", COLUMNS, name="clients")
    first = queue(profile, write_feed(tmp_path / "night1.csv", 40_000))
    later = []
    for night, city in ((2, "Lyon"), (3, "Nantes")):
        path = tmp_path / f"night{night}.csv"
        path.write_text(f"Code client;Raison sociale;Ville\nC0000000;Client 0;{city}\n",
                        encoding="utf-8")
        later.append(queue(profile, path))
    for run in (first, *later):
        import_jobs.submit(broker, run.id, tenant.id)
    spawn("worker")
    spawn("worker")
    ended = [wait_for(lambda run_id=run.id: finished(run_id), timeout=240)
             for run in (first, *later)]
    assert [run.status for run in ended] == ["succeeded"] * 3
    order = [run.id for run in sorted(ended, key=lambda run: run.started_at)]
    assert order == [first.id, *(run.id for run in later)]
    city = db.session.scalar(db.select(Account.city).where(Account.external_ref == "C0000000"))
    assert city == "Nantes"


def test_a_webhook_is_delivered_by_a_worker_process(broker, spawn, tenant, monkeypatch):
    from app.entities import ENTITIES
    from app.services import webhook_outbox
    from app.services.records import create_record
    from app.services.webhooks import create_endpoint

    webhook_outbox._subscriptions.clear()
    monkeypatch.setitem(broker.config, "WEBHOOK_ALLOW_PRIVATE", True)
    receiver = Receiver()
    server = _serve(receiver)
    try:
        create_endpoint({"url": receiver.url, "events": ["accounts.created"]})
        db.session.commit()
        spawn("worker")
        account = create_record(ENTITIES["accounts"], {"name": "Dupont SA"})
        db.session.commit()  # queues the delivery and its job

        call = receiver.wait(timeout=30)[0]
        assert call.event == "accounts.created"
        assert call.json["data"]["id"] == account.id
    finally:
        server.shutdown()
        server.server_close()


def test_of_two_scheduler_processes_only_the_lease_holder_fires(broker, app_ctx, spawn,
                                                                redis_url, tmp_path):
    settings = {"JOBS_LEASE_SECONDS": "2", "IMPORT_RECOVERY_SECONDS": "0.2",
                "IMPORT_WATCH": "1", "WEBHOOK_DISPATCH": "0"}
    first = spawn("scheduler", **settings)
    second = spawn("scheduler", **settings)
    default = Queue("default", connection=Redis.from_url(redis_url))

    def firings() -> list[str]:
        found = [default.fetch_job(job_id) for job_id in default.get_job_ids()]
        return [job.meta["by"] for job in found
                if job is not None and job.args[0] == "recover_runs"]

    try:  # two processes starting, on a busy machine
        wait_for(lambda: len(firings()) >= 10, timeout=90)
    except AssertionError:  # who holds the lease, and what the two processes said
        leases = [(lease.holder, lease.expires_at)
                  for lease in db.session.scalars(db.select(SchedulerLease))]
        logs = {log.name: log.read_text(errors="replace")[-2000:]
                for log in sorted(tmp_path.glob("scheduler-*.log"))}
        raise AssertionError(f"{len(firings())} firings; leases {leases}; "
                             f"now {datetime.now(UTC)}; logs {logs}") from None
    fired = firings()
    assert len(set(fired)) == 1, fired  # one process fired them all
    leader, other = (first, second) if fired[0].endswith(f":{first.pid}") else (second, first)
    assert fired[0].endswith(f":{leader.pid}")

    leader.send_signal(signal.SIGKILL)
    leader.wait(10)
    before = len(firings())
    time.sleep(0.5)  # its lease still runs: nobody fires
    assert len(firings()) == before
    taken = wait_for(lambda: [by for by in firings()[before:] if by.endswith(f":{other.pid}")],
                     timeout=15)
    assert taken
    assert all(by.endswith(f":{other.pid}") for by in firings()[before:])


def test_a_worker_killed_mid_revert_leaves_nothing_and_the_revert_completes_again(
        broker, spawn, tenant, make_profile, tmp_path):
    from app.services.import_revert import request_revert

    profile = make_profile("accounts", COLUMNS, name="clients")
    run = queue(profile, write_feed(tmp_path / "clients.csv", 1_500))
    assert runs.run_import(run.id, tenant.id, max_wait=0).status == "succeeded"
    run = db.session.get(ImportRun, run.id, populate_existing=True)
    request_revert(run)
    db.session.commit()
    first = spawn("worker")
    import_jobs.submit_revert(broker, run.id, tenant.id)

    wait_for(lambda: db.session.get(ImportRun, run.id, populate_existing=True)
             .revert_status == "running", every=0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed = db.session.get(ImportRun, run.id, populate_existing=True)
    if killed.revert_status == "done":
        pytest.skip("the revert ended before the worker could be killed")
    assert killed.revert_status == "running" and killed.reverted_at is None
    assert len(accounts_state()) == 1_500  # all or nothing: nothing

    second = spawn("worker")
    import_jobs.recover_runs()  # what the scheduler fires

    done = wait_for(lambda: (found := db.session.get(ImportRun, run.id, populate_existing=True))
                    .revert_status == "done" and found, timeout=240)
    assert done.reverted_at is not None and done.revert_worker_id.split(":")[1] == \
        str(second.pid)
    assert accounts_state() == []


def test_a_worker_gives_the_cpu_to_the_pages_first(broker, spawn):
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    niced = spawn("worker", JOBS_WORKER_NICE="10")
    plain = spawn("worker", "--nice", "0", JOBS_WORKER_NICE="10")
    deadline = time.monotonic() + 30
    while os.getpriority(os.PRIO_PROCESS, niced.pid) == mine and time.monotonic() < deadline:
        time.sleep(0.1)
    assert os.getpriority(os.PRIO_PROCESS, niced.pid) == min(mine + 10, 19)
    assert os.getpriority(os.PRIO_PROCESS, plain.pid) == mine


def _session_nice(pid: int) -> int:
    # "/autogroup-42 nice 10"
    return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])


def _in_an_autogroup() -> bool:
    # The file is empty when the process's CPU group is a cgroup (a container, a systemd
    # slice with CPU accounting) rather than its session's autogroup.
    autogroup = Path("/proc/self/autogroup")
    return autogroup.exists() and bool(autogroup.read_text().strip())


@pytest.mark.skipif(not _in_an_autogroup(),
                    reason="the kernel shares the CPU by session only with autogroup")
def test_a_worker_leading_its_own_session_lowers_the_session_too(broker, spawn):
    # Started as systemd starts a service (its own session), the worker is alone in its
    # session's CPU group: its nice value alone would rank it only against itself, and it
    # would take as much CPU as gunicorn's whole group.
    mine = _session_nice(os.getpid())
    lowered = min(os.getpriority(os.PRIO_PROCESS, 0) + 10, 19)
    niced = spawn("worker", new_session=True, JOBS_WORKER_NICE="10")
    plain = spawn("worker", "--nice", "0", new_session=True, JOBS_WORKER_NICE="10")
    inside = spawn("worker", JOBS_WORKER_NICE="10")  # in the tests' session: left alone
    deadline = time.monotonic() + 30
    while _session_nice(niced.pid) != lowered and time.monotonic() < deadline:
        time.sleep(0.1)
    while os.getpriority(os.PRIO_PROCESS, inside.pid) == os.getpriority(os.PRIO_PROCESS, 0) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _session_nice(niced.pid) == lowered
    assert _session_nice(plain.pid) == 0
    assert _session_nice(inside.pid) == _session_nice(os.getpid()) == mine
