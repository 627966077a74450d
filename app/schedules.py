"""Schedules of exports and pulls: five-field cron expressions read in the tenant's time zone.

"30 6 * * 1-5" fires at 06:30 where the tenant works, on weekdays, summer and winter alike;
the next firing is kept in UTC so that the scheduler compares it with the clock only.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from flask_babel import gettext as _

from app.errors import ValidationError
from app.values import local_zone


def tenant_zone() -> tzinfo:
    """The tenant's time zone: tenants have none of their own yet, so the app's."""
    return local_zone()


def checked_schedule(expression: str | None, field: str = "schedule") -> str | None:
    """The expression, spaces folded, or None for "no schedule"; ValidationError when cron
    cannot read it."""
    text = " ".join((expression or "").split())
    if not text:
        return None
    if len(text.split(" ")) != 5 or len(text) > 100:
        raise ValidationError(
            {
                field: _(
                    "A schedule has five fields: minute hour day month "
                    "weekday, e.g. “30 6 * * 1-5”."
                )
            }
        )
    try:
        croniter(text, datetime.now(UTC))
        next_firing(text)
    except (CroniterBadCronError, CroniterBadDateError, ValueError, KeyError) as exc:
        raise ValidationError(
            {field: _("This schedule is not valid: %(schedule)s.", schedule=text)}
        ) from exc
    return text


def next_firing(expression: str, after: datetime | None = None) -> datetime:
    """The first firing strictly after `after` (now by default), in UTC."""
    zone = tenant_zone()
    start = (after or datetime.now(UTC)).astimezone(zone)
    return croniter(expression, start).get_next(datetime).astimezone(UTC)
