"""Reverts of import runs as jobs (app/services/import_revert.py says what a revert does).

`run_revert` is the `revert_run` job's body: claim the queued revert for this process (a job
delivered twice runs once), then execute it in one transaction as the actor who asked, under
the run's tenant; any error rolls it all back and ends the revert `failed`, with its reason, to
be asked again. `abandoned_reverts`, called by the scheduled recovery, puts back in the queue
the reverts whose process stopped (nothing of them was written) and those the broker lost."""
from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from threading import Lock

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select, update

from app.errors import ValidationError
from app.extensions import db
from app.models import ImportRun
from app.services.import_revert import (
    PROFILE_BUSY,
    RevertRefused,
    claim_revert,
    execute_revert,
    fail_revert,
    hold_profile,
    let_profile_go,
)
from app.tenancy import SYSTEM, Actor, all_tenants_unsafe, tenant_context
from importers import heartbeat

log = logging.getLogger(__name__)
FAILED = "The revert stopped on an unexpected error; nothing was changed. Try again."
_executing: Counter[int] = Counter()  # deliveries of each revert taking or executing it here
_executing_lock = Lock()


def executing_here(run_id: int) -> bool:
    """Whether a delivery in this process is taking or executing the run's revert (another,
    ending first, must not stop beating for it)."""
    with _executing_lock:
        return _executing[run_id] > 0


def run_revert(run_id: int, tenant_id: int) -> bool:
    """Execute the run's queued revert; True when this call reverted it."""
    with _executing_lock:  # counted from before the claim: no moment unaccounted for
        _executing[run_id] += 1
    try:
        with tenant_context(tenant_id, SYSTEM):
            claimed = claim_revert(run_id, heartbeat.worker_id())
            actor = db.session.scalar(select(ImportRun.revert_actor)
                                      .where(ImportRun.id == run_id))
            db.session.commit()
        return _execute(run_id, tenant_id, actor) if claimed else False
    finally:
        with _executing_lock:
            _executing[run_id] -= 1
            if not _executing[run_id]:
                del _executing[run_id]


def _execute(run_id: int, tenant_id: int, actor: dict | None) -> bool:
    actor = actor or {}
    acting = Actor(str(actor.get("kind") or "system"), actor.get("id"),
                   str(actor.get("label") or "system"))
    # Its failure is kept as the English message, translated where it is shown.
    with tenant_context(tenant_id, acting), force_locale("en"):
        try:
            held = hold_profile(run_id)
            db.session.commit()
            if not held:
                raise ValidationError({"": PROFILE_BUSY})
            plan = execute_revert(run_id)
            db.session.commit()
            return plan is not None
        except RevertRefused as exc:  # a reason with values: kept by id and values
            db.session.rollback()
            message, params = exc.message_id, exc.params
        except ValidationError as exc:  # not revertible any more: why, on the run
            db.session.rollback()
            message, params = next(iter(exc.errors.values()), FAILED), None
        except Exception:  # whatever it is, nothing was written: say so, it can be asked again
            log.exception("import run %s: its revert failed", run_id)
            db.session.rollback()
            message, params = FAILED, None
        let_profile_go(run_id)
        fail_revert(run_id, str(message), params)
        db.session.commit()
        return False


def abandoned_reverts(waiting: set[int]) -> list[tuple[int, int]]:
    """Reverts to queue again, as (run id, tenant id): running in a process that stopped or
    stopped beating, or queued a while ago and not waiting in the broker (`waiting`) nor in
    this process. They are set back to `queued` (committed); the caller queues them."""
    stale = datetime.now(UTC) - timedelta(seconds=float(current_app.config["IMPORT_STALE_SECONDS"]))
    held, found = set(heartbeat.held_runs()) | waiting, []
    with all_tenants_unsafe("revert recovery"):
        rows = db.session.execute(select(
            ImportRun.id, ImportRun.tenant_id, ImportRun.revert_status, ImportRun.revert_worker_id,
            ImportRun.revert_heartbeat_at, ImportRun.revert_requested_at)
            .where(ImportRun.revert_status.in_(("queued", "running")))).all()
        for run_id, tenant_id, status, owner, beat_at, asked_at in rows:
            if run_id in held:
                continue
            # A queued revert's clock: when it was asked, or queued again by the recovery.
            last = beat_at if status == "running" else (beat_at or asked_at)
            gone = status == "running" and heartbeat.worker_is_gone(owner)
            if not gone and last is not None and last >= stale:
                continue
            again = db.session.execute(
                update(ImportRun).where(ImportRun.id == run_id,
                                        ImportRun.revert_status == status,
                                        ImportRun.reverted_at.is_(None))
                .values(revert_status="queued", revert_worker_id=None,
                        revert_heartbeat_at=datetime.now(UTC))  # asked when it was
                .execution_options(synchronize_session=False))
            if again.rowcount == 1:
                found.append((run_id, tenant_id))
        db.session.commit()
    return found
