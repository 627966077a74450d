"""Feeds' writes: profiles (versioned), runs (queued, locked, executed, finished)."""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from app.errors import ValidationError
from app.extensions import db
from app.models import ImportProfile, ImportProfileVersion, ImportRun
from app.models.feed import FINISHED
from app.services.audit import record_event
from app.services.files import store_stream
from app.tenancy import all_tenants_unsafe, current_actor, current_tenant_id
from importers.profile import Profile, normalized, parse_profile
from importers.readers import Limits

STALE_AFTER = timedelta(minutes=2)


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
    db.session.execute(
        update(ImportProfile).where(ImportProfile.id == run.profile_id,
                                    ImportProfile.locked_by_run_id == run.id)
        .values(locked_by_run_id=None).execution_options(synchronize_session=False))
    db.session.commit()


def holder(run: ImportRun) -> int | None:
    return db.session.scalar(select(ImportProfile.locked_by_run_id).where(
        ImportProfile.id == run.profile_id))


def mark_interrupted() -> int:
    """At start: runs left running or queued by a stopped process are marked interrupted."""
    stale = datetime.now(UTC) - STALE_AFTER
    with all_tenants_unsafe("import recovery"):
        runs = db.session.scalars(select(ImportRun).where(
            ImportRun.status.in_(("running", "queued")),
            (ImportRun.heartbeat_at.is_(None) & (ImportRun.created_at < stale))
            | (ImportRun.heartbeat_at < stale))).all()
        for run in runs:
            run.status, run.finished_at = "interrupted", datetime.now(UTC)
            run.message = "The run stopped before its end (process stopped). Run it again."
            db.session.execute(
                update(ImportProfile).where(ImportProfile.locked_by_run_id == run.id)
                .values(locked_by_run_id=None).execution_options(synchronize_session=False))
        db.session.commit()
    return len(runs)


def rerun(run: ImportRun) -> ImportRun:
    """A new run of the same file and profile (an interrupted or failed run's second go)."""
    profile = run.profile
    if profile is None:
        raise ValidationError({"profile": _("The profile no longer exists.")})
    with run_file_path(run).open("rb") as stream:
        return create_run(profile, stream, run.file_name, source=run.source,
                          dry_run=run.is_dry_run, force=True)


def execute_run(run: ImportRun, progress: Callable[[ImportRun], None] | None = None) -> ImportRun:
    """Run a queued run to its end in this thread (the caller holds the tenant context)."""
    from importers.engine import ImportEngine
    from importers.readers import ReaderError

    if run.is_finished:
        return run
    run.status, run.started_at = "running", datetime.now(UTC)
    run.heartbeat_at = run.started_at
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
    db.session.commit()
    record_event("finish", "import_runs", run.id, None,
                 {"status": run.status, **run.counts, "tenant": current_tenant_id()})
    db.session.commit()
    return run
