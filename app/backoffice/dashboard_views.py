"""The dashboard: open quotes, orders to deliver, overdue invoices, invoiced by month; on a
phone, the user's own activities, overdue invoices and customers first."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import render_template
from flask_login import current_user

from app.backoffice import bp
from app.clock import local_today
from app.queries.dashboard import build_dashboard
from app.queries.my_activities import my_activities
from app.queries.my_book import my_book


@bp.get("/")
def dashboard():
    # On a phone the salesperson's own day comes first (dashboard.html): his activities, his
    # customers' overdue invoices, his customers.
    today = local_today()
    return render_template("dashboard.html", board=build_dashboard(current_user, today),
                           mine=my_activities(current_user, datetime.now(UTC), limit=5),
                           book=my_book(current_user, today))
