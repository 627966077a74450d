"""The online subscriptions, for admins: by status, and how many customers reached each step
over a period (where they give up)."""
from __future__ import annotations

from datetime import date, timedelta

from flask import render_template, request

from app.backoffice import bp
from app.clock import local_today
from app.models.subscription import SUBSCRIPTION_STATUSES
from app.services.subscriptions import conversion, recent, status_counts
from app.values import parse_date

PAGE = 100


def _day(name: str, default: date) -> date:
    try:
        return parse_date(request.args.get(name) or "")
    except ValueError:
        return default


@bp.get("/admin/offers/subscriptions")
def admin_subscriptions():
    today = local_today()
    until = _day("until", today)
    since = min(_day("since", until - timedelta(days=29)), until)
    status = request.args.get("status") if request.args.get("status") in \
        SUBSCRIPTION_STATUSES else None
    return render_template("admin/subscriptions.html", subscriptions=recent(status, PAGE),
                           status=status,
                           since=since, until=until, funnel=conversion(since, until),
                           counts=status_counts(since, until),
                           statuses=SUBSCRIPTION_STATUSES)
