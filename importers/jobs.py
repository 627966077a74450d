"""Runs execute outside requests: a bounded pool of worker threads, each run under its
tenant's context like a request, waiting its turn when another run holds its profile.

A watch thread per process beats for the runs the process holds (running or queued in its
pool) and, every IMPORT_RECOVERY_SECONDS, ends the runs whose process or heartbeat stopped
(service.recover_interrupted_runs): no run stays `running`, nor its feed blocked, until a
restart. The job engine to come replaces this thread with two scheduled jobs."""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from threading import Lock

from flask import Flask

from app.extensions import db
from app.models import ImportRun
from app.tenancy import Actor, all_tenants_unsafe, tenant_context
from importers import service

log = logging.getLogger(__name__)
WAIT_SECONDS = 2.0
MAX_WAIT_SECONDS = 6 * 3600

_pool: ThreadPoolExecutor | None = None
_pool_lock = Lock()


def feed_actor(run: ImportRun) -> Actor:
    return Actor("feed", run.id, f"import #{run.id} ({run.started_by})")


def _executor(app: Flask) -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=app.config["IMPORT_WORKERS"],
                                       thread_name_prefix="relais-import")
        return _pool


def submit(app: Flask, run_id: int, tenant_id: int) -> Future:
    """Queue a run; the request that created it answers at once."""
    service.hold(run_id)  # beaten for while it waits in the pool
    watch(app)
    return _executor(app).submit(_work, app, run_id, tenant_id)


def _work(app: Flask, run_id: int, tenant_id: int) -> None:
    with app.app_context():
        try:
            run_in_context(run_id, tenant_id)
        except Exception:  # a worker must survive any run's failure
            log.exception("import run %s failed", run_id)
            db.session.rollback()
        finally:
            service.let_go(run_id)
            db.session.remove()


def run_in_context(run_id: int, tenant_id: int, *, wait: bool = True) -> ImportRun | None:
    """Execute a queued run under its tenant: wait for the profile's lock, run, release."""
    with tenant_context(tenant_id):
        run = db.session.get(ImportRun, run_id)
        if run is None or run.is_finished:
            return run
        with tenant_context(tenant_id, feed_actor(run)):
            service.hold(run_id)
            try:
                service.beat([run_id])
                waited = 0.0
                while not service.claim(run):
                    if not wait or waited > MAX_WAIT_SECONDS:
                        return run
                    time.sleep(WAIT_SECONDS)
                    waited += WAIT_SECONDS
                    db.session.expire_all()
                    if run.is_finished:  # ended meanwhile (recovered, say)
                        return run
                try:
                    return service.execute_run(run)
                finally:
                    service.release(run)
            finally:
                service.let_go(run_id)


def install(app: Flask) -> None:
    """Once per process, at its first request: recover what a stopped process left behind
    and start watching runs (unless IMPORT_WATCH is off, as in tests)."""
    state = {"done": False}
    guard = Lock()

    @app.before_request
    def recover_once() -> None:
        if state["done"]:
            return
        with guard:
            if not state["done"]:
                state["done"] = True
                recover(app)
                watch(app)


def recover(app: Flask) -> None:
    """End the runs a stopped process or a stopped heartbeat left behind."""
    with app.app_context(), all_tenants_unsafe("import recovery"):
        count = service.recover_interrupted_runs()
        if count:
            log.warning("%d import run(s) marked interrupted", count)


class RunWatch:
    """One thread per process: heartbeats for the runs it holds, and the periodic recovery."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="relais-import-watch",
                                       daemon=True)

    def _loop(self) -> None:
        config = self.app.config
        beat_every = max(float(config["IMPORT_HEARTBEAT_SECONDS"]), 0.1)
        recover_every = max(float(config["IMPORT_RECOVERY_SECONDS"]), beat_every)
        next_recovery = 0.0  # at once: what a stopped process left behind
        while not self.stopped.is_set():
            due = time.monotonic() >= next_recovery
            if due:
                next_recovery = time.monotonic() + recover_every
            self.tick(recover=due)
            self.stopped.wait(beat_every)

    def tick(self, recover: bool) -> None:
        with self.app.app_context():
            try:
                service.beat(service.held_runs())
                if recover:
                    service.recover_interrupted_runs()
            except Exception:  # the watch must outlive a database hiccup
                log.exception("import run watch failed")
                db.session.rollback()
            finally:
                db.session.remove()


_watch: dict[tuple[int, int], RunWatch] = {}  # (pid, app id) -> its watch: none survives a fork


def watch(app: Flask) -> None:
    """Start the process's run watch once (no-op when IMPORT_WATCH is off)."""
    if not app.config.get("IMPORT_WATCH", True):
        return
    key = (os.getpid(), id(app))
    with _pool_lock:
        if key not in _watch:
            _watch[key] = RunWatch(app)
            _watch[key].thread.start()
