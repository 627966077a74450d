"""Per-column converters, compiled once per profile: raw cell → python value, or InvalidValue
(a cell that does not fit its target, with a translatable message)."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from flask_babel import lazy_gettext as _l

from app.custom_fields import CHOICE_TYPES, NOT_A_CHOICE, CustomValueError, coerce_value
from app.entities import Entity
from app.models import CustomField
from app.services.record_checks import COUNTRIES, QUANTITY_LIMIT
from app.services.record_rules import CENT, MONEY_LIMIT, QUANTITY_STEP
from app.values import in_years, is_currency_code, parse_bool, parse_datetime
from importers.profile import Profile, Target
from importers.readers import message_id
from importers.value_maps import mapped_converter
from importers.values import (
    OUT_OF_RANGE,
    TOO_LARGE,
    InvalidValue,
    cell_text,
    header_key,
    make_date_parser,
    make_decimal_parser,
    parse_text,
)
from importers.vocabulary import choice_lookup, folded

# Custom fields that hold text: an XLSX number goes in as its cell shows it (01000, not 1000).
TEXT_CUSTOM_TYPES = frozenset({"text", "long_text", "choice", "multi_choice", "email", "url"})
Converter = Callable[[Any], Any]
NOT_ONE_OF = _l("“%(value)s” is not one of: %(choices)s.")
NOT_A_CURRENCY = _l("Enter a currency code such as EUR.")


@dataclass(frozen=True)
class Column:
    index: int
    target: Target
    convert: Converter


def _choice_converter(choices: tuple[str, ...]) -> Converter:
    lookup = choice_lookup(choices)

    def convert(raw: Any) -> str | None:
        text = _text(raw)
        if text is None:
            return None
        code = lookup.get(folded(text))
        if code is None:
            # The codes are kept too: the message names the choices in the reader's language.
            raise InvalidValue(NOT_ONE_OF, value=text[:40], choices=", ".join(choices),
                               choice_codes=list(choices))
        return code

    return convert


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    text = (raw if isinstance(raw, str) else cell_text(raw)).strip()
    return text or None


def _money_converter(parse_decimal: Converter) -> Converter:
    def convert(raw: Any) -> Decimal | None:
        value = parse_decimal(raw)
        if value is None:
            return None
        value = value.quantize(CENT)
        if abs(value) >= MONEY_LIMIT:
            raise InvalidValue(_l("The amount is too large."))
        return value

    return convert


def _country(raw: Any) -> str | None:
    text = _text(raw)
    if text is None:
        return None
    code = text.upper()
    if code not in COUNTRIES:
        raise InvalidValue(_l("“%(value)s” is not a country code such as FR."), value=text[:10])
    return code


# Addresses that validate_email returns unchanged, checked without it (it costs ~40 µs a call).
_PLAIN_EMAIL = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
                          r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63})")


def _email_converter(max_length: int) -> Converter:
    """As forms do (app.services.record_checks): a valid address, normalized, else an error."""
    text_of = parse_text(max_length)

    def convert(raw: Any) -> str | None:
        text = text_of(raw)
        if text is None:
            return None
        plain = _PLAIN_EMAIL.fullmatch(text)
        if plain and plain.group(1) not in SPECIAL_USE_DOMAIN_NAMES:
            local, _at, domain = text.partition("@")
            if len(local) <= 64 and "--" not in domain \
                    and local.lower() not in CASE_INSENSITIVE_MAILBOX_NAMES:
                return text
        try:
            return validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError:
            raise InvalidValue(_l("Enter a valid e-mail address.")) from None

    return convert


def field_converter(entity: Entity, name: str, profile: Profile) -> Converter:
    spec = entity.field(name)
    if spec.type == "date":
        return make_date_parser(profile.date_format)
    if spec.type == "money":
        return _money_converter(make_decimal_parser(profile.decimal))
    if spec.type == "choice":
        return _choice_converter(spec.choices)
    if spec.type == "country":
        return _country
    if spec.type == "email":
        return _email_converter(spec.max_length)
    if spec.type == "integer":
        return make_decimal_parser(profile.decimal)
    if spec.type == "datetime":
        return _moment_converter(make_date_parser(profile.date_format))
    if spec.type == "boolean":
        return _flag
    if name == "currency":
        return _currency
    return parse_text(spec.max_length)


def _currency(raw: Any) -> str | None:
    """A currency's three-letter code (eur reads EUR), as every write checks it."""
    text = _text(raw)
    if text is None:
        return None
    code = text.upper()
    if not is_currency_code(code):
        raise InvalidValue(NOT_A_CURRENCY)
    return code


def _moment_converter(parse_day: Converter) -> Converter:
    """A date and time as people and spreadsheets write them (app/values.py), or a day alone
    in the profile's date format (its midnight)."""
    def convert(raw: Any) -> datetime | None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        moment = _moment(raw, parse_day)
        if moment is None:
            raise InvalidValue(_l("Enter a date and time as DD/MM/YYYY HH:MM."))
        if not in_years(moment):  # as every write checks
            raise InvalidValue(OUT_OF_RANGE)
        return moment

    return convert


def _moment(raw: Any, parse_day: Converter) -> datetime | None:
    try:
        return parse_datetime(raw)
    except (TypeError, ValueError):
        pass
    try:
        day = parse_day(raw)
    except InvalidValue as exc:
        if exc.message_id == message_id(OUT_OF_RANGE):
            raise
        return None
    try:
        return parse_datetime(day) if day is not None else None
    except ValueError:  # a day UTC cannot hold (year 1 east of Greenwich)
        return None


def _flag(raw: Any) -> bool | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return parse_bool(raw)
    except ValueError:
        raise InvalidValue(_l("Enter yes or no.")) from None


def custom_converter(field: CustomField, profile: Profile) -> Converter:
    as_text = field.type in TEXT_CUSTOM_TYPES
    # A date or a number is read as the profile reads the record's own (its pinned date
    # format, its decimal point: 03/04/2025 is the 4th of March in %m/%d/%Y), then checked
    # as the field checks it. A value the profile's own reading refuses is refused with the
    # form's message, or with the format the profile pins (a month-first date, say).
    read = make_date_parser(profile.date_format) if field.type == "date" else \
        make_decimal_parser(profile.decimal) if field.type in ("decimal", "money") else None
    pinned = (profile.date_format if field.type == "date" else profile.decimal) != "auto"

    def convert(raw: Any) -> Any:
        if as_text and isinstance(raw, int | float) and not isinstance(raw, bool):
            raw = cell_text(raw)
        elif read is not None:
            try:
                raw = read(raw)
            except InvalidValue:
                if pinned:
                    raise
        try:
            return coerce_value(field.type, raw, field.choices)
        except CustomValueError as exc:  # stored as its id and params, read in any language
            if field.type in CHOICE_TYPES and exc.message is NOT_A_CHOICE:
                raise InvalidValue(NOT_ONE_OF, value=exc.params.get("value", ""),
                                   choices=", ".join(field.choices)) from exc
            raise InvalidValue(exc.message, **exc.params) from exc

    return convert


def _quantity_converter(parse_decimal: Converter) -> Converter:
    def convert(raw: Any) -> Decimal | None:
        value = parse_decimal(raw)
        if value is None:
            return None
        if abs(value.quantize(QUANTITY_STEP)) >= QUANTITY_LIMIT:  # as forms: numeric(12, 3)
            raise InvalidValue(TOO_LARGE)
        return value

    return convert


def _tax_rate_converter(parse_decimal: Converter) -> Converter:
    def convert(raw: Any) -> Decimal | None:
        value = parse_decimal(raw)
        if value is not None and not 0 <= value.quantize(CENT) <= 100:
            raise InvalidValue(_l("Enter a tax rate between 0 and 100."))
        return value

    return convert


def line_converter(name: str, profile: Profile) -> Converter:
    """A line's cell, held to the bounds forms and the API hold lines to."""
    parse_decimal = make_decimal_parser(profile.decimal)
    if name == "quantity":
        return _quantity_converter(parse_decimal)
    if name == "unit_price":
        return _money_converter(parse_decimal)
    if name == "tax_rate":
        return _tax_rate_converter(parse_decimal)
    return parse_text(64 if name == "sku" else 255)


def compile_columns(profile: Profile, header: list[str],
                    custom_fields: dict[str, CustomField], *, sent_back: bool = False
                    ) -> tuple[list[Column], list[str]]:
    """The converters of the file's mapped columns, and the mapped headers it lacks. A
    header given twice is read in its last column, but in an errors file sent back fixed
    (`sent_back`) in its first: the "Line" and "Error" it adds come after the file's own
    columns, which may bear the same names."""
    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        if sent_back:
            positions.setdefault(header_key(name), i)
        else:
            positions[header_key(name)] = i
    columns, missing = [], []
    for target in profile.targets:
        index = positions.get(header_key(target.header))
        if index is None:
            missing.append(target.header)
            continue
        if target.kind == "field":
            convert = field_converter(profile.entity, target.name, profile)
        elif target.kind == "custom":
            convert = custom_converter(custom_fields[target.name], profile)
        elif target.kind == "line":
            convert = line_converter(target.name, profile)
        else:
            convert = parse_text(100)
        mapping = profile.value_maps.get(target.header)
        if mapping:
            convert = mapped_converter(convert, mapping)
        columns.append(Column(index, target, convert))
    return columns, missing
