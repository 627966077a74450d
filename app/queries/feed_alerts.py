"""Feed alerts' reads: which feeds are late, the runs that call for an alert, a tenant's day
of feeds for the digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.clock import tenant_zone
from app.extensions import db
from app.feed_schedule import last_deadlines
from app.models import FeedAlert, FeedExpectation, ImportProfile, ImportRun

LOOKBACK = timedelta(days=1)  # older runs and deadlines raise no alert
ALERTED_STATUSES = ("failed", "partial", "interrupted")


def expectations() -> dict[int, FeedExpectation]:
    """When the active profiles' files are due, by profile (a deactivated feed is not late)."""
    return {
        e.profile_id: e
        for e in db.session.scalars(
            select(FeedExpectation)
            .join(ImportProfile, ImportProfile.id == FeedExpectation.profile_id)
            .where(ImportProfile.is_active.is_(True))
        )
    }


def last_arrivals() -> dict[int, datetime]:
    """Each profile's last real run's creation (when its file came)."""
    rows = db.session.execute(
        select(ImportRun.profile_id, func.max(ImportRun.created_at))
        .where(ImportRun.is_dry_run.is_(False))
        .group_by(ImportRun.profile_id)
    )
    return {profile_id: _aware(at) for profile_id, at in rows if at is not None}


def late_feeds(now: datetime) -> dict[int, datetime]:
    """The profiles whose file has not come by its last deadline: the deadline, by profile."""
    arrivals = last_arrivals()
    late = {}
    for profile_id, expectation in expectations().items():
        deadline = missed_deadline(expectation, arrivals.get(profile_id), now)
        if deadline is not None:
            late[profile_id] = deadline
    return late


def missed_deadline(
    expectation: FeedExpectation, last_arrival: datetime | None, now: datetime
) -> datetime | None:
    """The last deadline passed with no file come since the deadline before it (deadlines
    before the expectation was set do not count)."""
    deadline, before = last_deadlines(
        expectation.cron, expectation.grace_minutes, tenant_zone(), now
    )
    if deadline <= _aware(expectation.created_at):
        return None
    if last_arrival is not None and last_arrival > before:
        return None
    return deadline


def runs_to_alert(now: datetime) -> list[ImportRun]:
    """Real runs ended failed, partial or interrupted lately, with no alert yet."""
    alerted = ImportRun.id.in_(select(FeedAlert.run_id).where(FeedAlert.run_id.is_not(None)))
    return list(
        db.session.scalars(
            select(ImportRun)
            .where(
                ImportRun.is_dry_run.is_(False),
                ImportRun.status.in_(ALERTED_STATUSES),
                ImportRun.finished_at >= now - LOOKBACK,
                ~alerted,
            )
            .order_by(ImportRun.id)
        )
    )


def alerts_since(since: datetime) -> list[FeedAlert]:
    return list(
        db.session.scalars(
            select(FeedAlert).where(FeedAlert.created_at >= since).order_by(FeedAlert.id)
        )
    )


@dataclass
class FeedDay:
    """One feed's last 24 hours, for the digest."""

    profile: ImportProfile
    runs: int
    rows: int
    failed_rows: int
    failed_runs: int
    last_run: ImportRun | None
    late_since: datetime | None

    @property
    def is_failing(self) -> bool:
        return bool(self.failed_rows or self.failed_runs or self.late_since)


def feeds_day(now: datetime) -> list[FeedDay]:
    """Every active profile's runs of the last 24 hours (dry runs aside), in name order."""
    since = now - LOOKBACK
    runs: dict[int, list[ImportRun]] = {}
    for run in db.session.scalars(
        select(ImportRun)
        .where(ImportRun.is_dry_run.is_(False), ImportRun.created_at >= since)
        .order_by(ImportRun.id)
    ):
        runs.setdefault(run.profile_id, []).append(run)
    late = late_feeds(now)
    days = []
    for profile in db.session.scalars(
        select(ImportProfile).where(ImportProfile.is_active.is_(True)).order_by(ImportProfile.name)
    ):
        mine = runs.get(profile.id, [])
        days.append(
            FeedDay(
                profile,
                len(mine),
                sum(r.rows_done for r in mine),
                sum(r.failed for r in mine),
                sum(r.status in ("failed", "interrupted") for r in mine),
                mine[-1] if mine else None,
                late.get(profile.id),
            )
        )
    return days


def _aware(value: datetime) -> datetime:
    from app.queries.feeds import _aware as aware

    return aware(value)
