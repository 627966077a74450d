"""Definitions, validation and coercion of per-tenant custom fields.

`coerce_value` is the one function that turns a raw value (form, API, import) into the
JSON value stored under `record.custom[key]`; `validate_custom` applies it to a record.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import FIELD_TYPES, CustomField
from app.values import parse_bool, parse_date, parse_decimal, parse_integer

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
TEXT_MAX = 255
LONG_TEXT_MAX = 10_000
DECIMAL_PLACES = 20
CHOICE_TYPES = {"choice", "multi_choice"}
NOT_A_CHOICE = _l("“%(value)s” is not one of the choices.")


def key_from_label(label: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A key for a field labelled `label`: "Date d'échéance" → "date_d_echeance"; a key in
    `taken` gets a numbered suffix ("_2", "_3", …)."""
    ascii_text = unicodedata.normalize("NFKD", label or "").encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    if not slug or not slug[0].isalpha():
        slug = f"field_{slug}" if slug else "field"
    slug = slug[:50].rstrip("_")
    key, number = slug, 1
    while key in taken:
        number += 1
        suffix = f"_{number}"
        key = slug[:50 - len(suffix)].rstrip("_") + suffix
    return key


class CustomValueError(ValueError):
    """A raw value that does not fit a field: a lazy message and its params, rendered in the
    reader's language by str(); imports store the message's id and params instead."""

    def __init__(self, message: Any, **params: Any) -> None:
        super().__init__(message, params)
        self.message, self.params = message, params

    def __str__(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)


def definitions(entity: str, *, active_only: bool = True) -> list[CustomField]:
    """The tenant's custom fields of an entity, in display order."""
    stmt = select(CustomField).where(CustomField.entity == entity)
    if active_only:
        stmt = stmt.where(CustomField.is_active.is_(True))
    return list(db.session.scalars(stmt.order_by(CustomField.position, CustomField.id)))


def is_empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []


def coerce_value(field_type: str, raw: Any, choices: list[str] | None = None) -> Any:
    """Coerce a raw value to what a field of `field_type` stores; None for empty."""
    if is_empty(raw):
        return None
    try:
        return _COERCERS[field_type](raw, choices or [])
    except CustomValueError:
        raise
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise CustomValueError(_type_message(field_type)) from exc


def _text(raw: Any, choices: list[str], limit: int = TEXT_MAX) -> str:
    if not isinstance(raw, str | int | Decimal) or isinstance(raw, bool):
        raise ValueError(raw)
    text = str(raw).strip()
    if len(text) > limit:
        raise CustomValueError(_l("At most %(n)d characters."), n=limit)
    return text


def _decimal(raw: Any, choices: list[str], places: int | None = None) -> str:
    value = parse_decimal(raw)
    if abs(value) >= Decimal("1e15"):
        raise CustomValueError(_l("The number is too large."))
    if places is not None:
        return format(value.quantize(Decimal(1).scaleb(-places)), "f")
    value = value.normalize()
    # 0.000…1 with hundreds of zeros would be stored as typed, and list filters, which
    # compare as floating point, fail on it (PostgreSQL: out of range for double precision).
    if -value.as_tuple().exponent > DECIMAL_PLACES:
        raise CustomValueError(_l("At most %(n)d digits after the decimal point."),
                               n=DECIMAL_PLACES)
    return format(value, "f")


def _integer(raw: Any, choices: list[str]) -> int:
    try:
        return parse_integer(raw)
    except OverflowError as exc:
        raise CustomValueError(_l("The number is too large.")) from exc


def _choice(raw: Any, choices: list[str]) -> str:
    text = str(raw).strip()
    for choice in choices:
        if text.casefold() == choice.casefold():
            return choice
    raise CustomValueError(NOT_A_CHOICE, value=text[:50])


def _multi_choice(raw: Any, choices: list[str]) -> list[str]:
    items = raw if isinstance(raw, list | tuple) else re.split(r"[;,|]", str(raw))
    values = [_choice(item, choices) for item in items if not is_empty(item)]
    return list(dict.fromkeys(values)) or None


def _email(raw: Any, choices: list[str]) -> str:
    try:
        return validate_email(str(raw).strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise CustomValueError(_l("Enter a valid e-mail address.")) from exc


def _url(raw: Any, choices: list[str]) -> str:
    text = _text(raw, choices, 2000)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CustomValueError(_l("Enter a web address starting with http:// or https://."))
    return text


_COERCERS = {
    "text": _text,
    "long_text": lambda raw, choices: _text(raw, choices, LONG_TEXT_MAX),
    "integer": _integer,
    "decimal": _decimal,
    "money": lambda raw, choices: _decimal(raw, choices, 2),
    "date": lambda raw, choices: parse_date(raw).isoformat(),
    "boolean": lambda raw, choices: parse_bool(raw),
    "choice": _choice,
    "multi_choice": _multi_choice,
    "email": _email,
    "url": _url,
}
assert set(_COERCERS) == set(FIELD_TYPES)


def _type_message(field_type: str) -> Any:
    messages = {
        "integer": _l("Enter a whole number."),
        "decimal": _l("Enter a number, such as 1 234,56."),
        "money": _l("Enter an amount, such as 1 234,56."),
        "date": _l("Enter a date as DD/MM/YYYY."),
        "boolean": _l("Enter yes or no."),
    }
    return messages.get(field_type, _l("This value is not valid."))


def validate_custom(
    entity: str, raw_values: dict[str, Any], existing: dict[str, Any] | None = None,
    *, partial: bool = False, fields: list[CustomField] | None = None,
) -> dict[str, Any]:
    """Return the record's new `custom` dict, or raise ValidationError keyed `custom.<key>`.

    Values of inactive fields are kept untouched; with `partial`, fields not given keep
    their current value (API PATCH, import of a subset of columns). `fields`: the entity's
    definitions, active or not, when the caller validates many records.
    """
    existing = dict(existing or {})
    fields_by_key = {f.key: f for f in (fields if fields is not None
                                        else definitions(entity, active_only=False))}
    errors: dict[str, str] = {}
    result = dict(existing)
    for key in raw_values:
        if key not in fields_by_key:
            errors[f"custom.{key}"] = _("Unknown custom field “%(key)s”.", key=key[:50])
    for key, field in fields_by_key.items():
        if not field.is_active:
            continue
        if key not in raw_values:
            if partial:
                continue
            value = None
        else:
            try:
                value = coerce_value(field.type, raw_values[key], field.choices)
            except CustomValueError as exc:
                errors[f"custom.{key}"] = str(exc)
                continue
        if value is None and field.is_required:
            errors[f"custom.{key}"] = _("This field is required.")
        elif value is None:
            result.pop(key, None)
        else:
            result[key] = value
    if errors:
        raise ValidationError(errors)
    return result
