"""Feeds' writes: import profiles (every change a new version) and import runs, queued on a
file kept with the run (for re-runs and the errors CSV). They flush; the caller commits, and
the run lifecycle (importers/runs.py) executes what they queue."""
from __future__ import annotations

import hashlib
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.orm.attributes import flag_modified

from app.errors import ValidationError
from app.extensions import db
from app.models import ImportProfile, ImportProfileVersion, ImportRun
from app.queries.feeds import previous_success, profile_named
from app.services.audit import record_event
from app.services.files import store_stream, too_large
from app.tenancy import current_actor
from importers.convert import header_key
from importers.profile import normalized, parse_profile
from importers.readers import message_id

ALREADY_IMPORTED = _l("This file was already imported by run #%(run)d: nothing to do. "
                      "Force the import to run it again.")

# -- profiles -------------------------------------------------------------------------------

def create_profile(definition: dict[str, Any]) -> ImportProfile:
    parsed = parse_profile(definition)
    if profile_named(parsed.name) is not None:
        raise ValidationError({"name": _("A profile with this name already exists.")})
    profile = ImportProfile(name=parsed.name, entity=parsed.entity.name, version=1,
                            definition=parsed.definition)
    db.session.add(profile)
    db.session.flush()
    _add_version(profile)
    record_event("create", "import_profiles", profile.id, None, parsed.definition)
    return profile


def update_profile(profile: ImportProfile, definition: dict[str, Any], *,
                   order_counts: bool = False, seen_version: int | None = None
                   ) -> ImportProfile:
    """Save a new version of the profile (earlier runs keep naming the version they used).
    The same columns in another order are a new version only when `order_counts` (an admin's
    mapping screen or JSON editor): an API client need not keep a JSON object's order.
    `seen_version`: the version the editor showed; saved since by someone else, the edit is
    refused rather than undo that change without a word."""
    hold_for_edit(profile)
    if seen_version is not None and seen_version != profile.version:
        raise ValidationError({"": _(
            "This profile was changed by %(who)s since you opened it (version %(version)d "
            "now): open it again to see the change, then make yours.",
            who=profile.versions[0].created_by if profile.versions else "—",
            version=profile.version)})
    parsed = parse_profile(definition, saved_maps=kept_maps(profile.definition, definition))
    other = profile_named(parsed.name)
    if other is not None and other.id != profile.id:
        raise ValidationError({"name": _("A profile with this name already exists.")})
    if parsed.definition == profile.definition and (not order_counts or list(
            parsed.definition["columns"]) == list(profile.definition.get("columns") or {})):
        return profile
    before = profile.definition
    profile.name, profile.entity = parsed.name, parsed.entity.name
    profile.definition, profile.version = parsed.definition, profile.version + 1
    flag_modified(profile, "definition")  # another order alone: equal dicts, yet written
    db.session.flush()
    _add_version(profile)
    record_event("update", "import_profiles", profile.id, before, parsed.definition)
    return profile


def map_value(profile: ImportProfile, column: str, source: str, target: str) -> ImportProfile:
    """Map one value of a column's files to a Relais value (an empty target removes the
    mapping): a new version of the profile, as any other mapping edit."""
    hold_for_edit(profile)  # the mappings as they are now: another saved meanwhile is kept
    definition = normalized(profile.definition)
    maps = {header: dict(values) for header, values in (definition.get("value_maps") or {})
            .items()}
    values = maps.setdefault(column.strip(), {})
    if target.strip():
        values[source.strip()] = target.strip()
    else:
        values.pop(source.strip(), None)
    definition["value_maps"] = {header: values for header, values in maps.items() if values}
    return update_profile(profile, definition)


def kept_maps(before: Any, definition: Any) -> dict[str, Any]:
    """The saved value mappings of the columns that keep their target, under their header
    in `definition` (matched as a run matches headers, whatever their case and accents)."""
    if not isinstance(before, dict) or not isinstance(definition, dict) \
            or not isinstance(definition.get("columns"), dict) \
            or before.get("entity") != definition.get("entity"):
        return {}  # another entity: its values are other values
    columns = definition["columns"]
    then = {header_key(str(header)): target
            for header, target in (before.get("columns") or {}).items()}
    now = {header_key(str(header)): header for header in columns}
    kept = {}
    for header, values in (before.get("value_maps") or {}).items():
        header_now = now.get(header_key(header))
        if header_now is not None and columns[header_now] == then.get(header_key(header)):
            kept[str(header_now).strip()] = values
    return kept


def hold_for_edit(profile: ImportProfile) -> None:
    """The profile read again, held until the transaction ends (its row on PostgreSQL, the
    write lock on SQLite): two saves at once make two versions one after the other, where
    both would have written the same next version (a unique key refused the second)."""
    db.session.execute(update(ImportProfile).where(ImportProfile.id == profile.id)
                       .values(version=ImportProfile.version,
                               updated_at=ImportProfile.updated_at)  # not a change
                       .execution_options(synchronize_session=False))
    db.session.refresh(profile)


def _add_version(profile: ImportProfile) -> None:
    db.session.add(ImportProfileVersion(
        profile_id=profile.id, version=profile.version, definition=normalized(profile.definition),
        created_by=current_actor().label[:254]))
    db.session.flush()


# -- runs -----------------------------------------------------------------------------------

def run_file_path(run: ImportRun) -> Path:
    """Where the run's file is kept."""
    return Path(current_app.config["FILES_DIR"]) / "imports" / str(run.tenant_id) / f"{run.id}"


def _store_upload(stream: IO[bytes]) -> tuple[Path, str, int]:
    """Copy an upload to a temporary file while hashing it; refuse it past the size limit."""
    path, sha256, size = store_stream(stream, current_app.config["IMPORT_MAX_BYTES"])
    if size == 0:
        path.unlink()
        raise ValidationError({"file": _("The file is empty.")})
    return path, sha256, size


def create_run(profile: ImportProfile, stream: IO[bytes], file_name: str, *, source: str,
               dry_run: bool = False, force: bool = False,
               documents_run_id: int | None = None) -> ImportRun:
    """Queue a run of `profile` on an uploaded file (kept with the run, for re-runs);
    `documents_run_id`: the run whose archive holds the documents its rows name."""
    if not profile.is_active:
        raise ValidationError({"profile": _("This profile is deactivated.")})
    tmp, sha256, size = _store_upload(stream)
    run = _queue_stored(profile, tmp, file_name, sha256, size, source=source,
                        dry_run=dry_run, force=force)
    run.documents_run_id = documents_run_id
    return run


def create_run_from_file(profile: ImportProfile, path: Path, file_name: str, *, source: str,
                         sha256: str | None = None, size: int | None = None) -> ImportRun:
    """Queue a run of `profile` on a file already on disk (an SFTP arrival), moved to the
    run's keeping without a copy when on the same storage; `sha256` and `size` when the
    sender's upload already measured them."""
    if not profile.is_active:
        raise ValidationError({"profile": _("This profile is deactivated.")})
    if sha256 is None or size is None:
        with path.open("rb") as stream:
            size, sha256 = _measure(stream)
    if size > current_app.config["IMPORT_MAX_BYTES"]:
        raise too_large(current_app.config["IMPORT_MAX_BYTES"])
    if size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    return _queue_stored(profile, path, file_name, sha256, size, source=source)


def _measure(stream: IO[bytes]) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _queue_stored(profile: ImportProfile, tmp: Path, file_name: str, sha256: str, size: int,
                  *, source: str, dry_run: bool = False, force: bool = False) -> ImportRun:
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
        # Kept by id and values, read in the reader's language (importers/row_messages.py).
        run.message_id, run.message_params = message_id(ALREADY_IMPORTED), {"run": earlier.id}
        run.message = str(ALREADY_IMPORTED) % run.message_params
    record_event("create", "import_runs", run.id, None,
                 {"profile": profile.name, "file_name": run.file_name, "sha256": sha256,
                  "dry_run": dry_run, "force": force})
    return run


def rerun(run: ImportRun) -> ImportRun:
    """A new run of the same file and profile (an interrupted or failed run's second go)."""
    return _run_file_again(run, dry_run=run.is_dry_run, force=True)


def apply_dry_run(run: ImportRun) -> ImportRun:
    """The dry run's file, queued for a real import with the dry run's options."""
    if not run.can_apply:
        raise ValidationError({"run": _("Only a finished dry run can be imported for real.")})
    if run.profile is not None and run.profile.version != run.profile_version:
        # What it showed is no more what the profile would do: tried again, it says so.
        raise ValidationError({"run": _(
            "The profile was changed since this dry run (version %(then)d, now %(now)d): "
            "run the dry run again to see what the file would do now.",
            then=run.profile_version, now=run.profile.version)})
    return _run_file_again(run, dry_run=False, force=run.is_forced)


def import_corrected_file(run: ImportRun, stream: IO[bytes], file_name: str) -> ImportRun:
    """A new run of `run`'s profile on the file fixed from its errors, with `run`'s options
    (a dry run's correction is a dry run too)."""
    if run.profile is None:
        raise ValidationError({"profile": _("The profile no longer exists.")})
    # An archive's errors file is its metadata file: its documents stay in the archive.
    documents_run_id = (run.documents_run_id or run.id) \
        if run.profile.definition.get("documents") else None
    return create_run(run.profile, stream, file_name, source="upload", dry_run=run.is_dry_run,
                      force=run.is_forced, documents_run_id=documents_run_id)


def _run_file_again(run: ImportRun, *, dry_run: bool, force: bool) -> ImportRun:
    """Raises FileNotFoundError when the run's file is no longer kept."""
    profile = run.profile
    if profile is None:
        raise ValidationError({"profile": _("The profile no longer exists.")})
    with run_file_path(run).open("rb") as stream:
        return create_run(profile, stream, run.file_name, source=run.source, dry_run=dry_run,
                          force=force, documents_run_id=run.documents_run_id)
