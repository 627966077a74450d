"""The audit trail as people read it: field labels instead of column names, names instead of
ids, dates, amounts and choices in the reader's language.

`readable_changes` is the one function that turns an event's before/after into that; the
history card of record pages and the dry-run diffs call it, and so may any other view of the
trail (a timeline of activities). It reads the names it needs (users, related records, custom
field definitions) in one query per kind for all the changes it is given.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.entities import ENTITIES, FIELD_TYPE_LABELS, REF, ROLE_LABELS, STATUS_LABELS, Field
from app.extensions import db
from app.i18n import day, moment, money, number
from app.models import CustomField, User
from app.models.base import FEED_STAMPS

# Keys of the audited states that are no entity field (users, custom fields, answers…).
OTHER_LABELS: dict[str, Any] = {
    "external_ref": REF, "archived_at": _l("Archived on"), "lines": _l("Lines"),
    "email": _l("E-mail"), "full_name": _l("Full name"), "role": _l("Role"),
    "locale": _l("Language"), "is_active": _l("Active"), "partner_id": _l("Partner"),
    "account_id": _l("Customer"), "label_fr": _l("Label (French)"),
    "label_en": _l("Label (English)"), "type": _l("Type"), "is_required": _l("Required"),
    "choices": _l("Choices"), "is_portal_visible": _l("Visible in the extranet"),
    "position": _l("Position"), "key": _l("Key"), "entity": _l("Entity"),
    "answered_at": _l("Answered on"), "answered_by_label": _l("Answered by"),
    "answer_comment": _l("Comment"), "answered_by_id": _l("Answered by"),
    "url": _l("Address (URL)"), "description": _l("Description"), "events": _l("Events"),
}
SKIPPED = {"answered_by_id", *FEED_STAMPS}  # by its label column; which feed wrote it
EMPTY = "—"


@dataclass(frozen=True)
class Change:
    """One field of an event: its key as stored, its label and its values as read."""

    key: str
    label: str
    before: str
    after: str


def readable_changes(entity: str | None, before: Mapping[str, Any] | None,
                     after: Mapping[str, Any] | None) -> list[Change]:
    """The fields an event changed (all of them for a creation or a deletion), readable."""
    return readable_history([(entity, before, after)])[0]


def readable_history(
    events: Iterable[tuple[str | None, Mapping[str, Any] | None, Mapping[str, Any] | None]],
) -> list[list[Change]]:
    """`readable_changes` of many events, their names read once for all of them."""
    raw = [(entity, _flat(before), _flat(after)) for entity, before, after in events]
    names = _Names(raw)
    result = []
    for entity, old_state, new_state in raw:
        changes = []
        currency = new_state.get("currency") or old_state.get("currency") or "EUR"
        for key in sorted(old_state.keys() | new_state.keys(), key=_order(entity)):
            if key in SKIPPED:
                continue
            old, new = old_state.get(key), new_state.get(key)
            if key != "lines" and old == new and old_state and new_state:
                continue
            changes.append(Change(key, names.label(entity, key),
                                  names.value(entity, key, old, currency),
                                  names.value(entity, key, new, currency)))
        result.append(changes)
    return result


def _flat(state: Mapping[str, Any] | None) -> dict[str, Any]:
    """A state with its custom values as `custom.<key>`."""
    flat = dict(state or {})
    for key, value in (flat.pop("custom", None) or {}).items():
        flat[f"custom.{key}"] = value
    return flat


def _order(entity: str | None):
    """Fields in their form's order, custom fields after them, the rest last."""
    spec = ENTITIES.get(entity or "")
    positions = {f.attr: i for i, f in enumerate(spec.fields)} if spec else {}

    def position(key: str) -> tuple[int, str]:
        if key in positions:
            return positions[key], key
        return (1000 if key.startswith("custom.") else 2000), key

    return position


def _field(entity: str | None, key: str) -> Field | None:
    spec = ENTITIES.get(entity or "")
    return next((f for f in spec.fields if f.attr == key), None) if spec else None


class _Names:
    """The labels and names the changes need, read in one query per kind."""

    def __init__(self, raw: list[tuple[str | None, dict, dict]]) -> None:
        self.locale = str(get_locale() or "fr")
        wanted: dict[str, set[int]] = defaultdict(set)
        entities = set()
        for entity, *states in raw:
            entities.add(entity)
            for state in states:
                for key, value in state.items():
                    spec = _field(entity, key)
                    ref = spec.ref if spec is not None and spec.type == "ref" else (
                        "users" if key == "owner_id" else None)
                    if ref and isinstance(value, int) and not isinstance(value, bool):
                        wanted[ref].add(value)
        self.titles = {ref: self._titles(ref, ids) for ref, ids in wanted.items()}
        custom_entities = [e for e in entities if e in ENTITIES]
        self.custom = {(cf.entity, cf.key): cf for cf in db.session.scalars(
            select(CustomField).where(CustomField.entity.in_(custom_entities)))} \
            if custom_entities else {}

    @staticmethod
    def _titles(ref: str, ids: set[int]) -> dict[int, str]:
        if ref == "users":
            rows = db.session.execute(select(User.id, User.full_name, User.email).where(
                User.id.in_(ids)))
            return {row.id: row.full_name or row.email for row in rows}
        spec = ENTITIES.get(ref)
        if spec is None:
            return {}
        model = spec.model
        rows = db.session.execute(select(model.id, getattr(model, spec.title_attr),
                                         model.external_ref).where(model.id.in_(ids)))
        return {row[0]: row[1] or row[2] or f"#{row[0]}" for row in rows}

    def label(self, entity: str | None, key: str) -> str:
        if key.startswith("custom."):
            cf = self.custom.get((entity, key.removeprefix("custom.")))
            return cf.label(self.locale) if cf is not None else key
        spec = _field(entity, key)
        if spec is not None:
            return str(spec.label)
        return str(OTHER_LABELS.get(key, key))

    def value(self, entity: str | None, key: str, value: Any, currency: str) -> str:
        if value is None or value == "" or value == []:
            return EMPTY
        if key.startswith("custom."):
            cf = self.custom.get((entity, key.removeprefix("custom.")))
            return _custom(cf.type if cf is not None else "text", value, currency)
        spec = _field(entity, key)
        if spec is not None and spec.type == "ref" or key == "owner_id":
            ref = spec.ref if spec is not None else "users"
            return self.titles.get(ref, {}).get(value, f"#{value}")
        kind = spec.type if spec is not None else None
        if key == "lines" and isinstance(value, list):
            return _("%(n)d line(s)", n=len(value))
        if kind == "choice" or key in ("kind", "status", "stage"):
            return str(STATUS_LABELS.get(value, value))
        if key == "role":
            return str(ROLE_LABELS.get(value, value))
        if key == "type" and entity == "custom_fields":
            return str(FIELD_TYPE_LABELS.get(value, value))
        if kind == "money":
            return _safe(money, value, currency)
        if kind == "date":
            return _safe(day, value)
        if kind == "decimal":
            return _safe(number, value)
        if key.endswith("_at") and isinstance(value, str):
            return _safe(lambda v: moment(datetime.fromisoformat(v)), value)
        return _plain(value)


def _custom(field_type: str, value: Any, currency: str) -> str:
    if field_type == "boolean":
        return _("Yes") if value else _("No")
    if field_type == "money":
        return _safe(money, value, currency)
    if field_type in ("decimal", "integer"):
        return _safe(number, value)
    if field_type == "date":
        return _safe(day, value)
    return _plain(value)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, date | datetime):
        return day(value)
    return str(value)


def _safe(render: Any, value: Any, *args: Any) -> str:
    """A value as its kind reads; as stored when it is not of that kind (an old event)."""
    try:
        if render is number and isinstance(value, str):
            value = Decimal(value)
        return render(value, *args)
    except (ValueError, TypeError, ArithmeticError, InvalidOperation):
        return str(value)
