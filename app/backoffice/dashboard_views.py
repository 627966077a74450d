"""The dashboard: open quotes, orders to deliver, overdue invoices, invoiced by month."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import render_template
from flask_login import current_user

from app.backoffice import bp
from app.clock import local_today
from app.queries.dashboard import build_dashboard
from app.queries.my_activities import my_activities


@bp.get("/")
def dashboard():
    # On a phone the salesperson's own activities come first (dashboard.html).
    return render_template("dashboard.html", board=build_dashboard(current_user, local_today()),
                           mine=my_activities(current_user, datetime.now(UTC), limit=5))
