"""What "today" is for a tenant: the day that decides whether an invoice is overdue."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def local_today() -> date:
    """Today in the tenant's time zone. Tenants have no time zone of their own yet: the app's
    (DEFAULT_TIMEZONE, Europe/Paris by default), so an invoice due yesterday is late from
    midnight where its people work, not from midnight UTC."""
    return datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()
