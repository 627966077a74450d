"""Import runs as jobs of the job engine (app/jobs.py): `import_run` executes a queued run
under its tenant's context like a request, waiting its turn when another run holds its
profile; `recover_runs`, fired by the elected scheduler every IMPORT_RECOVERY_SECONDS, ends
the runs whose process or heartbeat stopped (service.recover_interrupted_runs) and runs them
again: no run stays `running`, nor its feed blocked, and a killed worker's import completes.

A heartbeat thread per process beats for the runs the process holds (running, or queued on
its embedded pool)."""
from __future__ import annotations

import logging
import os
import threading
import time
from threading import Lock
from typing import Any

from flask import Flask, current_app

from app import jobs as engine
from app.extensions import db
from app.models import ImportRun
from app.tenancy import SYSTEM, Actor, all_tenants_unsafe, tenant_context
from importers import service

log = logging.getLogger(__name__)
WAIT_SECONDS = 2.0
MAX_WAIT_SECONDS = 6 * 3600

_pool_lock = Lock()


def feed_actor(run: ImportRun) -> Actor:
    return Actor("feed", run.id, f"import #{run.id} ({run.started_by})")


def job_id(run_id: int) -> str:
    return f"import_run-{run_id}"


def submit(app: Flask, run_id: int, tenant_id: int) -> Any:
    """Queue a run; the request that created it answers at once."""
    if not engine.uses_broker(app):
        service.hold(run_id)  # beaten for while it waits in this process's pool
        watch(app)
        return engine.enqueue("import_run", run_id, tenant_id, app=app, job_id=job_id(run_id))
    try:
        return engine.enqueue("import_run", run_id, tenant_id, app=app, job_id=job_id(run_id))
    except Exception:  # broker down: the run is saved; recovery runs it again (no 500)
        log.exception("import run %s: queuing it failed", run_id)
        return None


def import_run(run_id: int, tenant_id: int) -> None:
    """The `import_run` job: execute the run, whoever delivers it (twice is harmless: the
    profile's lock and the run's status let one execution through)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    service.hold(run_id)
    watch(app)
    try:
        run_in_context(run_id, tenant_id)
    except Exception:  # a worker must survive any run's failure
        log.exception("import run %s failed", run_id)
        db.session.rollback()
    finally:
        service.let_go(run_id)


def recover_runs() -> int:
    """The `recover_runs` job: end the runs left behind, then run each again (when it is
    still its profile's latest run); returns how many were ended."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ended = service.interrupt_abandoned_runs(keep=waiting_in_broker(app))
    if ended:
        log.warning("%d import run(s) marked interrupted", len(ended))
    for run_id, tenant_id in ended:
        with tenant_context(tenant_id, SYSTEM):
            try:
                again = service.rerun_interrupted(run_id)
                db.session.commit()
            except Exception:  # the run stays interrupted; sending the file again retries
                log.exception("import run %s: running it again failed", run_id)
                db.session.rollback()
                continue
        if again is not None:
            log.warning("import run %s interrupted: run again as #%s", run_id, again.id)
            submit(app, again.id, tenant_id)
    return len(ended)


def waiting_in_broker(app: Flask) -> set[int]:
    """Runs queued on the broker, not yet taken by a worker: nobody beats for them, and they
    are not abandoned."""
    if not engine.uses_broker(app):
        return set()
    queue = engine.runner(app).queue("imports")
    return {int(found.rpartition("-")[2]) for found in queue.get_job_ids()
            if found.startswith("import_run-")}


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


def recover(app: Flask) -> None:
    """End the runs a stopped process or a stopped heartbeat left behind."""
    with app.app_context(), all_tenants_unsafe("import recovery"):
        count = service.recover_interrupted_runs()
        if count:
            log.warning("%d import run(s) marked interrupted", count)


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

    def tick(self, recover: bool = False) -> None:
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
    """Start the process's heartbeat once (no-op when IMPORT_WATCH is off)."""
    if not app.config.get("IMPORT_WATCH", True):
        return
    key = (os.getpid(), id(app))
    with _pool_lock:
        if key not in _watch:
            _watch[key] = RunWatch(app)
            _watch[key].thread.start()
