"""This process, the import runs it holds (running, or queued on its embedded pool), and
their heartbeat: one thread per process beats for them, so that the recovery
(importers/recovery.py) tells a live run from one whose process stopped."""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import UTC, datetime
from threading import Lock
from typing import Any

from flask import Flask
from sqlalchemy import and_, or_, update

from app.extensions import db
from app.jobs import process_id
from app.models import ImportRun
from app.tenancy import all_tenants_unsafe

log = logging.getLogger(__name__)

_worker: dict[str, Any] = {"pid": None, "id": ""}
_held: set[int] = set()
_held_lock = Lock()


def worker_id() -> str:
    """host:pid:token of this process; the token tells a restarted process on a reused pid."""
    pid = os.getpid()
    if _worker["pid"] != pid:
        _worker.update(pid=pid, id=f"{process_id()}:{secrets.token_hex(4)}")
    return _worker["id"]


def hold(run_id: int) -> None:
    """This process runs, or has queued, the run: it beats for it until `let_go`."""
    with _held_lock:
        _held.add(run_id)


def let_go(run_id: int) -> None:
    with _held_lock:
        _held.discard(run_id)


def held_runs() -> list[int]:
    with _held_lock:
        return sorted(_held)


def beat(run_ids: list[int]) -> None:
    """The heartbeat of this worker's live runs and reverts (a platform job: every tenant's
    runs)."""
    if not run_ids:
        return
    with all_tenants_unsafe("import heartbeat"):
        db.session.execute(  # queued ones this process waits to run, running ones it runs:
            # not a run another delivery of its job runs elsewhere (if that one dies, the
            # recovery must see its heartbeat stop)
            update(ImportRun).where(ImportRun.id.in_(run_ids), or_(
                ImportRun.status == "queued",
                and_(ImportRun.status == "running", ImportRun.worker_id == worker_id())))
            .values(heartbeat_at=datetime.now(UTC), worker_id=worker_id())
            .execution_options(synchronize_session=False))
        db.session.execute(  # the reverts it runs (importers/reverts.py)
            update(ImportRun).where(ImportRun.id.in_(run_ids),
                                    ImportRun.revert_status == "running",
                                    ImportRun.revert_worker_id == worker_id())
            .values(revert_heartbeat_at=datetime.now(UTC))
            .execution_options(synchronize_session=False))
        db.session.commit()


def worker_is_gone(owner: str | None) -> bool:
    """True when `owner` is a process of this host that no longer runs (a restart gives a
    new pid, or the same pid with a new token); other hosts are judged by their heartbeat."""
    host, _sep, rest = (owner or "").partition(":")
    pid_text, _sep, token = rest.partition(":")
    if host != socket.gethostname()[:80] or not pid_text.isdigit() or not token:
        return False
    if owner == worker_id():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


class RunWatch:
    """One thread per process: heartbeats for the runs it holds (the recovery is the
    scheduled `recover_runs` job)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="relais-import-watch",
                                       daemon=True)

    def _loop(self) -> None:
        beat_every = max(float(self.app.config["IMPORT_HEARTBEAT_SECONDS"]), 0.1)
        while not self.stopped.is_set():
            self.tick()
            self.stopped.wait(beat_every)

    def tick(self) -> None:
        with self.app.app_context():
            try:
                beat(held_runs())
            except Exception:  # the watch must outlive a database hiccup
                log.exception("import run watch failed")
                db.session.rollback()
            finally:
                db.session.remove()


_watch: dict[tuple[int, int], RunWatch] = {}  # (pid, app id) -> its watch: none survives a fork
_watch_lock = Lock()


def watch(app: Flask) -> None:
    """Start the process's heartbeat once (no-op when IMPORT_WATCH is off)."""
    if not app.config.get("IMPORT_WATCH", True):
        return
    key = (os.getpid(), id(app))
    with _watch_lock:
        if key not in _watch:
            _watch[key] = RunWatch(app)
            _watch[key].thread.start()
