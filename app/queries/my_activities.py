"""A user's own activities, as his home on a phone shows them: late, today, upcoming (and,
when asked, the ones done lately)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import models as m
from app.extensions import db
from app.policies import visible
from app.values import local_zone

SECTION_LENGTH = 100


@dataclass
class MyActivities:
    late: list[m.Activity] = field(default_factory=list)
    today: list[m.Activity] = field(default_factory=list)
    upcoming: list[m.Activity] = field(default_factory=list)
    done: list[m.Activity] = field(default_factory=list)

    @property
    def open_count(self) -> int:
        return len(self.late) + len(self.today) + len(self.upcoming)


def my_activities(user: Any, now: datetime, *, with_done: bool = False,
                  limit: int = SECTION_LENGTH) -> MyActivities:
    """The user's activities not done, by due time (today: the user's local day; those
    without a due time are upcoming), and the ones done lately when `with_done`."""
    local_now = now.astimezone(local_zone())
    start = datetime.combine(local_now.date(), time(), local_zone())
    end = start + timedelta(days=1)
    base = visible(select(m.Activity), m.Activity, user).where(
        m.Activity.owner_id == user.id).options(selectinload(m.Activity.account))
    open_ = base.where(m.Activity.done_at.is_(None))
    found = MyActivities(
        late=_read(open_.where(m.Activity.due_at < start).order_by(m.Activity.due_at), limit),
        today=_read(open_.where(m.Activity.due_at >= start, m.Activity.due_at < end)
                    .order_by(m.Activity.due_at), limit),
        upcoming=_read(open_.where((m.Activity.due_at >= end) | m.Activity.due_at.is_(None))
                       .order_by(m.Activity.due_at.is_(None), m.Activity.due_at,
                                 m.Activity.id), limit))
    if with_done:
        found.done = _read(base.where(m.Activity.done_at.isnot(None))
                           .order_by(m.Activity.done_at.desc()), limit)
    return found


def _read(stmt: Any, limit: int) -> list[m.Activity]:
    return list(db.session.scalars(stmt.limit(limit)))
