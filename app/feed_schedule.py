"""When a feed's file is due: a cron expression (five fields, in the tenant's time zone) says
by when it should have come, each time it fires ("30 6 * * 1-5": every weekday by 06:30),
and a grace in minutes moves each deadline later. A file is on time for a deadline when a run
of the feed started after the deadline before it.

Pure: no database, no Flask app.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from croniter import croniter

MAX_GRACE_MINUTES = 7 * 24 * 60


def is_valid_cron(text: str) -> bool:
    """Five fields (minute hour day month weekday), as crontab writes them."""
    text = " ".join(str(text or "").split())
    return len(text.split(" ")) == 5 and croniter.is_valid(text)


def last_deadlines(
    cron: str, grace_minutes: int, zone: tzinfo, now: datetime
) -> tuple[datetime, datetime]:
    """The latest deadline passed at `now` and the one before it, in UTC."""
    grace = timedelta(minutes=grace_minutes)
    local = now.astimezone(zone) - grace
    fired = croniter(cron, local)
    last = fired.get_prev(datetime)
    before = fired.get_prev(datetime)
    return _utc(last + grace, now), _utc(before + grace, now)


def next_deadline(cron: str, grace_minutes: int, zone: tzinfo, now: datetime) -> datetime:
    grace = timedelta(minutes=grace_minutes)
    nxt = croniter(cron, now.astimezone(zone) - grace).get_next(datetime)
    return _utc(nxt + grace, now)


def _utc(moment: datetime, like: datetime) -> datetime:
    return moment.astimezone(like.tzinfo)
