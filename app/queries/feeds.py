"""Feeds' reads: each profile's health, runs, a run's errors and progress."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from app.extensions import db
from app.models import ImportProfile, ImportProfileVersion, ImportRowError, ImportRun
from app.models.feed import CUT_SHORT, FINISHED
from app.policies import visible
from app.profile_names import plain_name
from app.queries.error_groups import in_group
from app.queries.keyset import Page, keyset_page

HEALTH_DAYS = 30
ERRORS_PAGE = 100


@dataclass
class FeedHealth:
    """What a tenant checks every morning about one feed."""

    profile: ImportProfile
    last_run: ImportRun | None
    last_success_at: datetime | None
    rows: int
    failed_rows: int
    failed_runs: int

    @property
    def is_failing(self) -> bool:
        # A dry run's errors say what an import would do: the feed itself has not failed.
        last_failed = self.last_run is not None and not self.last_run.is_dry_run \
            and self.last_run.status in (*CUT_SHORT, "partial")
        return bool(self.failed_rows or self.failed_runs or last_failed)


def feed_health(now: datetime) -> list[FeedHealth]:
    """Every profile with its last run and its last 30 days, in one grouped query."""
    real = ImportRun.is_dry_run.is_(False)
    recent = real & (ImportRun.created_at >= now - timedelta(days=HEALTH_DAYS))
    stats = select(
        ImportRun.profile_id,
        func.max(ImportRun.id).label("last_run_id"),
        # A run undone since is no success: what it wrote is gone.
        func.max(case((real & (ImportRun.status == "succeeded")
                       & ImportRun.reverted_at.is_(None), ImportRun.finished_at)))
        .label("last_success_at"),
        func.sum(case((recent, ImportRun.rows_done), else_=0)).label("rows"),
        func.sum(case((recent, ImportRun.failed), else_=0)).label("failed_rows"),
        func.sum(case((recent & ImportRun.status.in_(CUT_SHORT), 1), else_=0)).label("failed_runs"),
    ).group_by(ImportRun.profile_id).subquery()
    last = aliased(ImportRun)
    stmt = (select(ImportProfile, last, stats.c.last_success_at, stats.c.rows,
                   stats.c.failed_rows, stats.c.failed_runs)
            .outerjoin(stats, stats.c.profile_id == ImportProfile.id)
            .outerjoin(last, last.id == stats.c.last_run_id)
            .order_by(ImportProfile.name, ImportProfile.id))
    return [FeedHealth(profile, run, _aware(success), int(rows or 0), int(failed or 0),
                       int(failed_runs or 0))
            for profile, run, success, rows, failed, failed_runs in db.session.execute(stmt)]


def _aware(value: Any) -> datetime | None:
    """SQLite hands an aggregate's datetime back as text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def runs_page(profile_id: int | None, status: str | None, size: int,
              after: str | None = None, before: str | None = None) -> Page:
    """Runs, newest first, optionally of one profile and one status."""
    return keyset_page(_runs(status or None, profile_id), ImportRun.id, ImportRun.id,
                       descending=True, size=size, after=after, before=before)


def runs_select(principal: Any, status: str | None = None, profile_id: int | None = None,
                source: str | None = None) -> Select:
    """The runs `principal` may see, optionally of one status, profile and source."""
    return visible(_runs(status, profile_id, source), ImportRun, principal)


def _runs(status: str | None, profile_id: int | None, source: str | None = None) -> Select:
    stmt = select(ImportRun).options(joinedload(ImportRun.profile))
    for column, value in ((ImportRun.status, status), (ImportRun.profile_id, profile_id),
                          (ImportRun.source, source)):
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def profiles_select(principal: Any, entity: str | None = None) -> Select:
    """The import profiles `principal` may see, optionally of one entity."""
    stmt = select(ImportProfile)
    if entity:
        stmt = stmt.where(ImportProfile.entity == entity)
    return visible(stmt, ImportProfile, principal)


def find_profile(name_or_id: Any) -> ImportProfile | None:
    """A profile by its name (profile_named), else by its id."""
    text = str(name_or_id or "").strip()
    profile = profile_named(text)
    if profile is None and text.isascii() and text.isdigit() and len(text) < 10:
        profile = db.session.scalar(select(ImportProfile).where(ImportProfile.id == int(text)))
    return profile


def profile_named(name: str) -> ImportProfile | None:
    """A profile by its name, as typed, else read the same ("Clients - import nocturne"
    finds "Clients – import nocturne"): whose name a new one may not take."""
    text = name.strip()
    profile = db.session.scalar(select(ImportProfile).where(ImportProfile.name == text))
    if profile is None and text:
        wanted = plain_name(text)
        profile = next((p for p in db.session.scalars(select(ImportProfile).order_by(
            ImportProfile.id)) if plain_name(p.name) == wanted), None)
    return profile


def definition_at(profile: ImportProfile, version: int | None) -> dict[str, Any]:
    """The profile's definition as it was at `version` (the current one when unknown)."""
    if version is None or version == profile.version:
        return profile.definition
    stored = db.session.scalar(select(ImportProfileVersion.definition).where(
        ImportProfileVersion.profile_id == profile.id, ImportProfileVersion.version == version))
    return stored or profile.definition


def previous_success(profile: ImportProfile, sha256: str) -> ImportRun | None:
    """The profile's last import, when it took in this same file whole with this version
    and was not undone (nor is being), and no run of the profile was undone since.

    Only the last one: after another file, an older identical file would change records
    back; after a partial or interrupted run, sending the file again is how it is retried;
    after a revert, how it is taken in again: a revert of an earlier run may have taken out
    records the last file holds unchanged.
    """
    last = db.session.scalar(select(ImportRun).where(
        ImportRun.profile_id == profile.id, ImportRun.is_dry_run.is_(False),
        ImportRun.started_at.is_not(None), ImportRun.status.in_(FINISHED),
    ).order_by(ImportRun.id.desc()).limit(1))
    if last is not None and last.sha256 == sha256 and last.status == "succeeded" \
            and last.profile_version == profile.version and last.reverted_at is None \
            and not last.revert_pending and not _undone_since(last):
        return last
    return None


def _undone_since(run: ImportRun) -> bool:
    """Whether a revert of another run of `run`'s profile ended after it, or is asked."""
    return db.session.scalar(select(ImportRun.id).where(
        ImportRun.profile_id == run.profile_id, ImportRun.id != run.id,
        or_(ImportRun.revert_status.in_(("queued", "running")),
            ImportRun.reverted_at >= run.finished_at if run.finished_at is not None
            else ImportRun.reverted_at.is_not(None))).limit(1)) is not None


def recent_runs(profile: ImportProfile, limit: int = 10) -> list[ImportRun]:
    stmt = select(ImportRun).where(ImportRun.profile_id == profile.id) \
        .order_by(ImportRun.id.desc()).limit(limit)
    return list(db.session.scalars(stmt))


def profile_names() -> list[tuple[int, str]]:
    return list(db.session.execute(
        select(ImportProfile.id, ImportProfile.name).order_by(ImportProfile.name)).tuples())


def errors_select(run: ImportRun) -> Select:
    """A run's row errors (paged by file line, then id)."""
    return select(ImportRowError).where(ImportRowError.run_id == run.id)


def first_errors(run: ImportRun, limit: int) -> list[ImportRowError]:
    """A run's first `limit` row errors by file line."""
    return list(db.session.scalars(errors_select(run).order_by(
        ImportRowError.line, ImportRowError.id).limit(limit)))


def errors_page(run: ImportRun, after: str | None = None, before: str | None = None,
                group: ImportRowError | None = None, whole_kind: bool = False) -> Page:
    """A run's row errors by file line, a hundred at a time; only those of a group when
    `group` (its first error) is given, of its whole kind with `whole_kind`."""
    stmt = errors_select(run) if group is None \
        else in_group(errors_select(run), group, whole_kind=whole_kind)
    return keyset_page(stmt, ImportRowError.line, ImportRowError.id,
                       descending=False, size=ERRORS_PAGE, after=after, before=before)


@dataclass
class Progress:
    done: int
    total: int | None
    percent: int | None
    rate: float


def run_progress(run: ImportRun, now: datetime) -> Progress:
    """Rows done out of the total (when known) and rows per second so far."""
    end = run.finished_at or now
    seconds = (end - run.started_at).total_seconds() if run.started_at else 0
    rate = run.rows_done / seconds if seconds > 0 else 0.0
    total = run.rows_total
    if run.is_finished:
        percent = 100
    elif total:
        percent = min(int(run.rows_done * 100 / total), 99)
    else:
        percent = None
    return Progress(run.rows_done, total, percent, round(rate, 1))
