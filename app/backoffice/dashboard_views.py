"""The dashboard: open quotes, orders to deliver, overdue invoices, invoiced by month."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flask import render_template
from flask_login import current_user

from app.backoffice import bp
from app.queries.dashboard import build_dashboard
from app.queries.my_activities import my_activities


@bp.get("/")
def dashboard():
    today = date.today()
    # On a phone the salesperson's own activities come first (dashboard.html).
    return render_template("dashboard.html", board=build_dashboard(current_user, today),
                           yesterday=today - timedelta(days=1),
                           mine=my_activities(current_user, datetime.now(UTC), limit=5))
