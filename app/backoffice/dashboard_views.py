"""The dashboard: open quotes, orders to deliver, overdue invoices, invoiced by month."""
from __future__ import annotations

from datetime import date, timedelta

from flask import render_template
from flask_login import current_user

from app.backoffice import bp
from app.queries.dashboard import build_dashboard


@bp.get("/")
def dashboard():
    today = date.today()
    return render_template("dashboard.html", board=build_dashboard(current_user, today),
                           yesterday=today - timedelta(days=1))
