"""A record's timeline: its own history from the audit trail, interleaved by time with its
activities, newest first. One function for every page that shows one (a record's detail page,
the 360° page), so that how history reads can change in one place."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import models as m
from app.extensions import db
from app.policies import visible
from app.queries.history import Change, readable_history
from app.queries.records import history_of

TIMELINE_LENGTH = 50


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    event: m.AuditEvent | None = None
    activity: m.Activity | None = None
    # An event's changes as its reader reads them (labels, names, local formats).
    changes: tuple[Change, ...] = ()

    @property
    def kind(self) -> str:
        return "activity" if self.activity is not None else "history"


def activity_moment(activity: m.Activity) -> datetime:
    """When an activity stands in a timeline: done, due, or written."""
    return activity.done_at or activity.due_at or activity.created_at


def activities_on(entity_name: str, record_id: int, user: Any,
                  limit: int = TIMELINE_LENGTH) -> list[m.Activity]:
    """The activities on a record that `user` may see (on a customer: all of the customer's),
    newest first."""
    column = m.Activity.account_id if entity_name == "accounts" \
        else getattr(m.Activity, f"{entity_name[:-1]}_id")
    stmt = visible(select(m.Activity).where(column == record_id), m.Activity, user).options(
        selectinload(m.Activity.owner)).order_by(m.Activity.created_at.desc()).limit(limit)
    return list(db.session.scalars(stmt))


def timeline(entity_name: str, record_id: int, user: Any,
             limit: int = TIMELINE_LENGTH) -> list[TimelineItem]:
    """The record's history (for staff only: it names the tenant's users) and activities,
    newest first."""
    items = [TimelineItem(activity_moment(a), activity=a)
             for a in activities_on(entity_name, record_id, user, limit)]
    if user is not None and user.is_staff:
        items += [TimelineItem(e.created_at, event=e)
                  for e in history_of(entity_name, record_id, limit)]
    items = sorted(items, key=lambda item: item.at, reverse=True)[:limit]
    events = [item for item in items if item.event is not None]
    readable = readable_history((item.event.entity, item.event.before, item.event.after)
                                for item in events)
    shown = {id(item): replace(item, changes=tuple(changes))
             for item, changes in zip(events, readable, strict=True)}
    return [shown.get(id(item), item) for item in items]
