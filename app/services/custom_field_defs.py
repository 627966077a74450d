"""Tenant admins' changes to custom field definitions."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.custom_fields import KEY_PATTERN, CustomValueError, coerce_value, key_from_label
from app.entities import ENTITIES
from app.errors import ValidationError
from app.extensions import db
from app.models import FIELD_TYPES, CustomField
from app.models.base import MAX_ID
from app.services.audit import record_event

EDITABLE = ("label_fr", "label_en", "type", "is_required", "choices", "is_portal_visible",
            "position", "is_active")


def _state(field: CustomField) -> dict[str, Any]:
    return {k: getattr(field, k) for k in ("entity", "key", *EDITABLE)}


def _clean_choices(raw: Any) -> list[str]:
    items = raw.splitlines() if isinstance(raw, str) else list(raw or [])
    return list(dict.fromkeys(str(i).strip()[:100] for i in items if str(i).strip()))


def _validate(data: dict[str, Any], errors: dict[str, str]) -> None:
    labels = {key: (data.get(key) or "").strip() for key in ("label_fr", "label_en")}
    for key, label in labels.items():
        if len(label) > 100:
            errors[key] = _("Enter a label of at most 100 characters.")
    if not any(labels.values()):
        # One label is enough: the other language shows it until it is translated.
        errors["label_fr"] = errors["label_en"] = _(
            "Enter a label in French or in English (the other one is optional).")
    if data.get("type") not in FIELD_TYPES:
        errors["type"] = _("Choose a type.")
    elif data["type"] in ("choice", "multi_choice") and not data.get("choices"):
        errors["choices"] = _("Enter at least one choice, one per line.")
    position = data.get("position", 0)
    if not isinstance(position, int) or isinstance(position, bool) or abs(position) > MAX_ID:
        errors["position"] = _("Enter a whole number.")


def _taken_keys(entity: Any) -> set[str]:
    return set(db.session.scalars(select(CustomField.key).where(CustomField.entity == entity)))


def suggested_key(data: dict[str, Any]) -> str:
    """The key a new field gets when none is typed: its label's slug, unique in its entity."""
    label = (data.get("label_fr") or "").strip() or (data.get("label_en") or "").strip()
    taken = _taken_keys(data.get("entity")) if data.get("entity") in ENTITIES else set()
    return key_from_label(label, taken)


def new_field_errors(data: dict[str, Any]) -> dict[str, str]:
    """Every mistake of a new field's definition at once, by field (empty when it is fine)."""
    data = {**data, "choices": _clean_choices(data.get("choices"))}
    errors: dict[str, str] = {}
    key = (data.get("key") or "").strip()
    if data.get("entity") not in ENTITIES:
        errors["entity"] = _("Choose an entity.")
    if key and not KEY_PATTERN.match(key):
        errors["key"] = _("Use lowercase letters, digits and _, starting with a letter.")
    elif key and key in _taken_keys(data.get("entity")):
        errors["key"] = _("This key is already used for this entity.")
    _validate(data, errors)
    return errors


def create_field(data: dict[str, Any]) -> CustomField:
    """Create a definition; an empty key is made from the label ("Date d'échéance" →
    date_d_echeance), numbered when the entity already has it."""
    errors = new_field_errors(data)
    if errors:
        raise ValidationError(errors)
    data = {**data, "choices": _clean_choices(data.get("choices"))}
    key = (data.get("key") or "").strip() or suggested_key(data)
    field = CustomField(entity=data["entity"], key=key)
    _assign(field, data)
    db.session.add(field)
    db.session.flush()
    record_event("create", "custom_fields", field.id, None, _state(field))
    return field


def changed_field_errors(field: CustomField, data: dict[str, Any]) -> dict[str, str]:
    """The mistakes of a change of definition that can be told without the stored values."""
    merged = {**_state(field), **data}
    merged["choices"] = _clean_choices(merged.get("choices"))
    errors: dict[str, str] = {}
    _validate(merged, errors)
    return errors


def update_field(field: CustomField, data: dict[str, Any]) -> CustomField:
    """Change a definition; a type or choices change that stored values don't fit is refused."""
    merged = {**_state(field), **data}
    merged["choices"] = _clean_choices(merged.get("choices"))
    errors: dict[str, str] = {}
    _validate(merged, errors)
    if not errors and (merged["type"] != field.type or merged["choices"] != field.choices):
        count, example = type_change_conflicts(field, merged["type"], merged["choices"])
        if count:
            errors["type"] = _(
                "%(count)d existing value(s) do not fit this type or these choices "
                "(for example “%(example)s”). Correct them first.",
                count=count, example=str(example)[:50])
    if errors:
        raise ValidationError(errors)
    before = _state(field)
    if merged["type"] != field.type:
        _convert_values(field, merged["type"], merged["choices"])
    _assign(field, merged)
    db.session.flush()
    record_event("update", "custom_fields", field.id, before, _state(field))
    return field


def _assign(field: CustomField, data: dict[str, Any]) -> None:
    field.label_fr = (data.get("label_fr") or "").strip()
    field.label_en = (data.get("label_en") or "").strip()
    field.type = data["type"]
    field.is_required = bool(data.get("is_required"))
    field.choices = data["choices"] if field.type in ("choice", "multi_choice") else []
    field.is_portal_visible = bool(data.get("is_portal_visible"))
    field.position = int(data.get("position") or 0)
    field.is_active = bool(data.get("is_active", True))


def _stored_values(field: CustomField):
    model = ENTITIES[field.entity].model
    stmt = select(model.id, model.custom[field.key]).where(model.custom[field.key].isnot(None))
    return db.session.execute(stmt.execution_options(yield_per=2000))


def type_change_conflicts(field: CustomField, new_type: str, choices: list[str]) -> tuple[int, Any]:
    """How many stored values would not fit `new_type`, and one of them."""
    count, example = 0, None
    for _id, value in _stored_values(field):
        if value is None:
            continue
        try:
            coerce_value(new_type, value, choices)
        except CustomValueError:
            count += 1
            example = example if example is not None else value
    return count, example


def _convert_values(field: CustomField, new_type: str, choices: list[str]) -> None:
    """Rewrite stored values in the new type's form (e.g. "12" → 12)."""
    model = ENTITIES[field.entity].model
    # On SQLite a missing key reads as JSON null, not SQL NULL: leave those records alone.
    ids = [record_id for record_id, value in _stored_values(field) if value is not None]
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        for record in db.session.scalars(select(model).where(model.id.in_(chunk))):
            custom = dict(record.custom or {})
            custom[field.key] = coerce_value(new_type, custom.get(field.key), choices)
            record.custom = custom
