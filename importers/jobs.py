"""Import runs as jobs of the job engine (app/jobs.py): `import_run` executes a queued run
through the run lifecycle (importers/runs.py) under its tenant's context like a request;
`recover_runs`, fired by the elected scheduler every IMPORT_RECOVERY_SECONDS, ends the runs
whose process or heartbeat stopped and runs them again (importers/recovery.py): no run
stays `running`, nor its feed blocked, and a killed worker's import completes. `revert_run`
undoes a run (importers/reverts.py); the same recovery queues again the reverts a stopped
worker left."""
from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, current_app

from app import jobs as engine
from app.extensions import db
from app.models import ImportRun
from app.tenancy import SYSTEM, tenant_context
from importers import heartbeat, recovery, reverts, runs

log = logging.getLogger(__name__)


def job_id(run_id: int) -> str:
    return f"import_run-{run_id}"


def submit(app: Flask, run_id: int, tenant_id: int) -> Any:
    """Queue a run; the request that created it answers at once."""
    if not engine.uses_broker(app):
        heartbeat.hold(run_id)  # beaten for while it waits in this process's pool
        heartbeat.watch(app)
        return engine.enqueue("import_run", run_id, tenant_id, app=app, job_id=job_id(run_id))
    try:
        return engine.enqueue("import_run", run_id, tenant_id, app=app, job_id=job_id(run_id))
    except Exception:  # broker down: the run is saved; recovery runs it again (no 500)
        log.exception("import run %s: queuing it failed", run_id)
        return None


def queue_run(run: ImportRun) -> None:
    """Hand a new run to the workers, unless it ended as it was made (a file already
    imported, an unreadable upload): the page or the API answer follows its progress."""
    if not run.is_finished:
        submit(current_app._get_current_object(), run.id, run.tenant_id)


def revert_job_id(run_id: int) -> str:
    # One id per delivery: the broker may still hold a killed worker's job of the same run.
    return f"revert_run-{run_id}-{secrets.token_hex(4)}"


def submit_revert(app: Flask, run_id: int, tenant_id: int) -> Any:
    """Queue a run's asked revert; the request that asked answers at once."""
    if not engine.uses_broker(app):
        heartbeat.hold(run_id)
        heartbeat.watch(app)
    try:
        return engine.enqueue("revert_run", run_id, tenant_id, app=app,
                              job_id=revert_job_id(run_id))
    except Exception:  # broker down: the revert stays queued; the recovery queues it again
        log.exception("import run %s: queuing its revert failed", run_id)
        return None


def queue_revert(run: ImportRun) -> None:
    """Hand the run's revert, just asked (and committed), to the workers."""
    submit_revert(current_app._get_current_object(), run.id, run.tenant_id)


def revert_run(run_id: int, tenant_id: int) -> None:
    """The `revert_run` job: undo the run, whoever delivers it (twice is harmless: one
    delivery claims it; another, ending first, leaves its heartbeat to the one executing).
    Beaten for while it runs, on a worker as in the app: else the recovery would take a
    revert longer than IMPORT_STALE_SECONDS for abandoned and queue it again."""
    heartbeat.watch(current_app._get_current_object())  # type: ignore[attr-defined]
    heartbeat.hold(run_id)
    try:
        reverts.run_revert(run_id, tenant_id)
    except Exception:  # a worker must survive any revert's failure
        log.exception("import run %s: its revert failed", run_id)
        db.session.rollback()
    finally:
        if not reverts.executing_here(run_id):
            heartbeat.let_go(run_id)


def import_run(run_id: int, tenant_id: int) -> None:
    """The `import_run` job: execute the run, whoever delivers it (twice is harmless: the
    profile's lock and the run's status let one execution through)."""
    heartbeat.hold(run_id)
    try:
        runs.run_import(run_id, tenant_id)
    except Exception:  # a worker must survive any run's failure
        log.exception("import run %s failed", run_id)
        db.session.rollback()
    finally:
        heartbeat.let_go(run_id)
    _write_back(run_id, tenant_id)


def _write_back(run_id: int, tenant_id: int) -> None:
    """A file sent by SFTP: the run's results back to the sender's outbox/."""
    try:
        from importers.sftp.arrivals import write_back

        write_back(run_id, tenant_id)
    except Exception:  # the run's own outcome stands; its page still shows it
        log.exception("import run %s: writing its results to the outbox failed", run_id)
        db.session.rollback()


def recover_runs() -> int:
    """The `recover_runs` job: end the runs left behind, then run each again (when it is
    still its profile's latest run); returns how many were ended."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ended = recovery.interrupt_abandoned_runs(keep=waiting_in_broker(app))
    if ended:
        log.warning("%d import run(s) marked interrupted", len(ended))
    for run_id, tenant_id in ended:
        with tenant_context(tenant_id, SYSTEM):
            try:
                again = recovery.rerun_interrupted(run_id)
                db.session.commit()
            except Exception:  # the run stays interrupted; sending the file again retries
                log.exception("import run %s: running it again failed", run_id)
                db.session.rollback()
                continue
        if again is not None:
            log.warning("import run %s interrupted: run again as #%s", run_id, again.id)
            submit(app, again.id, tenant_id)
        else:  # its last word: a file sent by SFTP gets the interrupted run's summary
            _write_back(run_id, tenant_id)
    for run_id, tenant_id in reverts.abandoned_reverts(waiting_in_broker(app, "revert_run-")):
        log.warning("import run %s: its revert, left behind, is queued again", run_id)
        submit_revert(app, run_id, tenant_id)
    return len(ended)


def waiting_in_broker(app: Flask, prefix: str = "import_run-") -> set[int]:
    """Runs (or, prefix "revert_run-", reverts) queued on the broker, not yet taken by a
    worker: nobody beats for them, and they are not abandoned."""
    if not engine.uses_broker(app):
        return set()
    queue = engine.runner(app).queue("imports")
    return {int(found[len(prefix):].partition("-")[0]) for found in queue.get_job_ids()
            if found.startswith(prefix)}
