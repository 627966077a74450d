"""Parsing of user-typed values: French and English numbers, dates and booleans."""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

_SPACES = re.compile(r"[\s\u00a0\u202f']")
# Yes and no as people write them, in forms, filters and feeds alike.
TRUE_WORDS = frozenset({"1", "true", "vrai", "oui", "yes", "y", "o", "x", "on"})
FALSE_WORDS = frozenset({"0", "false", "faux", "non", "no", "n", "off"})
INTEGER_DIGITS = 18  # what a 64-bit integer holds
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y")


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
