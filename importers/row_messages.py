"""Row errors as they are kept and as they are read.

A row error is stored as a message id and its values (the cell's value, the choices allowed,
the format expected, the field), never only as text: each reader gets it in his own language
when it is shown (run page, errors page, errors CSV, API). The stored text, in the language of
the run, is what older errors (stored before ids existed) show as they are.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import g, has_app_context
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.entities import ENTITIES, STATUS_LABELS
from app.models import ImportRowError, ImportRun
from importers.readers import message_id
from importers.values import NOT_A_DATE, NOT_A_NUMBER, NOT_A_WHOLE_NUMBER, InvalidValue

NOT_A_DATE_AS = _l("“%(value)s” is not a date: write it as %(expected)s.")
NOT_A_NUMBER_AS = _l("“%(value)s” is not a number: write it as %(expected)s.")
NOT_A_WHOLE_NUMBER_AS = _l("“%(value)s” is not a whole number: write it as %(expected)s.")
_WITH_FORMAT = {
    NOT_A_DATE._args[0]: (NOT_A_DATE_AS, "date"),
    NOT_A_NUMBER._args[0]: (NOT_A_NUMBER_AS, "number"),
    NOT_A_WHOLE_NUMBER._args[0]: (NOT_A_WHOLE_NUMBER_AS, "integer"),
}
EXAMPLE_DAY = date(2025, 12, 31)


def expected_format(kind: str, date_format: str = "auto", decimal: str = "auto") -> str:
    """What a cell should look like, as an example ("31/12/2025", "1234,56")."""
    if kind == "date":
        if date_format == "auto":
            return "31/12/2025"
        try:
            return EXAMPLE_DAY.strftime(date_format)
        except ValueError:
            return date_format
    if kind == "integer":
        return "1234"
    return "1234.56" if decimal == "." else "1234,56"


def cell_message(exc: InvalidValue, date_format: str, decimal: str) -> tuple[Any, dict]:
    """A cell's message and values, with the format expected when the value had the wrong one."""
    known = _WITH_FORMAT.get(exc.message_id)
    if known is None:
        return exc.message, exc.params
    message, kind = known
    return message, {**exc.params, "expected": expected_format(kind, date_format, decimal)}


def error_message(error: ImportRowError) -> str:
    """The message in the current language when its id is known, else as stored."""
    if error.message_id:
        try:
            return _(error.message_id, **_readable(dict(error.message_params or {})))
        except (KeyError, ValueError, TypeError):
            pass
    return error.message


def run_message(run: ImportRun) -> str | None:
    """A run's own message (a file that cannot be read, columns missing…) in the current
    language: by its id when kept; else the stored text, translated when it is an English
    message stored as such (an interrupted run's)."""
    if run.message_id:
        try:
            return _rendered(run.message_id, {
                name: _in_reader_language(value)
                for name, value in (run.message_params or {}).items()})
        except (KeyError, ValueError, TypeError):
            pass
    return _(run.message) if run.message else None


# A run's message of several sentences, each kept by its id and values (`message_parts`).
PARTS = "%(parts)s"


def message_parts(*parts: tuple[Any, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """A message id and values that read as the sentences `parts` (a lazy message and its
    values each; a value may itself be a list of such parts), in the reader's language."""
    return PARTS, {"parts": [_part(message, params) for message, params in parts]}


def _part(message: Any, params: dict[str, Any]) -> dict[str, Any]:
    return {"id": message_id(message), "params": {
        name: [_part(*part) for part in value] if isinstance(value, list) else value
        for name, value in params.items()}}


def _rendered(text_id: str, params: dict[str, Any]) -> str:
    """A message by its id, its values read: a reason of its own (`reason_id`), sentences
    (`parts`, joined by spaces)."""
    params = _with_reason(dict(params))
    for name, value in params.items():
        if isinstance(value, list) and all(isinstance(p, dict) and "id" in p for p in value):
            params[name] = " ".join(_rendered(p["id"], dict(p.get("params") or {}))
                                    for p in value)
    return _(text_id, **params)


def _with_reason(params: dict[str, Any]) -> dict[str, Any]:
    """`reason` read in the reader's language when kept by its id too (an archive member's
    refusal: its reason is a message of its own)."""
    reason_id = params.get("reason_id")
    if isinstance(reason_id, str):
        try:
            params["reason"] = _(reason_id, **dict(params.get("reason_params") or {}))
        except (KeyError, ValueError, TypeError):
            pass
    return params


def _in_reader_language(value: Any) -> Any:
    """A value kept in each language ({"fr": …, "en": …}) in the reader's, else as kept."""
    if isinstance(value, dict) and value:
        return value.get(str(get_locale() or "")) or next(iter(value.values()))
    return value


def _readable(params: dict[str, Any]) -> dict[str, Any]:
    """The values that depend on the reader's language: choices, field names, and a reason
    that is a message of its own (an archive member's refusal)."""
    _with_reason(params)
    codes = params.get("choice_codes")
    if isinstance(codes, list):
        params["choices"] = ", ".join(str(STATUS_LABELS.get(c, c)) for c in codes)
    entity = ENTITIES.get(params.get("entity") or "")
    if entity is not None and params.get("field_name"):
        spec = next((f for f in entity.fields if f.name == params["field_name"]), None)
        if spec is not None:
            params["field"] = str(spec.label)
    if entity is not None and params.get("custom_key"):
        label = _custom_labels(entity.name).get(params["custom_key"])
        if label:
            params["field"] = label
    return params


def _custom_labels(entity: str) -> dict[str, str]:
    """The entity's custom field labels in the reader's language (read once per request)."""
    from app.custom_fields import definitions

    locale = str(get_locale() or "fr")
    cache = g.setdefault("_custom_labels", {}) if has_app_context() else {}
    if (entity, locale) not in cache:
        cache[(entity, locale)] = {cf.key: cf.label(locale)
                                   for cf in definitions(entity, active_only=False)}
    return cache[(entity, locale)]


# A message's values that change from row to row: a group's message shows them as "…"; a
# kind's (whatever the value) the cell's value too (a document's name is its cell's).
_ROW_VALUE = re.compile(r"%\((?:line|first|key|reason|cells)\)[sd]")
_ANY_VALUE = re.compile(r"%\((?:line|first|key|reason|cells|value|ref|name)\)[sd]")
# Errors stored before their count was named `cells`: that count is their row's value.
_OLD_EXTRA_CELLS = "Cells beyond the header: %(n)d."
_OLD_ROW_VALUE = re.compile(r"%\(n\)d")


def group_message(error: ImportRowError, by_value: bool, whole_kind: bool = False) -> str:
    """The message of a group of errors like `error`: as is when grouped by value, else with
    the values that differ from row to row written "…" (the cell's value too for
    `whole_kind`, errors of the same message whatever their value)."""
    values = _ANY_VALUE if whole_kind else _ROW_VALUE
    if error.message_id == _OLD_EXTRA_CELLS:
        values = _OLD_ROW_VALUE
    if (by_value and not whole_kind) or not error.message_id \
            or not values.search(error.message_id):
        return error_message(error)
    try:
        template = values.sub("…", _(error.message_id))
        return template % _readable(dict(error.message_params or {}))
    except (KeyError, ValueError, TypeError):
        return error_message(error)
