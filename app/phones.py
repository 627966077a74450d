"""Phone numbers as typed ("06 12 34 56 78", "+33 (0)6…", "0032 2 123 45 67") turned into
E.164 (+33612345678) for `tel:` links, so that a phone abroad, or on a foreign SIM, still
dials the right person.

A number written in national form is read in the country of its record (an account's
`country`, a contact's account's), France by default. Only the trunk prefix is handled, per
country, for France, the rest of Europe and North America: a number is never validated
against a numbering plan (the phonenumbers library does that, with megabytes of metadata
that a dialling link does not need). A number that cannot be read keeps its digits as
typed, which still dials at home.
"""
from __future__ import annotations

import re

from flask_babel import gettext as _

DEFAULT_COUNTRY = "FR"

# ISO 3166 alpha-2 → country calling code.
CALLING_CODES = {
    "FR": "33", "MC": "377", "AD": "376", "BE": "32", "LU": "352", "CH": "41", "LI": "423",
    "DE": "49", "AT": "43", "NL": "31", "ES": "34", "PT": "351", "IT": "39", "SM": "378",
    "VA": "39", "GB": "44", "IE": "353", "DK": "45", "SE": "46", "NO": "47", "FI": "358",
    "IS": "354", "PL": "48", "CZ": "420", "SK": "421", "HU": "36", "RO": "40", "BG": "359",
    "GR": "30", "HR": "385", "SI": "386", "EE": "372", "LV": "371", "LT": "370", "CY": "357",
    "MT": "356", "GP": "590", "MQ": "596", "GF": "594", "RE": "262", "YT": "262",
    "PM": "508", "NC": "687", "PF": "689", "US": "1", "CA": "1",
}
# Where the leading 0 belongs to the number itself and is dialled from abroad too.
KEEPS_LEADING_ZERO = frozenset({"IT", "SM", "VA"})
# Where the national number is "1" + 10 digits (North America): the 1 is the country code.
NANP = frozenset({"US", "CA"})
# French overseas numbers written in the French national form: their own country code.
FRENCH_OVERSEAS = (
    (("590", "690", "691"), "590"), (("596", "696", "697"), "596"),
    (("594", "694"), "594"), (("262", "263", "692", "693", "269", "639"), "262"),
)
# National significant numbers of the countries where their length is fixed.
NATIONAL_LENGTH = {"33": 9, "32": (8, 9), "352": (4, 11), "41": 9, "34": 9, "351": 9,
                   "31": 9, "1": 10}

_CODES_LONGEST_FIRST = sorted(set(CALLING_CODES.values()), key=len, reverse=True)
_CODES_WITH_ZERO = {CALLING_CODES[c] for c in KEEPS_LEADING_ZERO}
_SEPARATORS = re.compile(r"[\s.\-/()\u00a0\u202f]")
_TRUNK_IN_BRACKETS = re.compile(r"\(\s*0\s*\)")  # "+33 (0)6 12 34 56 78"


def to_e164(value: str | None, country: str | None = None) -> str | None:
    """`value` as +<country code><number>, or None when it is not a phone number."""
    text = _TRUNK_IN_BRACKETS.sub("", (value or "").strip())
    text = _SEPARATORS.sub("", text)
    if text.startswith("+"):
        return _international(text[1:])
    if not text.isdigit():
        return None
    if text.startswith("00"):
        return _international(text[2:])
    return _national(text, (country or DEFAULT_COUNTRY).upper())


def checked_phone(value: str, country: str | None, errors: dict[str, str],
                  field: str = "phone") -> str | None:
    """A phone typed in a form, as E.164 to store (at most 40 characters, the columns'
    size); None, and the message beside `field` in `errors`, when it is not one."""
    found = to_e164(value, country)
    if found is None or len(found) > 40:
        errors[field] = _("Enter a phone number, such as +33 6 12 34 56 78.")
        return None
    return found


def tel_uri(value: str | None, country: str | None = None) -> str:
    """The `tel:` link of a number: E.164 when it can be read, else its digits as typed."""
    number = to_e164(value, country)
    if number is None:
        number = re.sub(r"[^\d+]", "", value or "")
    return f"tel:{number}"


def _international(digits: str) -> str | None:
    if not digits.isdigit():
        return None
    # "+33 06 12 34 56 78": the trunk 0 typed after a country code that never has one there.
    code = next((c for c in _CODES_LONGEST_FIRST if digits.startswith(c)), None)
    if code is not None and code not in _CODES_WITH_ZERO and digits[len(code):].startswith("0"):
        digits = code + digits[len(code) + 1:]
    if not 8 <= len(digits) <= 15:
        return None
    return f"+{digits}"


def _national(digits: str, country: str) -> str | None:
    code = CALLING_CODES.get(country)
    if code is None:
        return None
    if country in NANP:
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
    elif country not in KEEPS_LEADING_ZERO:
        digits = digits.removeprefix("0")
    if not _plausible(code, digits):
        return None
    if country == "FR":
        code = next((overseas for prefixes, overseas in FRENCH_OVERSEAS
                     if digits.startswith(prefixes)), code)
    return _international(code + digits)


def _plausible(code: str, digits: str) -> bool:
    length = NATIONAL_LENGTH.get(code)
    if length is None:
        return 4 <= len(digits) <= 14
    low, high = length if isinstance(length, tuple) else (length, length)
    return low <= len(digits) <= high


def country_of(record: object) -> str:
    """The country a record's phone number is written in: an account's, a contact's
    account's, France otherwise (partners)."""
    country = getattr(record, "country", None)
    if country is None and hasattr(record, "account_id"):
        country = getattr(getattr(record, "account", None), "country", None)
    return country or DEFAULT_COUNTRY
