"""The periodic jobs' clock: APScheduler runs in every process that may fire them (each web
process unless JOBS_SCHEDULER is off, and `flask scheduler`), but only the one holding the
lease fires, so that several processes and machines never fire a job twice.

The lease is a row of `scheduler_leases` taken and renewed by a conditional UPDATE (the same
on SQLite and PostgreSQL): the holder renews it every third of JOBS_LEASE_SECONDS; when it
stops, another process takes it over once it has expired. A holder that could not renew in
time stops firing before its lease can pass to another process.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from app import jobs
from app.extensions import db
from app.models import SchedulerLease

log = logging.getLogger(__name__)
LEASE = 1  # the scheduler's lease (its row id: the primary key serialises the first takers)
EXTENSION = "relais_scheduler"


class Election:
    """This process's claim on the lease."""

    def __init__(self, app: Flask, lease: int = LEASE) -> None:
        self.app = app
        self.lease = lease
        self.ttl = max(float(app.config["JOBS_LEASE_SECONDS"]), 1.0)
        self.me = f"{jobs.process_id()}:{secrets.token_hex(4)}"
        self.valid_until = 0.0  # monotonic: when this process stops trusting its lease

    @property
    def leading(self) -> bool:
        return time.monotonic() < self.valid_until

    def renew(self) -> bool:
        """Take or keep the lease; True while this process holds it."""
        started = time.monotonic()
        with self.app.app_context():
            try:
                if self._take():
                    # A margin under the lease: stop firing before another may start.
                    self.valid_until = started + self.ttl * 0.8
                else:
                    self.valid_until = 0.0
            except Exception:  # no database, no leadership; the next renewal tries again
                log.exception("scheduler lease renewal failed")
                db.session.rollback()
                self.valid_until = 0.0
            finally:
                db.session.remove()
        return self.leading

    def _take(self) -> bool:
        now = datetime.now(UTC)
        until = now + timedelta(seconds=self.ttl)
        taken = db.session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.id == self.lease,
                   or_(SchedulerLease.holder == self.me, SchedulerLease.expires_at < now))
            .values(holder=self.me, expires_at=until)
            .execution_options(synchronize_session=False)).rowcount == 1
        if not taken and db.session.get(SchedulerLease, self.lease) is None:
            db.session.add(SchedulerLease(id=self.lease, name="scheduler", holder=self.me,
                                          expires_at=until))
            try:
                db.session.flush()
                taken = True
            except IntegrityError:  # another process inserted it first
                db.session.rollback()
                return False
        db.session.commit()
        return taken

    def resign(self) -> None:
        """Let another process take over at once (a clean stop)."""
        self.valid_until = 0.0
        with self.app.app_context():
            try:
                db.session.execute(
                    update(SchedulerLease)
                    .where(SchedulerLease.id == self.lease, SchedulerLease.holder == self.me)
                    .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
                    .execution_options(synchronize_session=False))
                db.session.commit()
            except Exception:  # it expires by itself
                log.exception("scheduler lease release failed")
                db.session.rollback()
            finally:
                db.session.remove()


class Scheduler:
    def __init__(self, app: Flask) -> None:
        self.app = app
        # Imported here: a command that fires nothing (every one but `flask scheduler`) skips it.
        from apscheduler.schedulers.background import BackgroundScheduler

        self.election = Election(app)
        self.clock = BackgroundScheduler(timezone="UTC")
        now = datetime.now(UTC)
        self.clock.add_job(self.election.renew, "interval", seconds=self.election.ttl / 3,
                           id="lease", next_run_time=now, max_instances=1, coalesce=True)
        for job, every in jobs.periodic(app):
            # The first firing soon after the lease is taken: what a stopped process left
            # behind (runs, deliveries) is taken up at start.
            self.clock.add_job(self.fire, "interval", args=[job.name], seconds=every,
                               id=job.name, next_run_time=now + timedelta(seconds=1),
                               max_instances=1, coalesce=True, misfire_grace_time=None)

    def fire(self, name: str) -> None:
        if not self.election.leading:
            return
        with self.app.app_context():
            try:
                jobs.enqueue(name, app=self.app, scheduled=True)
            except Exception:  # a broker hiccup: the next period fires again
                log.exception("firing job %s failed", name)

    def start(self) -> None:
        self.clock.start()

    def stop(self) -> None:
        self.clock.shutdown(wait=False)
        self.election.resign()


_start_lock = threading.Lock()


def start(app: Flask) -> Scheduler | None:
    """This process's scheduler for `app`, started once; None when there is nothing to fire."""
    if not jobs.periodic(app):
        return None
    with _start_lock:
        found = app.extensions.get(EXTENSION)
        if found is None:
            found = app.extensions[EXTENSION] = Scheduler(app)
            found.start()
    return found


def stop(app: Flask) -> None:
    with _start_lock:
        found = app.extensions.pop(EXTENSION, None)
    if found is not None:
        found.stop()


def install(app: Flask) -> None:
    """A web process starts its scheduler at its first request (unless JOBS_SCHEDULER is
    off: then `flask scheduler` runs elsewhere)."""
    if not app.config.get("JOBS_SCHEDULER", True):
        return
    state = {"done": False}

    @app.before_request
    def start_scheduler_once() -> None:
        if not state["done"]:
            state["done"] = True
            start(app)

