"""The dashboard: open quotes, orders to deliver, overdue invoices, invoiced by month."""
from __future__ import annotations

from flask import render_template
from flask_login import current_user

from app.backoffice import bp
from app.clock import local_today
from app.queries.dashboard import build_dashboard


@bp.get("/")
def dashboard():
    return render_template("dashboard.html", board=build_dashboard(current_user, local_today()))
