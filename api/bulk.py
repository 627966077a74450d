"""POST /api/v1/<entity>/bulk: up to 10,000 records upserted by external_ref in one call.

Items are read here as the create schema reads one body (JSON types, `<ref>_id` or
`<ref>_ref`, a partner's token limited to its custom fields), with a compiled reader per field
rather than marshmallow (ten thousand items would spend most of the call in it); their domain
checks and writes are app/services/bulk.py's. The answer is built without a schema dump too.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow as ma
from flask import current_app
from flask_babel import gettext as _

from api.auth import TokenPrincipal, current_principal
from api.errors import field_errors
from api.record_data import custom_definitions
from api.schemas.records import LineInputSchema
from app.entities import Entity
from app.models.base import as_utc
from app.services.bulk import BulkItem, ByRef, upsert_records
from app.services.record_sql import collecting_between_batches
from app.web.transactions import transaction

Reader = Callable[[Any], Any]  # a JSON value → a python value; ValueError with a message
# What a key of an item is: a field's value, a related record's id or key, or one of three
# keys read apart.
_VALUE, _REF, _KEY, _CUSTOM, _LINES = range(5)


def bulk_upsert(entity: Entity, raw_items: list[Any]) -> Any:
    """Upsert the items, commit what was good, answer one result per item."""
    with collecting_between_batches():
        return _bulk_upsert(entity, raw_items)


def _bulk_upsert(entity: Entity, raw_items: list[Any]) -> Any:
    principal = current_principal()
    reader = ItemReader(entity, principal)
    items, names = [], []
    for index, raw in enumerate(raw_items):
        item, item_names = reader.read(index, raw)
        items.append(item)
        names.append(item_names)
    good = [item for item in items if not item.errors]
    with transaction():
        upsert_records(entity, good, principal)
    counts = dict.fromkeys(("created", "updated", "unchanged", "error"), 0)
    results = []
    for item, item_names in zip(items, names, strict=True):
        counts[item.status or "error"] += 1
        result: dict[str, Any] = {"index": item.index, "external_ref": item.external_ref,
                                  "status": item.status or "error", "id": item.id}
        if item.errors:
            result["errors"] = {item_names.get(k, k) or "_schema": [str(v)]
                                for k, v in item.errors.items()}
        results.append(result)
    body = {"created": counts["created"], "updated": counts["updated"],
            "unchanged": counts["unchanged"], "failed": counts["error"], "items": results}
    return current_app.response_class(json.dumps(body, ensure_ascii=False), status=200,
                                      mimetype="application/json")


class ItemReader:
    """Reads items of one entity as its create schema and service_data read one body."""

    def __init__(self, entity: Entity, principal: TokenPrincipal) -> None:
        self.entity, self.principal = entity, principal
        # JSON key → (kind, field name, reader): one lookup per key of an item.
        self.keys: dict[str, tuple[int, str, Reader | None]] = {
            "external_ref": (_KEY, "external_ref", None), "custom": (_CUSTOM, "custom", None)}
        if entity.line_model is not None:
            self.keys["lines"] = (_LINES, "lines", None)
        for f in entity.fields:
            if f.type != "ref":
                self.keys.setdefault(f.name, (_VALUE, f.name, _READERS.get(f.type, _text)))
                continue
            self.keys[f"{f.name}_id"] = (_REF, f.name, _ref_id)
            if f.ref != "users":
                self.keys[f"{f.name}_ref"] = (_REF, f.name, _ref_key)
            elif principal.partner_id is not None:
                self.keys[f"{f.name}_id"] = (_REF, f.name, _unknown_record)
        self.custom_keys = None if principal.partner_id is None else {
            f.key for f in custom_definitions(entity, principal)}

    def read(self, index: int, raw: Any) -> tuple[BulkItem, dict[str, str]]:
        """The item, and the item's name of each reference (to name errors as sent)."""
        if not isinstance(raw, dict):
            return BulkItem(index, None, {}, errors={"": _("Enter an object.")}), {}
        data: dict[str, Any] = {}
        names: dict[str, str] = {}
        errors: dict[str, str] = {}
        keys = self.keys
        for key, value in raw.items():
            known = keys.get(key)
            if known is None:
                errors[key] = _("Unknown field.")
                continue
            kind, name, reader = known
            if kind:
                if kind == _REF:
                    if name in names:
                        errors[f"{name}_ref"] = _("Give %(id)s or %(ref)s, not both.",
                                                  id=f"{name}_id", ref=f"{name}_ref")
                        continue
                    names[name] = key
                elif kind == _KEY:
                    if value is not None and not isinstance(value, str):
                        errors[key] = _("Enter text.")
                    continue
                elif kind == _CUSTOM:
                    self._custom(value, data, errors)
                    continue
                else:
                    self._lines(value, data, errors)
                    continue
            try:
                data[name] = reader(value)  # type: ignore[misc]
            except ValueError as exc:
                errors[key] = str(exc)
        external_ref = raw.get("external_ref")
        return BulkItem(index, external_ref if isinstance(external_ref, str) else None, data,
                        errors=errors), names

    def _custom(self, value: Any, data: dict[str, Any], errors: dict[str, str]) -> None:
        if not isinstance(value, dict):  # null too, as the create schema refuses it
            errors["custom"] = _("Enter an object.")
            return
        hidden = [k for k in value or {} if self.custom_keys is not None
                  and k not in self.custom_keys]
        for key in hidden:  # a partner's token writes only the fields it may see
            errors[f"custom.{key}"] = _("Unknown custom field “%(key)s”.", key=key[:50])
        data["custom"] = value

    def _lines(self, value: Any, data: dict[str, Any], errors: dict[str, str]) -> None:
        if not isinstance(value, list):  # as the create schema's list of lines says
            errors["lines"] = _("Enter a list.")
            return
        try:
            data["lines"] = LineInputSchema(many=True).load(value)
        except ma.ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, dict) \
                else {"": exc.messages}
            for key, texts in field_errors(messages, "lines").items():
                errors[key] = " ".join(texts)


def _text(value: Any) -> str | None:
    if value is not None and type(value) is not str and not isinstance(value, str):
        raise ValueError(_("Enter text."))
    return value


def _money(value: Any) -> Decimal | None:
    if type(value) is str:  # most amounts: exact as text
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(_("Enter a number such as 1234.56.")) from None
        if number.is_finite():
            return number
        raise ValueError(_("Enter a number such as 1234.56."))
    if value is None:
        return None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            number = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return number
    raise ValueError(_("Enter a number such as 1234.56."))


def _date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)  # as marshmallow's Date reads it (20261001 too)
        except ValueError:
            pass
    raise ValueError(_("Enter a date as YYYY-MM-DD."))


def _integer(value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)  # as marshmallow's Integer reads it
        except ValueError:
            pass
    raise ValueError(_("Enter a whole number."))


def _ref_id(value: Any) -> int | None:
    return _integer(value)


def _ref_key(value: Any) -> ByRef | None:
    text = _text(value)
    if text is None or not text.strip():
        return None
    return ByRef(text.strip())


def _unknown_record(value: Any) -> None:
    raise ValueError(_("Unknown record."))


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return as_utc(datetime.fromisoformat(value))
        except ValueError:
            pass
    raise ValueError(_("Enter a date and time as YYYY-MM-DDTHH:MM:SSZ."))


def _flag(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    try:  # as marshmallow's Boolean reads it: "true", "yes", 1, "0"…
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    except TypeError:  # unhashable: a list, an object
        pass
    raise ValueError(_("Enter true or false."))


_TRUE, _FALSE = frozenset(ma.fields.Boolean.truthy), frozenset(ma.fields.Boolean.falsy)


_READERS: dict[str, Reader] = {"money": _money, "date": _date, "integer": _integer,
                               "datetime": _moment, "boolean": _flag}
