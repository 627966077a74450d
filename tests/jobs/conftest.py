"""Job engine fixtures: an accounts feed, the records' state to compare runs by, and, for the
broker mode, the machine's Redis (database 14; under xdist, one per worker) with
`flask worker` / `flask scheduler` processes that share the test's database."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import jobs
from app.extensions import db
from app.models import Account, ImportRun
from tests.conftest import xdist_worker
from tests.importers.conftest import make_profile  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
# Database 14 is this suite's own; each pytest-xdist worker takes its own below it (12, 10…).
REDIS_URL = os.environ.get("TEST_JOBS_BROKER_URL",
                           f"redis://127.0.0.1:6379/{14 - 2 * xdist_worker()}")
COLUMNS = {"Code client": "external_ref", "Raison sociale": "name", "Ville": "city"}
VOLATILE = {"id", "tenant_id", "created_at", "updated_at", "import_profile_id",
            "import_digest"}  # the importer's cache: salted with the profile it came through


def write_feed(path: Path, rows: int) -> Path:
    lines = ["Code client;Raison sociale;Ville"]
    lines += [f"C{i:07d};Client {i};Ville {i % 97}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def accounts_state() -> list[dict[str, Any]]:
    """The tenant's accounts as a user sees them: every column but ids and timestamps, and
    without the run that last wrote them (a re-run is another run)."""
    state = []
    for account in db.session.scalars(select(Account).order_by(Account.external_ref)):
        state.append({column.key: getattr(account, column.key)
                      for column in Account.__table__.columns
                      if column.key not in VOLATILE and "run" not in column.key})
    return state


def wait_for(check: Callable[[], Any], timeout: float = 60.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        db.session.expire_all()
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        time.sleep(every)


def finished(run_id: int) -> ImportRun | None:
    run = db.session.get(ImportRun, run_id, populate_existing=True)
    return run if run is not None and run.is_finished else None


# -- broker mode --------------------------------------------------------------------------

@pytest.fixture
def redis_url() -> str:
    from redis import Redis
    from redis.exceptions import RedisError

    connection = Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except RedisError as exc:
        pytest.skip(f"Redis is unreachable at {REDIS_URL} ({exc}); .ci/run starts it")
    connection.flushdb()  # this suite's own database
    yield REDIS_URL
    connection.flushdb()


@pytest.fixture
def broker(app: Flask, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """This process queues jobs on Redis (as a web node with JOBS_BROKER_URL set does)."""
    monkeypatch.setitem(app.config, "JOBS_BROKER_URL", redis_url)
    jobs.forget_runner(app)
    yield app
    jobs.forget_runner(app)


@pytest.fixture
def spawn(app: Flask, redis_url: str,
          tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """spawn("worker" | "scheduler", **env): a `flask` process on the test's database (its
    output in tmp_path/<command>-<n>.log); `new_session=True` starts it as a service manager
    does, leading its own session."""
    started: list[subprocess.Popen] = []

    def start(command: str, *args: str, new_session: bool = False,
              **env: str) -> subprocess.Popen:
        environment = {
            **os.environ, "FLASK_APP": "wsgi.py",
            "DATABASE_URL": str(app.config["SQLALCHEMY_DATABASE_URI"]),
            "FILES_DIR": str(app.config["FILES_DIR"]), "SECRET_KEY": "test-secret",
            "JOBS_BROKER_URL": redis_url, "JOBS_SCHEDULER": "0",
            "WEBHOOK_ALLOW_PRIVATE": "1", "IMPORT_HEARTBEAT_SECONDS": "0.5",
            # At normal priority: on a busy test machine a niced worker would be starved.
            "JOBS_WORKER_NICE": "0", **env}
        with (tmp_path / f"{command}-{len(started)}.log").open("wb") as log:
            process = subprocess.Popen(
                [str(Path(sys.executable).parent / "flask"), command, *args], cwd=ROOT,
                env=environment, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=new_session)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)
