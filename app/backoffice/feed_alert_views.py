"""Feed alerts in the back office: when a profile's file is due (its page), the late feeds on
the health page, and an admin's daily digest (his settings)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import clock
from app.backoffice import bp
from app.feed_schedule import next_deadline
from app.models import ImportProfile
from app.policies import can_administer, get_visible_or_404
from app.queries.feed_alerts import expectations, late_feeds
from app.services import feed_alerts
from app.web.transactions import transaction


@bp.context_processor
def feed_alert_globals() -> dict[str, Any]:
    """What the health page, a profile's page and the settings page show of alerts."""
    return {
        "feed_lateness": _lateness,
        "feed_expectation": _expectation,
        "wants_feed_digest": lambda: (
            current_user.is_authenticated and feed_alerts.wants_digest(current_user)
        ),
    }


def _lateness() -> dict[int, Any]:
    return late_feeds(clock.now())


def _expectation(profile: ImportProfile) -> dict[str, Any] | None:
    found = expectations().get(profile.id)
    if found is None:
        return None
    return {
        "cron": found.cron,
        "grace_minutes": found.grace_minutes,
        "next": next_deadline(found.cron, found.grace_minutes, clock.tenant_zone(), clock.now()),
    }


@bp.post("/feeds/profiles/<int:profile_id>/expected")
def feed_expectation(profile_id: int):
    """When the profile's file is due (empty: not watched)."""
    if not can_administer(current_user):
        abort(403)
    profile = get_visible_or_404(ImportProfile, profile_id, current_user)
    cron = request.form.get("cron", "")[:100]
    with transaction(user_errors=True) as saved:
        if cron.strip():
            feed_alerts.set_expectation(profile, cron, request.form.get("grace_minutes", "0"))
        else:
            feed_alerts.clear_expectation(profile)
    if saved:
        flash(_("When the file is due is saved."), "success")
    return redirect(url_for("backoffice.feed_profile", profile_id=profile.id))


@bp.post("/profile/feed-digest")
def profile_feed_digest():
    """Whether the admin gets the daily digest of every feed."""
    if not can_administer(current_user):
        abort(403)
    with transaction(user_errors=True) as saved:
        feed_alerts.set_digest(current_user, bool(request.form.get("feed_digest")))
    if saved:
        flash(_("Your settings are saved."), "success")
    return redirect(url_for("backoffice.profile"))
