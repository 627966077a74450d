"""A cell through the value converters: the importer's (importers/values.py, the per-field and
per-custom-field converters of importers/convert.py, the engine's batched columns of
importers/csv_columns.py), the forms' (app/values.py: numbers, dates, yes/no) and the number
formats of workbooks (importers/number_formats.py).

Input: two choice bytes for the converter, one for the kind of value (text as a CSV gives it, or a
number, date, time or boolean as a workbook gives it), then the payload. A converter may refuse
a value only with its documented error (InvalidValue; ValueError for app/values.py); the
batched columns must give what the converter gives, cell by cell.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import atheris

with atheris.instrument_imports(include=["importers.values", "importers.convert",
                                         "importers.csv_columns", "importers.number_formats",
                                         "importers.vocabulary", "app.values",
                                         "app.custom_fields"]):
    from app import values as form_values
    from app.custom_fields import FIELD_TYPES
    from app.entities import ENTITIES
    from app.models import CustomField
    from importers import convert, values
    from importers.csv_columns import BatchColumn
    from importers.number_formats import displayed
    from importers.profile import Profile, Target
    from importers.workbooks import ShownFloat, ShownInt

from tests.fuzz.common import pick


def _profile(date_format: str, decimal: str) -> Profile:
    return Profile(name="fuzz", entity=ENTITIES["invoices"], mode="upsert",
                   key="external_ref", targets=(), date_format=date_format, decimal=decimal)


PROFILES = [_profile(fmt, decimal) for fmt in ("auto", "%d/%m/%Y", "%Y-%m-%d %H:%M", "%d.%m.%y")
            for decimal in ("auto", ",", ".")]
# (what it converts, the converter, its decimal setting): every field of every entity under
# every profile setting, the line attributes, and a custom field of every type.
IMPORTER: list[tuple[str, Callable[[Any], Any], str]] = []
SETTINGS_MATTER = {"date", "money", "integer"}  # the other fields convert alike in any profile
for _n, _p in enumerate(PROFILES):
    for _entity in ENTITIES.values():
        for _field in _entity.fields:
            if _field.type != "ref" and (_n == 0 or _field.type in SETTINGS_MATTER):
                IMPORTER.append((f"{_entity.name}.{_field.name}",
                                 convert.field_converter(_entity, _field.name, _p), _p.decimal))
    for _line in ("sku", "label", "quantity", "unit_price", "tax_rate"):
        IMPORTER.append((f"lines.{_line}", convert.line_converter(_line, _p), _p.decimal))
for _type in sorted(FIELD_TYPES):
    _custom = CustomField(key=_type, type=_type, entity="accounts",
                          choices=["Or", "Argent", "Bronze"] if "choice" in _type else [])
    IMPORTER.append((f"custom.{_type}", convert.custom_converter(_custom, PROFILES[0]), "auto"))
IMPORTER.append(("bool", values.parse_bool, "auto"))
IMPORTER.append(("int", values.parse_int, "auto"))
for _p in PROFILES[1:]:  # custom dates and numbers follow the profile's settings too
    for _type in ("date", "decimal", "money"):
        _custom = CustomField(key=_type, type=_type, entity="accounts", choices=[])
        IMPORTER.append((f"custom.{_type}", convert.custom_converter(_custom, _p), _p.decimal))
FORMS: list[Callable[[Any], Any]] = [form_values.parse_decimal, form_values.parse_integer,
                                     form_values.parse_date, form_values.parse_bool]
CONVERTERS = len(IMPORTER) + len(FORMS) + 1  # the last one: number formats


def _value(kind: int, payload: bytes) -> Any:
    """The payload as a cell: text (a CSV's, or a workbook's) or a typed workbook value."""
    text = payload.decode("utf-8", errors="replace")
    kind %= 10
    if kind < 4:
        return text
    number = struct.unpack("<d", payload[:8].ljust(8, b"\0"))[0]
    whole = int.from_bytes(payload[:9], "little", signed=True)
    if kind == 4:
        return number
    if kind == 5:
        return whole
    if kind == 6:  # a number with the text its format shows (workbooks.ShownInt/ShownFloat)
        shown = ShownFloat(number) if payload[:1] < b"\x80" else ShownInt(whole)
        shown.shown = text[8:]
        return shown
    if kind == 7:
        return datetime(1900, 1, 1) + timedelta(seconds=whole % (8000 * 365 * 86400))
    if kind == 8:
        return pick([date(1, 1, 1), time(23, 59, 59), timedelta(days=whole % 10_000), True,
                     False, None, Decimal(text[:30]) if _is_decimal(text[:30]) else text],
                    whole)
    return text.split("\n")[0]


def _is_decimal(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _batched(name: str, convert_cell: Callable[[Any], Any], decimal: str,
             cells: list[str]) -> None:
    """The engine's column of a batch gives, cell by cell, what the converter gives."""
    column = BatchColumn(convert.Column(0, Target("field", name, name), convert_cell), decimal)
    got, failures = column.convert(list(cells))
    failed = {index for index, _exc in failures}
    for index, cell in enumerate(cells):
        try:
            expected = convert_cell(cell)
        except ValueError:
            assert index in failed and got[index] is None, (name, cell, got[index])
            continue
        if column.is_money and expected is not None:
            expected = int(expected.scaleb(2))
        assert index not in failed and got[index] == expected, (name, cell, got[index], expected)


def fuzz(data: bytes) -> None:
    if len(data) < 3:
        return
    index = int.from_bytes(data[:2], "big") % CONVERTERS
    raw = _value(data[2], data[3:])
    if index < len(IMPORTER):
        name, convert_cell, decimal = IMPORTER[index]
        try:
            convert_cell(raw)
        except values.InvalidValue as exc:
            str(exc)  # the message renders with its parameters
        if isinstance(raw, str) and data[2] % 10 < 2:
            _batched(name, convert_cell, decimal, raw.split("\n"))
    elif index < len(IMPORTER) + len(FORMS):
        try:
            FORMS[index - len(IMPORTER)](raw)
        except (ValueError, OverflowError):  # refused: not a value, or past its digits
            pass
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        code = data[3:].decode("utf-8", errors="replace")[8:]
        shown = displayed(raw, code)
        assert shown is None or isinstance(shown, str)
