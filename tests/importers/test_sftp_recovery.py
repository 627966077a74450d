"""A file sent by SFTP whose run was cut by its worker's death: the recovery runs it again,
and the sender finds the second go's summary and errors in outbox/ as after any run; a file
the recovery does not run again gets the interrupted run's summary."""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import FeedArrival, ImportRun
from importers import jobs as import_jobs
from tests.importers.conftest import wait_until
from tests.importers.test_sftp_inbox import ONE_BAD, connect, upload

DEAD_WORKER = f"{socket.gethostname()[:80]}:999999999:0a1b2c3d"  # no such pid


@pytest.fixture
def account(make_feed_account, make_profile):
    make_profile("accounts", {"Code": "external_ref", "Nom": "name", "Ville": "city"},
                 key="external_ref", name="clients-nuit")
    return make_feed_account(name="erp",
                             routes=[{"pattern": "clients/*.csv", "profile": "clients-nuit"}])


@pytest.fixture
def killed_run(sftp_server, account, monkeypatch):
    """The run of a file sent by SFTP, as a worker SIGKILLed while running it leaves it."""
    monkeypatch.setattr(import_jobs, "queue_run", lambda run: None)  # no worker takes it
    sftp = connect(sftp_server)
    sftp.mkdir("clients")
    upload(sftp, ONE_BAD, "clients/export.csv.part")
    sftp.rename("clients/export.csv.part", "clients/export.csv")
    run = wait_until(lambda: db.session.rollback() or db.session.scalar(select(ImportRun)))
    run.status, run.worker_id = "running", DEAD_WORKER
    db.session.commit()
    yield run, sftp
    sftp.close()


def outbox(sftp) -> list[str]:
    return sorted(sftp.listdir("outbox"))


def test_a_recovered_run_writes_its_results_to_the_outbox(killed_run):
    run, sftp = killed_run
    assert import_jobs.recover_runs() == 1

    def second_go() -> ImportRun | None:
        db.session.rollback()
        again = db.session.scalar(select(ImportRun).where(ImportRun.id > run.id))
        return again if again is not None and again.is_finished else None

    again = wait_until(second_go, timeout=30)
    assert again is not None and (again.status, again.source) == ("partial", "sftp")
    assert db.session.get(ImportRun, run.id).status == "interrupted"
    wanted = [f"export.csv.run-{again.id}.errors.csv", f"export.csv.run-{again.id}.json"]
    assert wait_until(lambda: outbox(sftp) == wanted), outbox(sftp)
    with sftp.open(f"outbox/{wanted[1]}") as fh:
        summary = json.loads(fh.read())
    assert (summary["run"], summary["status"], summary["created"], summary["failed"]) == (
        again.id, "partial", 1, 1)
    assert summary["file"] == "clients/export.csv"
    with sftp.open(f"outbox/{wanted[0]}") as fh:
        assert "C2" in fh.read().decode()
    # The health page's arrival leads to the run that carries the file's outcome.
    assert db.session.scalar(select(FeedArrival.run_id)) == again.id


def test_a_run_not_run_again_writes_the_interrupted_summary(killed_run, monkeypatch):
    run, sftp = killed_run
    from importers import recovery

    monkeypatch.setattr(recovery, "AUTO_RERUNS", -1)  # this file killed its worker too often
    assert import_jobs.recover_runs() == 1
    assert db.session.scalar(select(ImportRun.id).where(ImportRun.id > run.id)) is None
    name = f"export.csv.run-{run.id}.json"
    assert wait_until(lambda: outbox(sftp) == [name]), outbox(sftp)
    with sftp.open(f"outbox/{name}") as fh:
        summary = json.loads(fh.read())
    assert (summary["run"], summary["status"]) == (run.id, "interrupted")
