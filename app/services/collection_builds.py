"""A collection is built, and settled, by jobs of the job engine (app/jobs.py), never inside a
request: 100,000 debits take many seconds each way. The request saves the collection
"building" (or "settling") and answers; `run_build` (the `build_collection` job) takes it,
writes its debits and file, and commits "built" in one transaction, then queues the customers'
pre-notifications; `run_settlement` (the `settle_collection` job) pays its invoices and commits
"settled". A build that fails ends "failed", a settlement that fails goes back to "built",
either with its reason, in the tenant's language, on the collection.

A job whose process stopped is rolled back by the database: the collection stays "building"
(or "settling"), held by a process that is gone. `recover_builds` (the periodic
`recover_collection_builds` job) queues it again: at once when its process, on this host, is
gone; after COLLECTION_BUILD_STALE_SECONDS otherwise (another host, or a job lost on its way
to a worker). After RECOVERY_ATTEMPTS it ends as a failure would: a collection that kills its
worker must not loop. Only the process that took a job may end it (`job_worker`), so a job
taken again while the first one still runs cannot be committed twice.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from app import jobs, mail
from app.errors import NotAllowed, ValidationError
from app.extensions import db
from app.models import Collection, Tenant
from app.services.collections import collection_file, fill_collection, settle_collection
from app.tenancy import Actor, all_tenants_unsafe, tenant_context

log = logging.getLogger(__name__)
RECOVERY_ATTEMPTS = 3
# The job of each status under way, and the status a failure leaves.
JOBS = {"building": "build_collection", "settling": "settle_collection"}
FAILED = {"building": "failed", "settling": "built"}


def queue_job(collection: Collection) -> None:
    """Hand a collection just saved "building" or "settling" (and committed) to the job
    engine; with the broker down it stays so, and the recovery queues it again."""
    name = JOBS[collection.status]
    try:
        jobs.enqueue(name, collection.tenant_id, collection.id,
                     job_id=f"{name}-{collection.id}-{secrets.token_hex(4)}")
    except Exception:  # noqa: BLE001 - saved; recover_builds queues it again
        log.exception("collection %s: queuing its %s failed", collection.id, name)


def run_build(tenant_id: int, collection_id: int) -> str | None:
    """The `build_collection` job: its debits and file; its status at the end (None: another
    process has it)."""
    status = _run(tenant_id, collection_id, "building", fill_collection)
    if status == "built":
        jobs.enqueue("send_prenotifications", tenant_id, collection_id)
    return status


def run_settlement(tenant_id: int, collection_id: int) -> str | None:
    """The `settle_collection` job: its invoices paid, its mandates used."""
    return _run(tenant_id, collection_id, "settling", settle_collection)


def _run(tenant_id: int, collection_id: int, status: str,
         work: Callable[[Collection], Any]) -> str | None:
    me = jobs.process_id()
    with tenant_context(tenant_id, Actor("system", None, "collection job")):
        locale = _locale(tenant_id)
        if not _claim(collection_id, status, me):
            return None
        collection = db.session.scalar(select(Collection).where(Collection.id == collection_id))
        try:
            with mail.in_language(locale), tenant_context(
                    tenant_id, Actor("system", None, _asked_by(collection, status))):
                work(collection)
                if not _still_mine(collection_id, me):
                    db.session.rollback()
                    return None
                done = collection.status
                db.session.commit()
            return done
        except (ValidationError, NotAllowed) as refusal:
            message = next(iter(refusal.errors.values())) \
                if isinstance(refusal, ValidationError) else refusal.message
        except Exception as exc:  # noqa: BLE001 - any failure ends the job, with its reason
            log.exception("collection %s: its %s job failed", collection_id, JOBS[status])
            with mail.in_language(locale):
                message = _FAILURES[status](exc.__class__.__name__)
        db.session.rollback()
        _fail(collection_id, status, me, message)
        return FAILED[status]


def _asked_by(collection: Collection, status: str) -> str:
    """Whom the job acts for, as its audit events name him: who asked for the build, or for
    the settlement."""
    asked = collection.settled_by if status == "settling" else ""
    return asked or collection.built_by or "system"


_FAILURES: dict[str, Callable[[str], str]] = {
    "building": lambda reason: _(
        "The collection could not be built (%(reason)s). Build it again; if it fails again, "
        "tell your administrator.", reason=reason),
    "settling": lambda reason: _(
        "The settlement failed (%(reason)s): nothing was changed. Settle the collection "
        "again; if it fails again, tell your administrator.", reason=reason),
}


def _locale(tenant_id: int) -> str:
    return db.session.scalar(select(Tenant.default_locale).where(Tenant.id == tenant_id)) \
        or "fr"


def _claim(collection_id: int, status: str, me: str) -> bool:
    """Take the job (a second delivery, or a job already taken, does nothing)."""
    taken = db.session.execute(
        update(Collection).where(Collection.id == collection_id,
                                 Collection.status == status,
                                 Collection.job_worker.is_(None))
        .values(job_worker=me, job_started_at=datetime.now(UTC),
                job_attempts=Collection.job_attempts + 1)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    return taken


def _still_mine(collection_id: int, me: str) -> bool:
    """Whether this process still holds the job (the recovery may have given it to
    another); the row stays locked until the commit."""
    return db.session.execute(
        update(Collection).where(Collection.id == collection_id,
                                 Collection.job_worker == me)
        .values(job_worker=me).execution_options(synchronize_session=False)).rowcount == 1


def _fail(collection_id: int, status: str, worker: str | None, message: str) -> None:
    """End the job as failed with `message` (already in the tenant's language): a build
    "failed" (its file removed), a settlement back to "built"."""
    values: dict[str, Any] = {"status": FAILED[status], "message": message[:2000],
                              "job_worker": None if status == "settling" else worker}
    if status == "building":
        values["count"] = 0
    ended = db.session.execute(
        update(Collection).where(Collection.id == collection_id,
                                 Collection.status == status,
                                 Collection.job_worker.is_(None) if worker is None
                                 else Collection.job_worker == worker)
        .values(**values).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if ended and status == "building":
        collection = db.session.scalar(select(Collection).where(Collection.id == collection_id))
        collection_file(collection).unlink(missing_ok=True)


def recover_builds() -> int:
    """The `recover_collection_builds` job: queue again the builds and settlements left
    behind (their process stopped, or they waited too long); returns how many were queued
    or ended."""
    stale = datetime.now(UTC) - timedelta(
        seconds=float(current_app.config["COLLECTION_BUILD_STALE_SECONDS"]))
    with all_tenants_unsafe("collection recovery"):
        under_way = db.session.execute(select(
            Collection.id, Collection.tenant_id, Collection.status, Collection.job_worker,
            Collection.job_started_at, Collection.built_at, Collection.job_attempts)
            .where(Collection.status.in_(JOBS))).all()
        db.session.rollback()
    handled = 0
    for collection_id, tenant_id, status, worker, started, created, attempts in under_way:
        if worker and not (worker_is_gone(worker) or started is None or started < stale):
            continue
        if not worker and (started or created) >= stale:
            continue  # queued a moment ago: its job is on its way
        with tenant_context(tenant_id, Actor("system", None, "collection recovery")):
            handled += 1
            if attempts >= RECOVERY_ATTEMPTS:
                with mail.in_language(_locale(tenant_id)):
                    message = _("The job stopped %(count)d times before its end: it was given "
                                "up. Try again; if it stops again, tell your administrator.",
                                count=attempts)
                log.warning("collection %s: its %s job stopped %d times, given up",
                            collection_id, JOBS[status], attempts)
                _fail(collection_id, status, worker, message)
                continue
            released = db.session.execute(
                update(Collection).where(
                    Collection.id == collection_id, Collection.status == status,
                    Collection.job_worker.is_(None) if worker is None
                    else Collection.job_worker == worker)
                .values(job_worker=None)
                .execution_options(synchronize_session=False)).rowcount
            db.session.commit()
            if released:
                log.warning("collection %s: its %s job was left behind, queued again",
                            collection_id, JOBS[status])
                queue_job(db.session.scalar(select(Collection).where(
                    Collection.id == collection_id)))
    return handled


def worker_is_gone(worker: str) -> bool:
    """True when `worker` (host:pid) is a process of this host that no longer runs; other
    hosts' builds are judged by their age."""
    host, _sep, pid = worker.rpartition(":")
    if host != socket.gethostname()[:80] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: alive
        return False
    return False
