"""The job engine: every background job declared once, run embedded or on queue workers.

Without JOBS_BROKER_URL a job runs in this process, on a small bounded pool of threads (what
`make run` needs: no broker, an upload starts its import at once). With it, a job is put on a
Redis queue (RQ) and runs in `flask worker` processes, on this machine or others: imports
never take a web worker. The same function runs in both modes; it binds its tenant's context
itself, from its arguments, like a request (docs/architecture.md, "Jobs").

Periodic jobs are fired by app/scheduler.py, in the one process elected by a lease.
"""
from __future__ import annotations

import importlib
import logging
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from threading import Lock
from typing import Any

from flask import Flask, current_app

from app.extensions import db

log = logging.getLogger(__name__)
EXTENSION = "relais_jobs"


@dataclass(frozen=True)
class Job:
    name: str
    func: str  # "module:function", imported when the job runs
    queue: str = "default"
    every: str | None = None  # periodic: the setting holding its period in seconds
    enabled: str | None = None  # periodic: the setting that turns its firing off
    timeout: int = -1  # seconds a queue worker gives it; -1: no limit (a run ends itself)


REGISTRY: dict[str, Job] = {job.name: job for job in (
    Job("import_run", "importers.jobs:import_run", queue="imports"),
    Job("revert_run", "importers.jobs:revert_run", queue="imports"),
    Job("recover_runs", "importers.jobs:recover_runs", every="IMPORT_RECOVERY_SECONDS",
        enabled="IMPORT_WATCH", timeout=600),
    Job("deliver_webhooks", "app.webhooks.worker:deliver_due", queue="webhooks",
        every="WEBHOOK_POLL_SECONDS", enabled="WEBHOOK_DISPATCH", timeout=600),
    Job("deliver_webhook", "app.webhooks.worker:deliver_one", queue="webhooks", timeout=600),
    Job("purge_webhook_deliveries", "app.webhooks.worker:purge", every="WEBHOOK_PURGE_SECONDS",
        enabled="WEBHOOK_DISPATCH", timeout=3600),
    Job("check_feed_alerts", "app.platform_jobs:check_feed_alerts", every="FEED_ALERTS_SECONDS",
        enabled="FEED_ALERTS", timeout=600),
    Job("export_run", "importers.scheduled:export_run"),
    Job("pull_feed", "importers.scheduled:pull_feed", timeout=3600),
    Job("fire_schedules", "importers.scheduled:fire_schedules", every="FEED_SCHEDULE_SECONDS",
        enabled="FEED_SCHEDULES", timeout=600),
    Job("sweep_feed_inboxes", "importers.sftp.sweep:sweep_inboxes", every="FEED_SWEEP_SECONDS",
        enabled="FEED_SWEEP", timeout=3600),
    Job("remove_deleted_tenants_files", "app.platform_jobs:remove_deleted_tenants_files",
        every="TENANT_FILES_SWEEP_SECONDS", enabled="TENANT_FILES_SWEEP", timeout=3600),
    Job("send_prenotifications", "app.services.collections:send_prenotifications",
        timeout=3600),
    Job("build_collection", "app.services.collection_builds:run_build", timeout=3600),
    Job("settle_collection", "app.services.collection_builds:run_settlement", timeout=3600),
    Job("recover_collection_builds", "app.services.collection_builds:recover_builds",
        every="COLLECTION_RECOVERY_SECONDS", enabled="COLLECTION_RECOVERY", timeout=600),
    Job("expire_mandates", "app.services.mandates:expire_all_mandates",
        every="MANDATE_EXPIRY_SECONDS", enabled="MANDATE_EXPIRY", timeout=3600),
    Job("send_mails", "app.services.mail_outbox:send_due", every="MAIL_OUTBOX_SECONDS",
        enabled="MAIL_OUTBOX", timeout=600),
    Job("purge_mails", "app.services.mail_outbox:purge", every="MAIL_OUTBOX_PURGE_SECONDS",
        enabled="MAIL_OUTBOX", timeout=3600),
    Job("abandon_subscriptions", "app.services.subscriptions:abandon_all_idle",
        every="SUBSCRIPTION_EXPIRY_SECONDS", enabled="SUBSCRIPTION_EXPIRY", timeout=3600),
)}
QUEUES = ("imports", "webhooks", "default")


def periodic(app: Flask) -> list[tuple[Job, float]]:
    """The periodic jobs this configuration fires, with their period in seconds."""
    return [(job, max(float(app.config[job.every]), 0.1)) for job in REGISTRY.values()
            if job.every and (job.enabled is None or app.config.get(job.enabled, True))]


def function(job: Job) -> Callable[..., Any]:
    module, _sep, name = job.func.partition(":")
    return getattr(importlib.import_module(module), name)


def execute(name: str, *args: Any) -> Any:
    """Run a job in this thread, inside the app context (what queue workers call)."""
    try:
        return function(REGISTRY[name])(*args)
    finally:
        db.session.remove()


def uses_broker(app: Flask | None = None) -> bool:
    return bool((app or current_app).config.get("JOBS_BROKER_URL"))


def process_id() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}"


# -- runners ----------------------------------------------------------------------------------

class EmbeddedRunner:
    """Threads of this process: IMPORT_WORKERS for imports, two for the other queues."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._lock = Lock()
        self._in_flight: set[Future] = set()
        self.pools = {
            queue: ThreadPoolExecutor(
                max_workers=int(app.config["IMPORT_WORKERS"]) if queue == "imports" else 2,
                thread_name_prefix=f"relais-{queue}")
            for queue in QUEUES}

    def enqueue(self, job: Job, args: tuple[Any, ...], meta: dict[str, Any]) -> Future:
        future = self.pools[job.queue].submit(self._run, job, args)
        with self._lock:
            self._in_flight.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future) -> None:
        with self._lock:
            self._in_flight.discard(future)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job queued or running is left (or `timeout` seconds): whether none
        is. Jobs queued by the ones waited for are waited for too."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._in_flight)
            if not pending:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            wait(pending, timeout=left)

    def _run(self, job: Job, args: tuple[Any, ...]) -> Any:
        with self.app.app_context():
            try:
                return execute(job.name, *args)
            except Exception:  # a pool thread must survive any job's failure
                log.exception("job %s%r failed", job.name, args)
                return None


class RedisRunner:
    """RQ queues on the broker; `flask worker` processes run them (app/worker.py)."""

    def __init__(self, url: str) -> None:
        from redis import Redis

        self.connection = Redis.from_url(url)

    def queue(self, name: str) -> Any:
        from rq import Queue

        return Queue(name, connection=self.connection)

    def enqueue(self, job: Job, args: tuple[Any, ...], meta: dict[str, Any]) -> Any:
        return self.queue(job.queue).enqueue_call(
            "app.jobs.execute", args=(job.name, *args), timeout=job.timeout, meta=meta,
            job_id=meta.get("job_id"), result_ttl=600, failure_ttl=7 * 86400,
            description=f"{job.name}{args!r}")


_runners: dict[tuple[int, int], EmbeddedRunner | RedisRunner] = {}
_runners_lock = Lock()


def runner(app: Flask) -> EmbeddedRunner | RedisRunner:
    """This process's runner for `app` (none is inherited across a fork)."""
    key = (os.getpid(), id(app))
    with _runners_lock:
        found = _runners.get(key)
        if found is None:
            url = app.config.get("JOBS_BROKER_URL")
            found = _runners[key] = RedisRunner(url) if url else EmbeddedRunner(app)
        return found


def forget_runner(app: Flask) -> None:
    """Choose the runner again from the configuration (tests switch modes)."""
    with _runners_lock:
        _runners.pop((os.getpid(), id(app)), None)


def enqueue(name: str, *args: Any, app: Flask | None = None, job_id: str | None = None,
            **meta: Any) -> Any:
    """Run job `name` with `args` in the background: now on this process's threads, or on
    a worker through the broker."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    meta = {**meta, "job_id": job_id, "by": process_id()}
    return runner(app).enqueue(REGISTRY[name], args, meta)
