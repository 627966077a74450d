"""Cell parsers for feeds, compiled once per profile: raw cell (str, or a python value from XLSX)
→ python value, None for an empty cell, or InvalidValue (a ValueError) with a translatable message.

app/values.py parses what people type in forms; this is the fast, profile-aware version.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from app.values import FALSE_WORDS, TRUE_WORDS, in_years

MAX_INTEGER_DIGITS = 15  # decimals: what a double and most databases' numerics hold exactly
MAX_INT_DIGITS = 18  # integers: fits a 64-bit column
MAX_NUMBER_TEXT = 64
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 (after Excel's phantom 1900-02-29)
EXCEL_MAX_SERIAL = 2958465  # 9999-12-31

NOT_A_DATE = _l("“%(value)s” is not a date.")
NO_SUCH_DAY = _l("“%(value)s” is not a date: there is no such day.")
OUT_OF_RANGE = _l("Enter a date between 1900 and 2999.")
NOT_A_NUMBER = _l("“%(value)s” is not a number.")
TOO_LARGE = _l("The number is too large.")
NOT_A_WHOLE_NUMBER = _l("“%(value)s” is not a whole number.")


class InvalidValue(ValueError):
    """A cell that cannot be parsed: a lazy message and its params (str() renders them)."""

    def __init__(self, message: Any, **params: Any) -> None:
        super().__init__(message, params)
        self.message = message
        args = getattr(message, "_args", None)  # flask_babel.LazyString keeps its msgid
        self.message_id = args[0] if args and isinstance(args[0], str) else str(message)
        self.params = params

    def __str__(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)


def _shown(raw: Any) -> str:
    text = str(raw).strip()
    return text if len(text) <= 40 else text[:39] + "…"


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and (not raw or raw.isspace()))


# --- Dates ----------------------------------------------------------------------------------

_TIME = (r"(?:[ T](?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?"
         r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?")  # accepted, then dropped: the field is a date
_DMY = re.compile(r"([0-9]{1,2})([/.-])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})" + _TIME)
_YMD = re.compile(r"([0-9]{4})([/.-])([0-9]{1,2})\2([0-9]{1,2})" + _TIME)
_FORMAT_PARTS = {"d": "(?P<d>[0-9]{1,2})", "m": "(?P<m>[0-9]{1,2})", "Y": "(?P<Y>[0-9]{4})",
                 "y": "(?P<y>[0-9]{2})", "H": "(?:[01]?[0-9]|2[0-3])", "M": "[0-5]?[0-9]",
                 "S": "(?:[0-5]?[0-9]|6[01])"}


def _century(year: int) -> int:
    return year + (2000 if year < 69 else 1900)  # as strptime's %y: 69-99 → 1900s


def _date_from_object(raw: Any) -> date | None:
    """A real date from XLSX (or a caller), or None when raw is no date object."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    return None


def _date_from_serial(raw: int | float) -> date:
    if raw != raw or not 1 <= raw <= EXCEL_MAX_SERIAL:  # NaN included
        raise InvalidValue(NOT_A_DATE, value=_shown(raw))
    return EXCEL_EPOCH + timedelta(days=int(raw))


def _day(text: str, year: int, month: int, day: int) -> date:
    """The date a cell written in the right format names. One that does not exist although
    its day and month could (31/02, 29/02 of a common year, 31/04) is said to be no such day:
    "write it as 31/12/2025" would ask for what was written. A day past 31 or a month past 12
    is the format's mistake (12/31/2025, month first), answered with the format expected."""
    try:
        return date(year, month, day)
    except ValueError:
        if 1 <= month <= 12 and 1 <= day <= 31:
            raise InvalidValue(NO_SUCH_DAY, value=_shown(text)) from None
        raise


def _auto_date(text: str) -> date:
    match = _DMY.fullmatch(text)
    if match:
        day, _sep, month, year = match.groups()
        year_number = int(year) if len(year) == 4 else _century(int(year))
        return _day(text, year_number, int(month), int(day))
    match = _YMD.fullmatch(text)
    if match:
        year, _sep, month, day = match.groups()
        return _day(text, int(year), int(month), int(day))
    raise ValueError(text)


def _pinned_date(date_format: str) -> Callable[[str], date]:
    """A parser for one strftime format: a regex for day/month/year formats, else strptime."""
    pattern, names, position = [], set(), 0
    while position < len(date_format):
        char = date_format[position]
        if char == "%" and position + 1 < len(date_format):
            directive = date_format[position + 1]
            position += 2
            if directive == "%":
                pattern.append("%")
            elif directive in _FORMAT_PARTS and directive not in names:
                names.add(directive)
                pattern.append(_FORMAT_PARTS[directive])
            else:
                return _strptime_date(date_format)
        else:
            position += 1
            pattern.append(r"\s+" if char.isspace() else re.escape(char))
    if not ({"d", "m"} <= names and names & {"Y", "y"}) or {"Y", "y"} <= names:
        return _strptime_date(date_format)
    regex = re.compile("".join(pattern))

    def parse(text: str) -> date:
        match = regex.fullmatch(text)
        if not match:
            raise ValueError(text)
        found = match.groupdict()
        year = int(found["Y"]) if found.get("Y") else _century(int(found["y"]))
        return _day(text, year, int(found["m"]), int(found["d"]))

    return parse


def _strptime_date(date_format: str) -> Callable[[str], date]:
    def parse(text: str) -> date:
        return datetime.strptime(text, date_format).date()

    return parse


def make_date_parser(date_format: str = "auto") -> Callable[[Any], date | None]:
    """31/12/2025, 31.12.2025, 31-12-2025, 2025-12-31, 31/12/25 (day first), or one pinned
    strftime format; real dates from XLSX always; Excel serials (XLSX numbers) in auto only."""
    auto = date_format == "auto"
    if auto:
        parse_text = _auto_date
    else:
        try:
            sample = datetime(2025, 12, 31).strftime(date_format)
            datetime.strptime(sample, date_format)
        except (ValueError, TypeError, re.error) as exc:  # re.error: "%d%d" repeats a group
            raise InvalidValue(_l("Unknown date format “%(format)s”."),
                               format=date_format) from exc
        parse_text = _pinned_date(date_format)

    def read(raw: Any) -> date | None:
        if isinstance(raw, str):
            text = raw.strip()
            if not text:
                return None
            try:
                return parse_text(text)
            except InvalidValue:
                raise
            except ValueError:  # its message gives the format expected, as an example
                raise InvalidValue(NOT_A_DATE, value=_shown(text)) from None
        if raw is None:
            return None
        found = _date_from_object(raw)
        if found is not None:
            return found
        if auto and isinstance(raw, int | float) and not isinstance(raw, bool):
            return _date_from_serial(raw)
        raise InvalidValue(NOT_A_DATE, value=_shown(raw))

    def parse(raw: Any) -> date | None:
        found = read(raw)
        if found is not None and not in_years(found):  # as every write checks
            raise InvalidValue(OUT_OF_RANGE)
        return found

    return parse


# --- Numbers --------------------------------------------------------------------------------

_FAST_DECIMAL = {
    "auto": re.compile(r"-?[0-9]{1,15}(?:[.,][0-9]+)?"),
    ",": re.compile(r"-?[0-9]{1,15}(?:,[0-9]+)?"),
    ".": re.compile(r"-?[0-9]{1,15}(?:\.[0-9]+)?"),
}
_DIGITS = re.compile(r"[0-9]+")
# Thousands: groups of three after one to three digits, the same separator throughout.
_GROUPED = re.compile(r"[0-9]{1,3}([ \u00a0\u202f'’.,])[0-9]{3}(?:\1[0-9]{3})*")
_SIGNS = {"-": "-", "−": "-", "+": ""}


def _decimal_text(raw: str, mode: str) -> Decimal:
    """The slow path: currency sign, thousands separators, the decimal separator by mode."""
    text = raw.strip()
    if len(text) > MAX_NUMBER_TEXT:
        raise InvalidValue(NOT_A_NUMBER, value=_shown(raw))
    text = text.strip("€").strip()
    sign = _SIGNS.get(text[:1])
    if sign is not None:
        text = text[1:].lstrip().lstrip("€").lstrip()
    if mode == "auto":
        comma, dot = text.rfind(","), text.rfind(".")
        if comma >= 0 and dot >= 0:
            separator = "," if comma > dot else "."
        elif comma >= 0 or dot >= 0:
            separator = "," if comma >= 0 else "."
            if text.count(separator) > 1:  # 1.234.567: only thousands
                separator = None
        else:
            separator = None
    else:
        separator = mode if mode in text else None
    if separator:
        whole, _sep, fraction = text.rpartition(separator)
        if not _DIGITS.fullmatch(fraction):
            raise InvalidValue(NOT_A_NUMBER, value=_shown(raw))
    else:
        whole, fraction = text, ""
    if not whole and fraction:
        whole = "0"
    if not _DIGITS.fullmatch(whole):
        grouped = _GROUPED.fullmatch(whole)
        if not grouped or grouped.group(1) == separator:
            raise InvalidValue(NOT_A_NUMBER, value=_shown(raw))
        whole = whole.replace(grouped.group(1), "")
    if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise InvalidValue(TOO_LARGE)
    return Decimal(f"{sign or ''}{whole}.{fraction}" if fraction else f"{sign or ''}{whole}")


def _decimal_number(raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        raise InvalidValue(NOT_A_NUMBER, value=_shown(raw))
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise InvalidValue(NOT_A_NUMBER, value=_shown(raw))
        value = Decimal(repr(raw))  # the shortest text that gives the float back: 0.1, not 0.1000…
    else:
        value = Decimal(raw)
    if not value.is_finite():
        raise InvalidValue(NOT_A_NUMBER, value=_shown(raw))
    if value and value.adjusted() >= MAX_INTEGER_DIGITS:
        raise InvalidValue(TOO_LARGE)
    return value


def make_decimal_parser(decimal: str = "auto") -> Callable[[Any], Decimal | None]:
    """"auto": 1 234,56 / 1.234,56 / 1,234.56 / 1234,56 / -12 / 12 € (a lone , or . is the
    decimal separator); "," or "." pins the decimal separator. XLSX numbers as they are."""
    if decimal not in _FAST_DECIMAL:
        raise ValueError(f"decimal must be 'auto', ',' or '.', not {decimal!r}")
    fast = _FAST_DECIMAL[decimal].fullmatch

    def parse(raw: Any) -> Decimal | None:
        if isinstance(raw, str):
            if fast(raw):
                return Decimal(raw.replace(",", "."))
            if not raw or raw.isspace():
                return None
            try:
                return _decimal_text(raw, decimal)
            except InvalidOperation:  # unreachable by construction; never let it escape
                raise InvalidValue(NOT_A_NUMBER, value=_shown(raw)) from None
        if raw is None:
            return None
        return _decimal_number(raw)

    return parse


_FAST_INT = re.compile(r"[+-]?[0-9]{1,18}")
_INT = re.compile(r"([-+−]?)\s*([0-9]{1,3}(?:([ \u00a0\u202f'’])[0-9]{3})(?:\3[0-9]{3})*|[0-9]+)"
                  r"(?:[.,]0+)?")


def parse_int(raw: Any) -> int | None:
    """123, -12, 1 234 (spaces or apostrophes), 12.0; XLSX integers and whole floats."""
    if isinstance(raw, str):
        if _FAST_INT.fullmatch(raw):
            return int(raw)
        text = raw.strip()
        if not text:
            return None
        match = _INT.fullmatch(text) if len(text) <= MAX_NUMBER_TEXT else None
        if not match:
            raise InvalidValue(NOT_A_WHOLE_NUMBER, value=_shown(raw))
        sign, digits, separator = match.groups()
        if separator:
            digits = digits.replace(separator, "")
        if len(digits.lstrip("0")) > MAX_INT_DIGITS:
            raise InvalidValue(TOO_LARGE)
        return -int(digits) if sign in ("-", "−") else int(digits)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        raise InvalidValue(NOT_A_WHOLE_NUMBER, value=_shown(raw))
    whole = raw.is_integer() if isinstance(raw, float) else (
        not isinstance(raw, Decimal) or (raw.is_finite() and raw == raw.to_integral_value()))
    if not whole:  # 1.5, NaN, infinity
        raise InvalidValue(NOT_A_WHOLE_NUMBER, value=_shown(raw))
    # A Decimal's size by its exponent: abs() of 1E+9990800 overflows the decimal context.
    too_large = raw.adjusted() >= MAX_INT_DIGITS if isinstance(raw, Decimal) \
        else abs(raw) >= 10 ** MAX_INT_DIGITS
    if too_large:
        raise InvalidValue(TOO_LARGE)
    return int(raw)


# --- Booleans and text ----------------------------------------------------------------------



def _unaccented(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))


def parse_bool(raw: Any) -> bool | None:
    """The words of app/values.py (oui/non, yes/no, on/off…, any case and accents); XLSX
    bools."""
    if isinstance(raw, bool):
        return raw
    if raw is None:
        return None
    if isinstance(raw, int | float | Decimal):
        # A signaling NaN raises on any comparison: it is no yes or no either.
        if not (isinstance(raw, Decimal) and raw.is_snan()):
            if raw == 1:
                return True
            if raw == 0:
                return False
        raise InvalidValue(_l("“%(value)s” is not yes or no."), value=_shown(raw))
    text = str(raw).strip().casefold()
    if not text:
        return None
    if text not in TRUE_WORDS and text not in FALSE_WORDS:
        text = _unaccented(text)
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise InvalidValue(_l("“%(value)s” is not yes or no."), value=_shown(raw))


_SPACES = str.maketrans("", "", " \u00a0\u202f")  # space, no-break space, narrow no-break space
_DIGITS = re.compile(r"[0-9]+")


def cell_text(raw: Any) -> str:
    """An XLSX value as the text a person saw: 75001 not 75001.0, 01000 when the cell's number
    format shows 01000 (importers.workbooks), dates in ISO form."""
    shown = getattr(raw, "shown", None)
    if shown is not None:
        if _same_integer(raw, shown):
            return shown
        raw = float(raw) if isinstance(raw, float) else int(raw)  # its str() is the shown text
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == time() else raw.isoformat(sep=" ")
    if isinstance(raw, date | time):
        return raw.isoformat()
    return str(raw)


def _same_integer(number: int | float, shown: str) -> bool:
    """Whether the shown text is the number's own digits, zero-padded or grouped by spaces
    (01000, 01 23 45 67 89): keys and codes keep what the sheet shows. Text that rounds, scales,
    groups with commas or adds decimals, signs or symbols (12,346, 20%, € 12) would change the
    value a text field (a key) gets, so it is never used."""
    if number < 0 or (isinstance(number, float) and not number.is_integer()):
        return False
    digits = shown.translate(_SPACES)
    return _DIGITS.fullmatch(digits) is not None and len(digits) <= 30 \
        and int(digits) == number


def parse_text(max_length: int) -> Callable[[Any], str | None]:
    """Stripped text, None when empty; longer than max_length is an error, never cut."""

    def parse(raw: Any) -> str | None:
        if raw is None:
            return None
        text = raw.strip() if isinstance(raw, str) else cell_text(raw).strip()
        if not text:
            return None
        if len(text) > max_length:
            raise InvalidValue(_l("At most %(n)d characters."), n=max_length)
        return text

    return parse


def header_key(header: str) -> str:
    """Headers match whatever their case, accents and surrounding spaces."""
    text = unicodedata.normalize("NFKD", str(header)).encode("ascii", "ignore").decode()
    return " ".join(text.casefold().split())
