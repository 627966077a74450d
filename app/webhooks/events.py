"""The events an endpoint may subscribe to: a record created, updated or deleted, per entity,
and an import run finished or failed."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from app.entities import ENTITIES

RECORD_ACTIONS = {"create": "created", "update": "updated", "archive": "updated",
                  "anonymise": "updated", "delete": "deleted"}
RECORD_EVENT_LABELS = {"created": _l("created"), "updated": _l("updated"),
                       "deleted": _l("deleted")}
IMPORT_EVENTS = {"import.finished": _l("Import finished"),
                 "import.failed": _l("Import failed")}
SUBSCRIPTION_EVENTS = {"subscription.signed": _l("Online subscription signed")}
PING = "ping"


def record_events() -> list[str]:
    return [f"{name}.{verb}" for name in ENTITIES for verb in RECORD_EVENT_LABELS]


def all_events() -> list[str]:
    return record_events() + list(IMPORT_EVENTS) + list(SUBSCRIPTION_EVENTS)


def record_event_name(action: str, entity: str | None) -> str | None:
    """The webhook event of an audited action on a record, or None."""
    verb = RECORD_ACTIONS.get(action)
    if verb is None or entity not in ENTITIES:
        return None
    return f"{entity}.{verb}"


def event_groups() -> list[tuple[Any, list[tuple[str, Any]]]]:
    """(group label, [(event, label)]) for the subscription form: one row per entity."""
    groups = [(entity.label, [(f"{name}.{verb}", label)
                              for verb, label in RECORD_EVENT_LABELS.items()])
              for name, entity in ENTITIES.items()]
    groups.append((_l("Imports"), list(IMPORT_EVENTS.items())))
    groups.append((_l("Online subscriptions"), list(SUBSCRIPTION_EVENTS.items())))
    return groups


def event_label(event: str) -> str:
    """A person's reading of an event name: "Invoices: updated"."""
    if event in IMPORT_EVENTS:
        return str(IMPORT_EVENTS[event])
    if event in SUBSCRIPTION_EVENTS:
        return str(SUBSCRIPTION_EVENTS[event])
    if event == PING:
        return str(_l("Test ping"))
    entity, _dot, verb = event.partition(".")
    if entity in ENTITIES and verb in RECORD_EVENT_LABELS:
        return str(_l("%(entity)s: %(action)s", entity=ENTITIES[entity].label,
                      action=RECORD_EVENT_LABELS[verb]))
    return event
