"""Runs execute outside requests: a bounded pool of worker threads, each run under its
tenant's context like a request, waiting its turn when another run holds its profile."""
from __future__ import annotations

import logging
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
    return _executor(app).submit(_work, app, run_id, tenant_id)


def _work(app: Flask, run_id: int, tenant_id: int) -> None:
    with app.app_context():
        try:
            run_in_context(run_id, tenant_id)
        except Exception:  # a worker must survive any run's failure
            log.exception("import run %s failed", run_id)
            db.session.rollback()
        finally:
            db.session.remove()


def run_in_context(run_id: int, tenant_id: int, *, wait: bool = True) -> ImportRun | None:
    """Execute a queued run under its tenant: wait for the profile's lock, run, release."""
    with tenant_context(tenant_id):
        run = db.session.get(ImportRun, run_id)
        if run is None or run.is_finished:
            return run
        with tenant_context(tenant_id, feed_actor(run)):
            waited = 0.0
            while not service.claim(run):
                if not wait or waited > MAX_WAIT_SECONDS:
                    return run
                time.sleep(WAIT_SECONDS)
                waited += WAIT_SECONDS
                db.session.expire_all()
            try:
                return service.execute_run(run)
            finally:
                service.release(run)


def install(app: Flask) -> None:
    """Once per process, at its first request: runs a stopped process left are interrupted."""
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


def recover(app: Flask) -> None:
    """At start: mark runs a stopped process left behind as interrupted."""
    with app.app_context(), all_tenants_unsafe("import recovery"):
        count = service.mark_interrupted()
        if count:
            log.warning("%d import run(s) marked interrupted", count)
