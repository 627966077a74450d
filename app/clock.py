"""What time it is, and what "today" is for a tenant: the day that decides whether an invoice
is overdue, the moment a feed's file is late.

Every reading of the time that a rule depends on goes through `now()`, so that a test sets
the clock (`monkeypatch.setattr(clock, "now", …)`) instead of waiting for it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def tenant_zone() -> ZoneInfo:
    """The tenant's time zone. Tenants have no time zone of their own yet: the app's
    (DEFAULT_TIMEZONE, Europe/Paris by default)."""
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def local_today() -> date:
    """Today in the tenant's time zone, so an invoice due yesterday is late from midnight
    where its people work, not from midnight UTC."""
    return now().astimezone(tenant_zone()).date()
