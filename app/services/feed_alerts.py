"""Feed alerts' writes: when a feed's file is expected, the alerts raised (each once: its key
is unique per profile, so a second check or a second process raises nothing), the claim of
an alert or a digest before it is mailed (a conditional update: one process sends it), and
the admins' digest subscriptions. They flush; the job (app/platform_jobs.py) commits and
mails (app/services/feed_alert_mail.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from app import clock
from app.clock import tenant_zone
from app.errors import ValidationError
from app.extensions import db
from app.feed_schedule import MAX_GRACE_MINUTES, is_valid_cron
from app.models import (
    FeedAlert,
    FeedDigestSubscription,
    FeedExpectation,
    ImportProfile,
    ImportRun,
    Role,
    User,
)
from app.queries import feed_alerts as queries
from app.services.audit import record_event

# -- settings -----------------------------------------------------------------------------------


def set_expectation(profile: ImportProfile, cron: str, grace_minutes: Any) -> FeedExpectation:
    """When the profile's file is due; replaces what was said before."""
    cron = " ".join(str(cron or "").split())
    errors = {}
    if not is_valid_cron(cron):
        errors["cron"] = _(
            "Write when the file is due as a cron expression of five fields "
            "(minute hour day month weekday), e.g. “30 6 * * 1-5” for every "
            "weekday by 06:30."
        )
    try:
        grace = int(grace_minutes or 0)
    except (TypeError, ValueError):
        grace = -1
    if not 0 <= grace <= MAX_GRACE_MINUTES:
        errors["grace_minutes"] = _(
            "The grace is a number of minutes, from 0 to %(max)d.", max=MAX_GRACE_MINUTES
        )
    if errors:
        raise ValidationError(errors)
    expectation = db.session.scalar(
        select(FeedExpectation).where(FeedExpectation.profile_id == profile.id)
    )
    before = (
        None
        if expectation is None
        else {"cron": expectation.cron, "grace_minutes": expectation.grace_minutes}
    )
    if expectation is None:
        expectation = FeedExpectation(
            profile_id=profile.id, cron=cron, grace_minutes=grace, created_at=clock.now()
        )
        db.session.add(expectation)
    else:
        expectation.cron, expectation.grace_minutes = cron, grace
    db.session.flush()
    record_event(
        "update",
        "import_profiles",
        profile.id,
        {"expected": before},
        {"expected": {"cron": cron, "grace_minutes": grace}},
    )
    return expectation


def clear_expectation(profile: ImportProfile) -> None:
    expectation = db.session.scalar(
        select(FeedExpectation).where(FeedExpectation.profile_id == profile.id)
    )
    if expectation is not None:
        before = {"cron": expectation.cron, "grace_minutes": expectation.grace_minutes}
        db.session.delete(expectation)
        db.session.flush()
        record_event(
            "update", "import_profiles", profile.id, {"expected": before}, {"expected": None}
        )


def set_digest(user: User, wanted: bool) -> None:
    """Whether the admin gets the daily digest of every feed."""
    if wanted and user.role != Role.ADMIN.value:
        raise ValidationError({"digest": _("Only administrators get the feeds digest.")})
    found = db.session.scalar(
        select(FeedDigestSubscription).where(FeedDigestSubscription.user_id == user.id)
    )
    if wanted and found is None:
        db.session.add(FeedDigestSubscription(user_id=user.id))
    elif not wanted and found is not None:
        db.session.delete(found)
    db.session.flush()


def wants_digest(user: User) -> bool:
    return (
        db.session.scalar(
            select(FeedDigestSubscription.id).where(FeedDigestSubscription.user_id == user.id)
        )
        is not None
    )


# -- raising alerts ------------------------------------------------------------------------------


def raise_due_alerts(now: datetime) -> list[FeedAlert]:
    """The alerts due at `now`: each run ended failed, partial or interrupted, each deadline
    passed without its file; those already raised are not raised again."""
    raised = []
    for run in queries.runs_to_alert(now):
        alert = _raise(
            run.profile_id,
            run.status,
            f"run:{run.id}",
            run_id=run.id,
            detail=(run.message or "")[:2000] or None,
        )
        if alert is not None:
            raised.append(alert)
    late = queries.late_feeds(now)
    for profile_id, deadline in late.items():
        if deadline < now - queries.LOOKBACK:
            continue
        alert = _raise(
            profile_id, "late", f"late:{deadline.isoformat(timespec='minutes')}", due_at=deadline
        )
        if alert is not None:
            raised.append(alert)
    return raised


def _raise(profile_id: int, kind: str, key: str, **values: Any) -> FeedAlert | None:
    """A new alert, or None when one of this key was raised already (by this check before,
    or by another process at the same time)."""
    if (
        db.session.scalar(
            select(FeedAlert.id).where(FeedAlert.profile_id == profile_id, FeedAlert.key == key)
        )
        is not None
    ):
        return None
    alert = FeedAlert(profile_id=profile_id, kind=kind, key=key, created_at=clock.now(), **values)
    try:
        with db.session.begin_nested():
            db.session.add(alert)
    except IntegrityError:
        return None
    return alert


# -- claiming what to mail -------------------------------------------------------------------------


def claim_alert(alert_id: int, now: datetime) -> bool:
    """Take the alert to mail it: True for the one process that does."""
    return (
        db.session.execute(
            update(FeedAlert)
            .where(FeedAlert.id == alert_id, FeedAlert.notified_at.is_(None))
            .values(notified_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def release_alert(alert_id: int) -> None:
    """Mailing failed: the next check tries again."""
    db.session.execute(
        update(FeedAlert)
        .where(FeedAlert.id == alert_id)
        .values(notified_at=None)
        .execution_options(synchronize_session=False)
    )


def unsent_alerts(now: datetime) -> list[int]:
    return list(
        db.session.scalars(
            select(FeedAlert.id)
            .where(FeedAlert.notified_at.is_(None), FeedAlert.created_at >= now - queries.LOOKBACK)
            .order_by(FeedAlert.id)
        )
    )


def due_digests(now: datetime) -> list[int]:
    """The subscriptions whose digest is due: past the digest hour of the tenant's day, not
    sent that day, of an active admin."""
    local = now.astimezone(tenant_zone())
    if local.hour < int(current_app.config["FEED_DIGEST_HOUR"]):
        return []
    return list(
        db.session.scalars(
            select(FeedDigestSubscription.id)
            .join(User, User.id == FeedDigestSubscription.user_id)
            .where(
                User.is_active.is_(True),
                User.role == Role.ADMIN.value,
                or_(
                    FeedDigestSubscription.last_sent_on.is_(None),
                    FeedDigestSubscription.last_sent_on < local.date(),
                ),
            )
            .order_by(FeedDigestSubscription.id)
        )
    )


def claim_digest(subscription_id: int, now: datetime) -> bool:
    today = now.astimezone(tenant_zone()).date()
    return (
        db.session.execute(
            update(FeedDigestSubscription)
            .where(
                FeedDigestSubscription.id == subscription_id,
                or_(
                    FeedDigestSubscription.last_sent_on.is_(None),
                    FeedDigestSubscription.last_sent_on < today,
                ),
            )
            .values(last_sent_on=today)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def release_digest(subscription_id: int, last_sent_on: Any) -> None:
    db.session.execute(
        update(FeedDigestSubscription)
        .where(FeedDigestSubscription.id == subscription_id)
        .values(last_sent_on=last_sent_on)
        .execution_options(synchronize_session=False)
    )


def run_of(alert: FeedAlert) -> ImportRun | None:
    return db.session.get(ImportRun, alert.run_id) if alert.run_id else None
