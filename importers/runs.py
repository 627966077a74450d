"""The life of an import run, the same whoever starts it (the `import_run` job, on a worker or
embedded, and the synchronous `flask feed import`): take its profile's lock, waiting while
another run of the profile holds it; execute it through the engine; end it whatever
happens; give the lock back. Each step commits (a job step's boundary): the run's progress
is seen while it runs, and its end survives the process. The runs a stopped process left
behind are ended by importers/recovery.py."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from app.errors import ValidationError
from app.extensions import db
from app.models import ImportProfile, ImportRun
from app.models.feed import LIVE
from app.queries.error_groups import count_groups
from app.queries.feeds import definition_at
from app.services.audit import record_event
from app.services.feeds import run_file_path
from app.services.fingerprints import RENAMES_BEFORE_START, forget_changed_since
from app.tenancy import Actor, tenant_context
from importers import heartbeat
from importers.profile import parse_profile
from importers.readers import Limits, message_id

log = logging.getLogger(__name__)
WAIT_SECONDS = 2.0  # between two tries at the profile's lock
MAX_WAIT_SECONDS = 6 * 3600  # a job gives up waiting after this (the CLI waits on)
UNEXPECTED_ERROR = _l("The run stopped on an unexpected error (%(error)s). Run it again.")
PROFILE_UNUSABLE = _l("The profile cannot be used: %(errors)s")
FAIL_ATTEMPTS = 3  # ending a failed run: its own fresh transaction, tried again on error

Progress = Callable[[ImportRun], None]


def limits() -> Limits:
    config = current_app.config
    return Limits(max_bytes=config["IMPORT_MAX_BYTES"], max_rows=config["IMPORT_MAX_ROWS"],
                  max_field_length=config["IMPORT_MAX_FIELD_LENGTH"])


def feed_actor(run: ImportRun) -> Actor:
    return Actor("feed", run.id, f"import #{run.id} ({run.started_by})")


def run_import(run_id: int, tenant_id: int, *, max_wait: float | None = MAX_WAIT_SECONDS,
               progress: Progress | None = None) -> ImportRun | None:
    """Execute a queued run under its tenant: wait for its profile's lock (`max_wait`
    seconds at most; None: as long as it takes), run, release. Returns the run, still
    queued when the wait ran out."""
    heartbeat.watch(current_app._get_current_object())  # type: ignore[attr-defined]
    with tenant_context(tenant_id):
        run = db.session.get(ImportRun, run_id)
        if run is None or run.is_finished:
            return run
        with tenant_context(tenant_id, feed_actor(run)):
            heartbeat.hold(run_id)  # beaten for while it waits: not taken for abandoned
            try:
                heartbeat.beat([run_id])
                if not _claim_when_free(run, max_wait):
                    return run
                try:
                    return execute_run(run, progress)
                finally:
                    release(run)
            finally:
                heartbeat.let_go(run_id)


def _claim_when_free(run: ImportRun, max_wait: float | None) -> bool:
    """Take the profile's lock, trying again while another run holds it; False when the
    wait ran out or the run ended meanwhile (recovered, say)."""
    waited = 0.0
    while not claim(run):
        if max_wait is not None and waited >= max_wait:
            return False
        time.sleep(WAIT_SECONDS)
        waited += WAIT_SECONDS
        db.session.expire_all()
        if run.is_finished:
            return False
    return True


# -- the profile's lock: two runs of one profile never run at once ---------------------------

def claim(run: ImportRun) -> bool:
    """Take the profile's lock for `run`; False when another run holds it, or when an
    earlier run of the profile waits for it: a profile's files go in the order they came,
    whichever worker is free first (a night's file must not change back the next one's)."""
    if _earlier_waiting(run):
        db.session.commit()  # the read's transaction ends, as the lock's does
        return False
    result = db.session.execute(
        update(ImportProfile).where(ImportProfile.id == run.profile_id,
                                    ImportProfile.locked_by_run_id.is_(None))
        .values(locked_by_run_id=run.id).execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def _earlier_waiting(run: ImportRun) -> bool:
    """Whether an earlier run of the profile is queued or running, and alive: beaten for by
    the process that holds it within IMPORT_STALE_SECONDS (one that no process holds any
    more is left to the recovery, and no longer holds the later ones back)."""
    alive = datetime.now(UTC) - timedelta(
        seconds=float(current_app.config["IMPORT_STALE_SECONDS"]))
    return db.session.scalar(select(ImportRun.id).where(
        ImportRun.profile_id == run.profile_id, ImportRun.id < run.id,
        ImportRun.status.in_(LIVE),
        func.coalesce(ImportRun.heartbeat_at, ImportRun.created_at) >= alive).limit(1)) \
        is not None


def release(run: ImportRun) -> None:
    """Give the profile's lock back (a no-op when the run's end already did)."""
    run_id, profile_id = run.id, run.profile_id
    try:
        _release(run_id, profile_id)
        db.session.commit()
    except Exception:  # the run's end or the periodic recovery releases it
        log.exception("import run %s: releasing its profile failed", run_id)
        db.session.rollback()


def _release(run_id: int, profile_id: int) -> None:
    db.session.execute(
        update(ImportProfile).where(ImportProfile.id == profile_id,
                                    ImportProfile.locked_by_run_id == run_id)
        .values(locked_by_run_id=None).execution_options(synchronize_session=False))


def holder(run: ImportRun) -> int | None:
    """The id of the run holding the run's profile."""
    return db.session.scalar(select(ImportProfile.locked_by_run_id).where(
        ImportProfile.id == run.profile_id))


# -- executing, and ending whatever happens ----------------------------------------------------

def execute_run(run: ImportRun, progress: Progress | None = None) -> ImportRun:
    """Run a queued run to its end in this thread (the caller holds the tenant context).

    Whatever happens the run ends: an unexpected error, even in the run's own error
    handling, ends it failed in a fresh transaction (fail_run)."""
    if run.is_finished:
        return run
    run_id = run.id
    heartbeat.hold(run_id)
    try:
        return _execute(run, progress)
    except Exception as exc:
        log.exception("import run %s failed", run_id)
        fail_run(run_id, UNEXPECTED_ERROR, {"error": _error_text(exc)})
        return db.session.get(ImportRun, run_id, populate_existing=True)
    finally:
        heartbeat.let_go(run_id)


def _error_text(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _execute(run: ImportRun, progress: Progress | None) -> ImportRun:
    from importers.engine import ImportEngine
    from importers.readers import ReaderError
    from importers.statistics import TableStatistics

    run.status, run.started_at = "running", datetime.now(UTC)
    run.heartbeat_at, run.worker_id = run.started_at, heartbeat.worker_id()
    db.session.commit()
    statistics = None
    try:
        profile = parse_profile(definition_at(run.profile, run.profile_version),
                                check_values=False)
        statistics = TableStatistics(profile.entity)
        engine = ImportEngine(run, profile, run_file_path(run), limits(),
                              statistics.watching(progress))
        outcome = engine.execute()
        run.status = "failed" if outcome.failed and not (
            outcome.created or outcome.updated or outcome.unchanged) else \
            "partial" if outcome.failed else "succeeded"
        run.archived = outcome.archived
    except ReaderError as exc:
        db.session.rollback()
        run.status, run.message = "failed", str(exc)
        run.message_id, run.message_params = exc.message_id, exc.params
        forget_changed_while_running(run)
    except ValidationError as exc:
        db.session.rollback()
        run.status = "failed"
        run.message = _profile_errors(exc)
        run.message_id = message_id(PROFILE_UNUSABLE)
        run.message_params = {"errors": _in_each_language(run, run.message)}
        forget_changed_while_running(run)
    run.finished_at = datetime.now(UTC)
    if run.rows_total is None or run.rows_done > (run.rows_total or 0):
        run.rows_total = run.rows_done
    db.session.flush()
    # Counted once: the run page and the API read a finished run's errors by kind from here.
    run.error_groups = count_groups(run)
    record_event("finish", "import_runs", run.id, None,
                 {"status": run.status, **run.counts, "tenant": run.tenant_id})
    _release(run.id, run.profile_id)
    db.session.commit()
    if statistics is not None:
        statistics.after_run(run)
    return run


def _profile_errors(exc: ValidationError) -> str:
    return "; ".join(f"{k}: {v}" if k else v for k, v in exc.errors.items())


def _in_each_language(run: ImportRun, text: str) -> dict[str, str]:
    """Why the run's profile version cannot be used, in each language of the app (the
    reader's is shown: row_messages.run_message), read again from the version."""
    found = {}
    for language in current_app.config["LANGUAGES"]:
        with force_locale(language):
            try:
                parse_profile(definition_at(run.profile, run.profile_version),
                              check_values=False)
            except ValidationError as exc:
                found[language] = _profile_errors(exc)[:1000]
            else:  # usable again since (a field switched back on): as the run saw it
                found[language] = text[:1000]
    return found


def forget_changed_while_running(run: ImportRun) -> None:
    """For a run cut short (failed, interrupted), what its end would have done
    (ColumnImport._forget_renamed_references): the fingerprints it stored may have been
    taken with a reference, or a customer's partner, that changed while it ran."""
    if run.is_dry_run or run.started_at is None:
        return
    try:
        profile = parse_profile(definition_at(run.profile, run.profile_version),
                                check_values=False)
    except ValidationError:
        return  # it wrote nothing
    refs = {profile.entity.field(t.name).ref for t in profile.targets if t.kind == "ref"}
    try:  # never in the way of the run's end (its profile let go)
        with db.session.begin_nested():
            forget_changed_since(profile.entity.name, refs,
                                 run.started_at - RENAMES_BEFORE_START)
    except Exception:
        log.exception("import run %s: forgetting the fingerprints it may have taken on "
                      "references changed meanwhile failed", run.id)


def end_run(run_id: int, status: str, message: Any,
            params: dict[str, Any] | None = None) -> bool:
    """End a live run (status, message, counts kept), release its profile and queue its
    `finish` event (import.failed for failed and interrupted); False if it had ended.
    `message`: a lazy message and its `params`, kept by id to be read in the reader's
    language, or English text. Flushes: the caller commits."""
    now = datetime.now(UTC)
    text = str(message) % params if params else str(message)
    kept = message_id(message) if params is not None else None
    ended = db.session.execute(
        update(ImportRun).where(ImportRun.id == run_id, ImportRun.status.in_(LIVE))
        .values(status=status, message=text[:2000], message_id=kept,
                message_params=params if kept else None, finished_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1
    run = db.session.get(ImportRun, run_id, populate_existing=True)
    if run is None:
        return False
    _release(run.id, run.profile_id)
    if ended and status in ("failed", "interrupted"):
        forget_changed_while_running(run)
    if ended:
        # A run read to its end knows its rows; one cut short (interrupted, failed) does
        # not: its progress must not read 100 %.
        if (run.rows_total is None and status in ("succeeded", "partial")) \
                or (run.rows_total is not None and run.rows_done > run.rows_total):
            run.rows_total = run.rows_done
        record_event("finish", "import_runs", run.id, None,
                     {"status": status, **run.counts, "tenant": run.tenant_id})
    return ended


def fail_run(run_id: int, message: Any, params: dict[str, Any] | None = None) -> bool:
    """Roll back, then end the run failed in a fresh transaction (tried again on error);
    False when even that failed: the periodic recovery ends it."""
    for attempt in range(FAIL_ATTEMPTS):
        try:
            db.session.rollback()
            end_run(run_id, "failed", message, params)
            db.session.commit()
            return True
        except Exception:
            log.exception("import run %s: ending it failed (attempt %d)", run_id, attempt + 1)
            try:
                db.session.rollback()
            except Exception:  # noqa: BLE001 - the next attempt starts from a new connection
                db.session.close()
            time.sleep(0.2 * (attempt + 1))
    return False
