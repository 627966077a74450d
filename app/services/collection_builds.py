"""A collection is built by a job of the job engine (app/jobs.py), never inside a request: a
collection of 100,000 debits takes many seconds. The request saves it "building" and answers;
`run_build` (the `build_collection` job) takes it, writes its debits and file, and commits
"built" in one transaction, then queues the customers' pre-notifications; a build that fails
ends "failed" with its reason, in the tenant's language, on the collection.

A build whose process stopped is rolled back by the database: the collection stays
"building", held by a process that is gone. `recover_builds` (the periodic
`recover_collection_builds` job) queues it again: at once when its process, on this host, is
gone; after COLLECTION_BUILD_STALE_SECONDS otherwise (another host, or a job lost on its way
to a worker). After RECOVERY_ATTEMPTS the collection ends "failed": a collection that kills
its worker must not loop. Only the process that took a build may end it (`build_worker`), so
a build taken again while the first one still runs cannot be committed twice.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from app import jobs, mail
from app.errors import ValidationError
from app.extensions import db
from app.models import Collection, Tenant
from app.services.collections import collection_file, fill_collection
from app.tenancy import Actor, all_tenants_unsafe, tenant_context

log = logging.getLogger(__name__)
RECOVERY_ATTEMPTS = 3


def queue_build(collection: Collection) -> None:
    """Hand a collection just saved "building" (and committed) to the job engine; with the
    broker down it stays queued, and the recovery queues it again."""
    try:
        jobs.enqueue("build_collection", collection.tenant_id, collection.id,
                     job_id=f"build_collection-{collection.id}-{secrets.token_hex(4)}")
    except Exception:  # noqa: BLE001 - saved as building; recover_builds queues it again
        log.exception("collection %s: queuing its build failed", collection.id)


def run_build(tenant_id: int, collection_id: int) -> str | None:
    """The `build_collection` job: build the collection unless another process has it;
    its status at the end."""
    me = jobs.process_id()
    with tenant_context(tenant_id, Actor("system", None, "collection build")):
        locale = _locale(tenant_id)
        if not _claim(collection_id, me):
            return None
        collection = db.session.scalar(select(Collection).where(Collection.id == collection_id))
        try:
            with mail.in_language(locale), tenant_context(
                    tenant_id, Actor("system", None, collection.built_by or "system")):
                fill_collection(collection)
                if not _still_mine(collection_id, me):
                    db.session.rollback()
                    return None
                db.session.commit()
        except ValidationError as refusal:
            db.session.rollback()
            _fail(collection_id, me, locale, next(iter(refusal.errors.values())))
            return "failed"
        except Exception as exc:  # noqa: BLE001 - any failure ends the build, with its reason
            log.exception("collection %s: its build failed", collection_id)
            db.session.rollback()
            with mail.in_language(locale):
                message = _("The collection could not be built (%(reason)s). Build it again; "
                            "if it fails again, tell your administrator.",
                            reason=exc.__class__.__name__)
            _fail(collection_id, me, locale, message)
            return "failed"
    jobs.enqueue("send_prenotifications", tenant_id, collection_id)
    return "built"


def _locale(tenant_id: int) -> str:
    return db.session.scalar(select(Tenant.default_locale).where(Tenant.id == tenant_id)) \
        or "fr"


def _claim(collection_id: int, me: str) -> bool:
    """Take the build (a second delivery of the job, or a build already taken, does nothing)."""
    taken = db.session.execute(
        update(Collection).where(Collection.id == collection_id,
                                 Collection.status == "building",
                                 Collection.build_worker.is_(None))
        .values(build_worker=me, build_started_at=datetime.now(UTC),
                build_attempts=Collection.build_attempts + 1)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    return taken


def _still_mine(collection_id: int, me: str) -> bool:
    """Whether this process still holds the build (the recovery may have given it to
    another); the row stays locked until the commit."""
    return db.session.execute(
        update(Collection).where(Collection.id == collection_id,
                                 Collection.build_worker == me)
        .values(build_worker=me).execution_options(synchronize_session=False)).rowcount == 1


def _fail(collection_id: int, worker: str | None, locale: str, message: str) -> None:
    """End the build "failed" with `message` (already in the tenant's language)."""
    ended = db.session.execute(
        update(Collection).where(Collection.id == collection_id,
                                 Collection.status == "building",
                                 Collection.build_worker.is_(None) if worker is None
                                 else Collection.build_worker == worker)
        .values(status="failed", message=message[:2000], count=0)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if ended:
        collection = db.session.scalar(select(Collection).where(Collection.id == collection_id))
        collection_file(collection).unlink(missing_ok=True)


def recover_builds() -> int:
    """The `recover_collection_builds` job: queue again the builds left behind (their process
    stopped, or they waited too long); returns how many were queued or ended."""
    stale = datetime.now(UTC) - timedelta(
        seconds=float(current_app.config["COLLECTION_BUILD_STALE_SECONDS"]))
    with all_tenants_unsafe("collection recovery"):
        building = db.session.execute(select(
            Collection.id, Collection.tenant_id, Collection.build_worker,
            Collection.build_started_at, Collection.built_at, Collection.build_attempts)
            .where(Collection.status == "building")).all()
        db.session.rollback()
    handled = 0
    for collection_id, tenant_id, worker, started, created, attempts in building:
        if worker and not (worker_is_gone(worker) or started is None or started < stale):
            continue
        if not worker and created >= stale:
            continue  # queued a moment ago: its job is on its way
        with tenant_context(tenant_id, Actor("system", None, "collection recovery")):
            handled += 1
            if attempts >= RECOVERY_ATTEMPTS:
                locale = _locale(tenant_id)
                with mail.in_language(locale):
                    message = _("The build stopped %(count)d times before its end: it was "
                                "given up. Build the collection again; if it stops again, "
                                "tell your administrator.", count=attempts)
                log.warning("collection %s: its build stopped %d times, given up",
                            collection_id, attempts)
                _fail(collection_id, worker, locale, message)
                continue
            released = db.session.execute(
                update(Collection).where(
                    Collection.id == collection_id, Collection.status == "building",
                    Collection.build_worker.is_(None) if worker is None
                    else Collection.build_worker == worker)
                .values(build_worker=None)
                .execution_options(synchronize_session=False)).rowcount
            db.session.commit()
            if released:
                log.warning("collection %s: its build was left behind, queued again",
                            collection_id)
                queue_build(db.session.scalar(select(Collection).where(
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
