"""Feeds' writes: profiles (versioned), runs (queued, locked, executed, finished)."""
from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Lock
from typing import IO, Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from app.errors import ValidationError
from app.extensions import db
from app.models import ImportProfile, ImportProfileVersion, ImportRun
from app.models.feed import FINISHED
from app.services.audit import record_event
from app.services.files import store_stream
from app.tenancy import SYSTEM, all_tenants_unsafe, current_actor, tenant_context
from importers.profile import Profile, normalized, parse_profile
from importers.readers import Limits

log = logging.getLogger(__name__)
LIVE = ("queued", "running")
AUTO_RERUNS = 2  # an interrupted file is run again this many times at most
FAIL_ATTEMPTS = 3  # ending a failed run: its own fresh transaction, tried again on error
INTERRUPTED = "The run stopped before its end (process stopped). Run it again."


def limits() -> Limits:
    config = current_app.config
    return Limits(max_bytes=config["IMPORT_MAX_BYTES"], max_rows=config["IMPORT_MAX_ROWS"],
                  max_field_length=config["IMPORT_MAX_FIELD_LENGTH"])


# -- profiles -------------------------------------------------------------------------------

def find_profile(name_or_id: Any) -> ImportProfile | None:
    text = str(name_or_id or "").strip()
    stmt = select(ImportProfile).where(ImportProfile.name == text)
    profile = db.session.scalar(stmt)
    if profile is None and text.isdigit() and len(text) < 10:
        profile = db.session.scalar(select(ImportProfile).where(ImportProfile.id == int(text)))
    return profile


def create_profile(definition: dict[str, Any]) -> ImportProfile:
    parsed = parse_profile(definition)
    if find_profile(parsed.name) is not None:
        raise ValidationError({"name": _("A profile with this name already exists.")})
    profile = ImportProfile(name=parsed.name, entity=parsed.entity.name, version=1,
                            definition=parsed.definition)
    db.session.add(profile)
    db.session.flush()
    _add_version(profile)
    record_event("create", "import_profiles", profile.id, None, parsed.definition)
    return profile


def update_profile(profile: ImportProfile, definition: dict[str, Any]) -> ImportProfile:
    """Save a new version of the profile (earlier runs keep naming the version they used)."""
    parsed = parse_profile(definition)
    other = find_profile(parsed.name)
    if other is not None and other.id != profile.id:
        raise ValidationError({"name": _("A profile with this name already exists.")})
    if parsed.definition == profile.definition:
        return profile
    before = profile.definition
    profile.name, profile.entity = parsed.name, parsed.entity.name
    profile.definition, profile.version = parsed.definition, profile.version + 1
    db.session.flush()
    _add_version(profile)
    record_event("update", "import_profiles", profile.id, before, parsed.definition)
    return profile


def _add_version(profile: ImportProfile) -> None:
    db.session.add(ImportProfileVersion(
        profile_id=profile.id, version=profile.version, definition=normalized(profile.definition),
        created_by=current_actor().label[:254]))
    db.session.flush()


def parsed(profile: ImportProfile, version: int | None = None) -> Profile:
    definition = profile.definition
    if version is not None and version != profile.version:
        stored = db.session.scalar(select(ImportProfileVersion.definition).where(
            ImportProfileVersion.profile_id == profile.id,
            ImportProfileVersion.version == version))
        definition = stored or definition
    return parse_profile(definition)


# -- runs -----------------------------------------------------------------------------------

def run_file_path(run: ImportRun) -> Path:
    return Path(current_app.config["FILES_DIR"]) / "imports" / str(run.tenant_id) / f"{run.id}"


def store_upload(stream: IO[bytes]) -> tuple[Path, str, int]:
    """Copy an upload to a temporary file while hashing it; refuse it past the size limit."""
    path, sha256, size = store_stream(stream, current_app.config["IMPORT_MAX_BYTES"])
    if size == 0:
        path.unlink()
        raise ValidationError({"file": _("The file is empty.")})
    return path, sha256, size


def previous_success(profile: ImportProfile, sha256: str) -> ImportRun | None:
    """The profile's last import, when it took in this same file whole with this version.

    Only the last one: after another file, an older identical file would change records
    back; after a partial or interrupted run, sending the file again is how it is retried.
    """
    last = db.session.scalar(select(ImportRun).where(
        ImportRun.profile_id == profile.id, ImportRun.is_dry_run.is_(False),
        ImportRun.started_at.is_not(None), ImportRun.status.in_(FINISHED),
    ).order_by(ImportRun.id.desc()).limit(1))
    if last is not None and last.sha256 == sha256 and last.status == "succeeded" \
            and last.profile_version == profile.version:
        return last
    return None


def create_run(profile: ImportProfile, stream: IO[bytes], file_name: str, *, source: str,
               dry_run: bool = False, force: bool = False) -> ImportRun:
    """Queue a run of `profile` on an uploaded file (kept with the run, for re-runs)."""
    if not profile.is_active:
        raise ValidationError({"profile": _("This profile is deactivated.")})
    tmp, sha256, size = store_upload(stream)
    run = ImportRun(profile_id=profile.id, profile_version=profile.version, source=source,
                    file_name=(os.path.basename(file_name or "") or "file")[:255], file_size=size,
                    sha256=sha256, is_dry_run=dry_run, is_forced=force, status="queued",
                    started_by=current_actor().label[:254])
    db.session.add(run)
    db.session.flush()
    target = run_file_path(run)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(tmp), target)
    earlier = previous_success(profile, sha256)
    if earlier is not None and not force:
        run.status = "succeeded"
        run.finished_at = datetime.now(UTC)
        run.message = _("This file was already imported by run #%(run)d: nothing to do. "
                        "Force the import to run it again.", run=earlier.id)
    record_event("create", "import_runs", run.id, None,
                 {"profile": profile.name, "file_name": run.file_name, "sha256": sha256,
                  "dry_run": dry_run, "force": force})
    return run


def claim(run: ImportRun) -> bool:
    """Take the profile's lock for `run`; False when another run holds it."""
    result = db.session.execute(
        update(ImportProfile).where(ImportProfile.id == run.profile_id,
                                    ImportProfile.locked_by_run_id.is_(None))
        .values(locked_by_run_id=run.id).execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


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
    return db.session.scalar(select(ImportProfile.locked_by_run_id).where(
        ImportProfile.id == run.profile_id))


# -- the worker: this process, and the runs it holds --------------------------------------

_worker: dict[str, Any] = {"pid": None, "id": ""}
_held: set[int] = set()
_held_lock = Lock()


def worker_id() -> str:
    """host:pid:token of this process; the token tells a restarted process on a reused pid."""
    pid = os.getpid()
    if _worker["pid"] != pid:
        _worker.update(pid=pid, id=f"{socket.gethostname()[:80]}:{pid}:{secrets.token_hex(4)}")
    return _worker["id"]


def hold(run_id: int) -> None:
    """This process runs, or has queued, the run: it beats for it until `let_go`."""
    with _held_lock:
        _held.add(run_id)


def let_go(run_id: int) -> None:
    with _held_lock:
        _held.discard(run_id)


def held_runs() -> list[int]:
    with _held_lock:
        return sorted(_held)


def beat(run_ids: list[int]) -> None:
    """The heartbeat of this worker's live runs (a platform job: every tenant's runs)."""
    if not run_ids:
        return
    with all_tenants_unsafe("import heartbeat"):
        db.session.execute(
            update(ImportRun).where(ImportRun.id.in_(run_ids), ImportRun.status.in_(LIVE))
            .values(heartbeat_at=datetime.now(UTC), worker_id=worker_id())
            .execution_options(synchronize_session=False))
        db.session.commit()


def worker_is_gone(owner: str | None) -> bool:
    """True when `owner` is a process of this host that no longer runs (a restart gives a
    new pid, or the same pid with a new token); other hosts are judged by their heartbeat."""
    host, _sep, rest = (owner or "").partition(":")
    pid_text, _sep, token = rest.partition(":")
    if host != socket.gethostname()[:80] or not pid_text.isdigit() or not token:
        return False
    if owner == worker_id():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


# -- ending runs, whatever happens ------------------------------------------------------------

def _end(run_id: int, status: str, message: str) -> bool:
    """End a live run (status, message, counts kept), release its profile and queue its
    `finish` event (import.failed for failed and interrupted); False if it had ended."""
    now = datetime.now(UTC)
    ended = db.session.execute(
        update(ImportRun).where(ImportRun.id == run_id, ImportRun.status.in_(LIVE))
        .values(status=status, message=message[:2000], finished_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1
    run = db.session.get(ImportRun, run_id, populate_existing=True)
    if run is None:
        return False
    _release(run.id, run.profile_id)
    if ended:
        if run.rows_total is None or run.rows_done > run.rows_total:
            run.rows_total = run.rows_done
        record_event("finish", "import_runs", run.id, None,
                     {"status": status, **run.counts, "tenant": run.tenant_id})
    return ended


def fail_run(run_id: int, message: str) -> bool:
    """Roll back, then end the run failed in a fresh transaction (tried again on error);
    False when even that failed: the periodic recovery ends it."""
    for attempt in range(FAIL_ATTEMPTS):
        try:
            db.session.rollback()
            _end(run_id, "failed", message)
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


def recover_interrupted_runs(stale_seconds: float | None = None) -> int:
    """Runs whose process stopped, or whose heartbeat stopped, are ended `interrupted`: their
    profile released and import.failed queued, so the runs queued behind them proceed.

    The body of the scheduled `recover_runs` job (importers/jobs.py), also called at the
    start of a CLI import; a platform job over every tenant. Returns how many runs it ended.
    """
    return len(interrupt_abandoned_runs(stale_seconds))


def interrupt_abandoned_runs(stale_seconds: float | None = None,
                             keep: Collection[int] = ()) -> list[tuple[int, int]]:
    """recover_interrupted_runs, sparing the runs in `keep` (known to wait in a queue);
    (run id, tenant id) of the runs it ended."""
    if stale_seconds is None:
        stale_seconds = float(current_app.config["IMPORT_STALE_SECONDS"])
    stale = datetime.now(UTC) - timedelta(seconds=stale_seconds)
    held, me = set(held_runs()) | set(keep), worker_id()
    with all_tenants_unsafe("import recovery"):
        live = db.session.execute(select(
            ImportRun.id, ImportRun.tenant_id, ImportRun.worker_id, ImportRun.heartbeat_at,
            ImportRun.created_at).where(ImportRun.status.in_(LIVE))).all()
        db.session.rollback()
    ended: list[tuple[int, int]] = []
    for run_id, tenant_id, owner, heartbeat_at, created_at in live:
        if run_id in held:
            continue
        last = heartbeat_at or created_at
        if owner == me or worker_is_gone(owner) or last is None or last < stale:
            with tenant_context(tenant_id, SYSTEM):
                try:
                    if _end(run_id, "interrupted", INTERRUPTED):
                        ended.append((run_id, tenant_id))
                    db.session.commit()
                except Exception:  # the next check tries again
                    log.exception("import run %s: marking it interrupted failed", run_id)
                    db.session.rollback()
    return ended


def rerun_interrupted(run_id: int) -> ImportRun | None:
    """The interrupted run's second go, as if its file were sent again, unless another run of
    its profile came since (the older file would change records back) or the file was
    already interrupted AUTO_RERUNS times (a file that kills its worker must not loop)."""
    run = db.session.get(ImportRun, run_id)
    if run is None or run.status != "interrupted" or run.profile is None:
        return None
    later = db.session.scalar(select(ImportRun.id).where(
        ImportRun.profile_id == run.profile_id, ImportRun.id > run.id).limit(1))
    tries = db.session.scalar(select(func.count()).select_from(ImportRun).where(
        ImportRun.profile_id == run.profile_id, ImportRun.sha256 == run.sha256,
        ImportRun.status == "interrupted",
        ImportRun.created_at >= datetime.now(UTC) - timedelta(days=1)))
    if later is not None or (tries or 0) > AUTO_RERUNS or not run_file_path(run).exists():
        return None
    return rerun(run)


def execute_run(run: ImportRun, progress: Callable[[ImportRun], None] | None = None) -> ImportRun:
    """Run a queued run to its end in this thread (the caller holds the tenant context).

    Whatever happens the run ends: an unexpected error, even in the run's own error
    handling, ends it failed in a fresh transaction (fail_run)."""
    if run.is_finished:
        return run
    run_id = run.id
    hold(run_id)
    try:
        return _execute(run, progress)
    except Exception as exc:
        log.exception("import run %s failed", run_id)
        fail_run(run_id, _("The run stopped on an unexpected error (%(error)s). "
                           "Run it again.", error=_error_text(exc)))
        return db.session.get(ImportRun, run_id, populate_existing=True)
    finally:
        let_go(run_id)


def _error_text(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _execute(run: ImportRun, progress: Callable[[ImportRun], None] | None) -> ImportRun:
    from importers.engine import ImportEngine
    from importers.readers import ReaderError

    run.status, run.started_at = "running", datetime.now(UTC)
    run.heartbeat_at, run.worker_id = run.started_at, worker_id()
    db.session.commit()
    try:
        profile = parsed(run.profile, run.profile_version)
        engine = ImportEngine(run, profile, run_file_path(run), limits(), progress)
        outcome = engine.execute()
        run.status = "failed" if outcome.failed and not (
            outcome.created or outcome.updated or outcome.unchanged) else \
            "partial" if outcome.failed else "succeeded"
        run.archived = outcome.archived
    except ReaderError as exc:
        db.session.rollback()
        run.status, run.message = "failed", str(exc)
    except ValidationError as exc:
        db.session.rollback()
        run.status = "failed"
        run.message = "; ".join(f"{k}: {v}" if k else v for k, v in exc.errors.items())
    run.finished_at = datetime.now(UTC)
    if run.rows_total is None or run.rows_done > (run.rows_total or 0):
        run.rows_total = run.rows_done
    record_event("finish", "import_runs", run.id, None,
                 {"status": run.status, **run.counts, "tenant": run.tenant_id})
    _release(run.id, run.profile_id)
    db.session.commit()
    return run


def rerun(run: ImportRun) -> ImportRun:
    """A new run of the same file and profile (an interrupted or failed run's second go)."""
    profile = run.profile
    if profile is None:
        raise ValidationError({"profile": _("The profile no longer exists.")})
    with run_file_path(run).open("rb") as stream:
        return create_run(profile, stream, run.file_name, source=run.source,
                          dry_run=run.is_dry_run, force=True)
