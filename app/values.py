"""Parsing of user-typed values: French and English numbers, dates and booleans."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

_SPACES = re.compile(r"[\s\u00a0\u202f']")
# Yes and no as people write them, in forms, filters and feeds alike.
TRUE_WORDS = frozenset({"1", "true", "vrai", "oui", "yes", "y", "o", "x", "on"})
FALSE_WORDS = frozenset({"0", "false", "faux", "non", "no", "n", "off"})
INTEGER_DIGITS = 18  # what a 64-bit integer holds
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y")


def in_years(day: date) -> bool:
    """Whether a date (or date and time) lies in the years every write takes: 1900-2999."""
    return 1900 <= day.year <= 2999


def is_currency_code(text: str) -> bool:
    """Whether `text` is a currency's code as every write takes it: three letters."""
    return len(text) == 3 and text.isalpha()


def parse_decimal(raw: str | int | float | Decimal) -> Decimal:
    """Parse 1 234,56 / 1,234.56 / 1234.56 / -12; raises ValueError."""
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = Decimal(repr(raw))
    else:
        text = _SPACES.sub("", str(raw)).replace("€", "")
        if "," in text and "." in text:
            # The last separator is the decimal one: 1.234,56 or 1,234.56.
            if text.rfind(",") > text.rfind("."):
                text = text.replace(".", "").replace(",", ".")
            else:
                text = text.replace(",", "")
        elif "," in text:
            text = text.replace(",", ".")
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
            raise ValueError(raw)
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(raw) from exc
    if not value.is_finite():
        raise ValueError(raw)
    return value


def parse_integer(raw: str | int) -> int:
    """123, -12, 1 234; ValueError when no whole number, OverflowError past INTEGER_DIGITS
    digits (typed or a JSON integer, which may have up to 4,300)."""
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, int):
        value = raw
    else:
        text = _SPACES.sub("", str(raw))
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(raw)
        if len(text.lstrip("+-").lstrip("0")) > INTEGER_DIGITS:
            raise OverflowError(raw)
        value = int(text)
    if abs(value) >= 10 ** INTEGER_DIGITS:
        raise OverflowError(raw)
    return value


def parse_date(raw: str | date) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(raw)


def parse_bool(raw: str | bool | int) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(raw)


TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%Hh%M", "%Hh")


def local_zone() -> tzinfo:
    """The zone people write times in (DEFAULT_TIMEZONE, Europe/Paris by default)."""
    from flask import current_app, has_app_context

    name = current_app.config.get("BABEL_DEFAULT_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or "Europe/Paris")


def parse_datetime(raw: str | date | datetime) -> datetime:
    """A moment, in UTC: ISO 8601 (with its offset, or local time), or a day as DD/MM/YYYY or
    YYYY-MM-DD and an optional time (14:30, 14h30); a day alone is its midnight; local times
    are read in `local_zone()`."""
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, date):
        moment = datetime(raw.year, raw.month, raw.day)
    else:
        moment = _parsed_moment(str(raw).strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_zone())
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(raw) from exc


def _parsed_moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1) if "-" in text[:5] else text)
    except ValueError:
        pass
    day_part, _space, time_part = text.partition(" ")
    day = parse_date(day_part)
    if not time_part.strip():
        return datetime(day.year, day.month, day.day)
    for fmt in TIME_FORMATS:
        try:
            clock = datetime.strptime(time_part.strip(), fmt).time()
            return datetime.combine(day, clock)
        except ValueError:
            continue
    raise ValueError(text)
