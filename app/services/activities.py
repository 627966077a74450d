"""Activities written from a record's page: added on it, a call logged in one tap, done and
undone. Each goes through app/services/records.py, the one way to write a record."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _

from app import models as m
from app.entities import ENTITIES, entity_of
from app.services.records import create_record, update_record

ACTIVITIES = ENTITIES["activities"]
# The records that carry activities, by entity name: the customer, or the field naming it.
ON_RECORDS = {"accounts": "account", **{f"{name}s": name for name in m.ACTIVITY_RECORDS}}


def on_record(record: Any) -> dict[str, int]:
    """The fields that put an activity on `record`: its customer, and the record itself."""
    field = ON_RECORDS[entity_of(record).name]
    if field == "account":
        return {"account": record.id}
    return {"account": record.account_id, field: record.id}


def add_activity(record: Any, data: dict[str, Any]) -> m.Activity:
    """A new activity on `record` (a customer or one of its records)."""
    return create_record(ACTIVITIES, {**data, **on_record(record)})


def log_call(record: Any, now: datetime | None = None) -> m.Activity:
    """The call just made to a customer or a contact, done now, by the acting user."""
    now = now or datetime.now(UTC)
    name = record.name if isinstance(record, m.Account | m.Contact) else str(record.id)
    return add_activity(record, {"kind": "call", "subject": _("Call to %(name)s", name=name),
                                 "done_at": now})


def mark_done(activity: m.Activity, done: bool, now: datetime | None = None) -> m.Activity:
    """Mark an activity done (now) or not done again."""
    return update_record(activity, {"done_at": (now or datetime.now(UTC)) if done else None})
