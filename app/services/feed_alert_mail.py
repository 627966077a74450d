"""Feed alerts and digests as e-mails to the tenant's admins, each in his language: which
feed, what went wrong, and a link to the run (or to the feeds' health page)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import current_app, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import select

from app import mail
from app.extensions import db
from app.models import FeedAlert, FeedDigestSubscription, ImportRun, Role, Tenant, User
from app.queries.feed_alerts import FeedDay, feeds_day
from app.tenancy import current_tenant_id
from importers.row_messages import run_message

log = logging.getLogger(__name__)


def send_alert(alert_id: int) -> int:
    """Mail the alert to every active admin; how many got it (MailError when none did)."""
    alert = db.session.get(FeedAlert, alert_id)
    tenant = db.session.get(Tenant, current_tenant_id())
    run = db.session.get(ImportRun, alert.run_id) if alert.run_id else None
    link = (
        _link("backoffice.feed_run", tenant, run_id=run.id)
        if run
        else _link("backoffice.feed_health", tenant)
    )
    admins = db.session.scalars(
        select(User)
        .where(User.role == Role.ADMIN.value, User.is_active.is_(True))
        .order_by(User.id)
    ).all()
    sent, failure = 0, None
    for admin in admins:
        try:
            with mail.in_language(admin.locale or tenant.default_locale):
                subject, paragraphs = _alert_text(alert, run)
                message = mail.compose(
                    admin.email,
                    subject,
                    "document",
                    sender_name=tenant.name,
                    greeting=_("Hello,"),
                    paragraphs=paragraphs,
                    signature=tenant.name,
                    action_label=_("Open the run") if run else _("Open the feeds' health"),
                    action_url=link,
                )
            mail.send(message)
            sent += 1
        except mail.MailError as exc:
            failure = exc
            log.warning("feed alert %s: admin %s not told: %s", alert_id, admin.id, exc)
    if not sent and failure is not None:
        raise failure
    return sent


def _alert_text(alert: FeedAlert, run: ImportRun | None) -> tuple[str, list[str]]:
    feed = alert.profile.name
    if alert.kind == "late":
        when = format_datetime(alert.due_at, "short")
        return (
            _("Feed “%(feed)s”: its file has not come", feed=feed),
            [
                _(
                    "The file of the feed “%(feed)s” was due by %(when)s and has not come.",
                    feed=feed,
                    when=when,
                ),
                _("Check that the sending system ran, or send the file again."),
            ],
        )
    number = run.id if run else 0
    if alert.kind == "partial":
        paragraphs = [
            _(
                "Run #%(run)d of the feed “%(feed)s” went in partly: %(failed)d rows "
                "failed, %(done)d went in.",
                run=number,
                feed=feed,
                failed=run.failed if run else 0,
                done=(run.created + run.updated + run.unchanged) if run else 0,
            ),
            _(
                "The run's page lists each failed row with its line and the reason; "
                "fix them and send the corrected file."
            ),
        ]
        return _("Feed “%(feed)s”: rows failed", feed=feed), paragraphs
    if alert.kind == "interrupted":
        return (
            _("Feed “%(feed)s”: the import was interrupted", feed=feed),
            [
                _(
                    "Run #%(run)d of the feed “%(feed)s” was interrupted (the server stopped "
                    "while it ran).",
                    run=number,
                    feed=feed,
                )
            ],
        )
    paragraphs = [
        _("Run #%(run)d of the feed “%(feed)s” failed: nothing went in.", run=number, feed=feed)
    ]
    detail = run_message(run) if run is not None and run.message else alert.detail
    if detail:  # in the admin's language, not the worker's
        paragraphs.append(detail)
    return _("Feed “%(feed)s”: the import failed", feed=feed), paragraphs


def send_digest(subscription_id: int, now: datetime) -> None:
    """The admin's digest of every feed's last 24 hours (MailError when it could not leave)."""
    subscription = db.session.get(FeedDigestSubscription, subscription_id)
    admin = subscription.user
    tenant = db.session.get(Tenant, current_tenant_id())
    days = feeds_day(now)
    with mail.in_language(admin.locale or tenant.default_locale):
        failing = sum(day.is_failing for day in days)
        subject = _(
            "Feeds of the last 24 hours: %(ok)d fine, %(bad)d to check",
            ok=len(days) - failing,
            bad=failing,
        )
        paragraphs = [_day_text(day) for day in days] or [_("No feed yet.")]
        message = mail.compose(
            admin.email,
            subject,
            "document",
            sender_name=tenant.name,
            greeting=_("Hello,"),
            paragraphs=paragraphs,
            signature=tenant.name,
            action_label=_("Open the feeds' health"),
            action_url=_link("backoffice.feed_health", tenant),
        )
    mail.send(message)


def _day_text(day: FeedDay) -> str:
    feed = day.profile.name
    if day.late_since is not None:
        late = _(
            " Its file was due by %(when)s and has not come.",
            when=format_datetime(day.late_since, "short"),
        )
    else:
        late = ""
    if not day.runs:
        return _("“%(feed)s”: no file.", feed=feed) + late
    return (
        _(
            "“%(feed)s”: %(runs)d runs, %(rows)d rows, %(failed_rows)d failed rows, "
            "%(failed_runs)d failed runs.",
            feed=feed,
            runs=day.runs,
            rows=day.rows,
            failed_rows=day.failed_rows,
            failed_runs=day.failed_runs,
        )
        + late
    )


def _link(endpoint: str, tenant: Tenant, **values: Any) -> str | None:
    """An absolute link on PUBLIC_URL (this runs outside any request)."""
    base = current_app.config.get("PUBLIC_URL") or ""
    if not base:
        return None
    with current_app.test_request_context("/", base_url=base):
        return base.rstrip("/") + url_for(endpoint, tenant=tenant.slug, **values)
