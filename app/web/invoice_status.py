"""An invoice's status as pages and exports show it: "overdue" and its days late are derived
(app/models/document.py, Invoice.days_late_on), for the day it is in the tenant's time zone."""
from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import ngettext

from app.clock import local_today
from app.models import Invoice


def shown_status(record: Any, field_name: str, value: Any) -> Any:
    """A record's value of `field_name` as shown: an invoice's status is "overdue" when late."""
    if isinstance(record, Invoice) and field_name == "status":
        return record.status_shown_on(local_today())
    return value


def days_late(record: Any) -> int | None:
    """How many days an invoice is late today; None when it is not (or is no invoice)."""
    return record.days_late_on(local_today()) if isinstance(record, Invoice) else None


def days_late_text(days: int) -> str:
    return ngettext("%(num)d day late", "%(num)d days late", days)


def install_invoice_status(app: Flask) -> None:
    app.jinja_env.globals.update(shown_status=shown_status, days_late=days_late,
                                 days_late_text=days_late_text)
