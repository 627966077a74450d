"""SEPA identifiers as the EPC rulebooks define them: the creditor identifier (ICS in France),
IBAN and BIC (checked by schwifty against the IBAN and bank registries), the SEPA
character set of the names and references that go into a direct-debit file, and the name and
postal address of a party to it (the creditor, a debtor) as a form or the API gives them.

Each check answers the value in its canonical form or raises `SepaValueError` with a message
the user can act on.
"""
from __future__ import annotations

import re
import string
from typing import Any

from flask_babel import gettext as _
from schwifty import BIC, IBAN, registry
from schwifty.exceptions import (
    InvalidBBANChecksum,
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    SchwiftyException,
)

MAX_CREDITOR_ID = 35
# The national part's length where the country fixes it (EPC262-08 "Creditor Identifier
# overview"): the whole identifier is country code, check digits, business code and it.
NATIONAL_ID_LENGTHS = {"FR": 6, "DE": 11, "BE": 10, "NL": 12, "LU": 21, "MC": 6, "ES": 9,
                       "IT": 16, "AT": 11, "PT": 9}
_CREDITOR_ID = re.compile(r"^([A-Z]{2})([0-9]{2})([A-Z0-9]{3})([A-Z0-9]{1,28})$")
# The Latin character set every SEPA bank accepts (EPC217-08), in names and references.
SEPA_CHARACTERS = frozenset(string.ascii_letters + string.digits + "/-?:().,'+ ")
REFERENCE_CHARACTERS = frozenset(string.ascii_letters + string.digits + "/-?:().,'+")
# A party's structured postal address in pain.008: (field, most characters, required).
POSTAL_ADDRESS = (("street", 70, True), ("building_number", 16, False),
                  ("postal_code", 16, True), ("town", 35, True))


class SepaValueError(ValueError):
    """A SEPA identifier that does not hold; its message says why, in the user's language."""


def in_sepa_zone(country: str) -> bool:
    try:
        return bool(registry.get_iban_spec(country).in_sepa_zone)
    except (KeyError, SchwiftyException):
        return False


def _compact(value: str) -> str:
    return re.sub(r"[\s.-]", "", value or "").upper()


def mod97_digits(national: str, country: str) -> str:
    """The two check digits of ISO 7064 MOD 97-10 over `national` + country + "00", letters
    read as numbers (A = 10 … Z = 35), as IBAN and creditor identifiers compute them."""
    digits = "".join(str(int(c, 36)) for c in national + country + "00")
    return f"{98 - int(digits) % 97:02d}"


def creditor_identifier(value: str) -> str:
    """A SEPA creditor identifier (e.g. FR72ZZZ123456), compacted and upper-cased.

    Country code, two check digits (MOD 97-10 over the national identifier and the country
    code, the business code left out), a three-character business code, then the national
    identifier, at most 35 characters in all.
    """
    compact = _compact(value)
    if not compact:
        raise SepaValueError(_("Enter the creditor identifier your bank gave you "
                               "(in France, the ICS: FR, 2 digits, ZZZ and 6 characters)."))
    if len(compact) > MAX_CREDITOR_ID:
        raise SepaValueError(_("A creditor identifier has at most %(n)d characters.",
                               n=MAX_CREDITOR_ID))
    found = _CREDITOR_ID.match(compact)
    if found is None:
        raise SepaValueError(_("A creditor identifier is a country code, 2 check digits, a "
                               "3-character business code and the national identifier, in "
                               "letters and digits only (e.g. FR72ZZZ123456)."))
    country, check, _business, national = found.groups()
    if not in_sepa_zone(country):
        raise SepaValueError(_("%(country)s is not a country of the SEPA zone.",
                               country=country))
    expected = NATIONAL_ID_LENGTHS.get(country)
    if expected is not None and len(national) != expected:
        raise SepaValueError(_("In %(country)s, a creditor identifier has %(n)d characters.",
                               country=country, n=expected + 7))
    if mod97_digits(national, country) != check:
        raise SepaValueError(_("The check digits of this creditor identifier are wrong: "
                               "check it against your bank's letter."))
    return compact


def iban(value: str) -> IBAN:
    """An IBAN of the SEPA zone, checksum and national format checked."""
    compact = _compact(value)
    if not compact:
        raise SepaValueError(_("Enter an IBAN."))
    try:
        checked = IBAN(compact, validate_bban=True)
    except InvalidCountryCode:
        raise SepaValueError(_("This IBAN does not start with a known country code.")) from None
    except InvalidLength:
        raise SepaValueError(_("This IBAN has too many or too few characters for its "
                               "country.")) from None
    except (InvalidChecksumDigits, InvalidBBANChecksum):
        raise SepaValueError(_("This IBAN's check digits are wrong: a character was probably "
                               "mistyped.")) from None
    except SchwiftyException:
        raise SepaValueError(_("This is not a valid IBAN.")) from None
    if not checked.in_sepa_zone:
        raise SepaValueError(_("Direct debits only go to accounts of the SEPA zone; this IBAN "
                               "is from %(country)s.", country=checked.country_code))
    return checked


def bic(value: str, account: IBAN | None = None) -> str:
    """A BIC (8 or 11 characters): the one given, checked; or the one of the IBAN's bank
    when the bank registry knows it. Empty when neither gives one."""
    compact = _compact(value)
    if compact:
        try:
            checked = BIC(compact)
        except SchwiftyException:
            raise SepaValueError(_("A BIC has 8 or 11 letters and digits (e.g. "
                                   "BNPAFRPPXXX).")) from None
        if account is not None and checked.country_code != account.country_code:
            raise SepaValueError(_("This BIC is of a bank in %(bic)s but the IBAN of an "
                                   "account in %(iban)s.", bic=checked.country_code,
                                   iban=account.country_code))
        return str(checked.compact)
    if account is not None:
        derived = account.bic
        if derived is not None:
            return str(derived.compact)
    return ""


def sepa_text_error(value: str) -> str | None:
    """Why `value` cannot go into a SEPA file as it is, or None."""
    wrong = sorted({c for c in value if c not in SEPA_CHARACTERS})
    if wrong:
        return _("Use only letters without accents, digits, spaces and / - ? : ( ) . , ' + "
                 "(not: %(chars)s).", chars=" ".join(wrong))
    return None


def given_text(data: dict[str, Any], key: str) -> str:
    """`data[key]` as text without surrounding spaces; empty when not given."""
    value = data.get(key)
    return str(value).strip() if value is not None else ""


def clean_party(data: dict[str, Any], errors: dict[str, str], name: str, most: int, *,
                sepa_only: bool) -> dict[str, str]:
    """A party's name (`name`, at most `most` characters) and postal address (POSTAL_ADDRESS)
    from `data`, as typed but stripped; what is wrong, by field, into `errors`: a required
    field missing, too long, and with `sepa_only` a character outside the SEPA set."""
    clean: dict[str, str] = {}
    for key, longest, required in ((name, most, True), *POSTAL_ADDRESS):
        value = given_text(data, key)
        if required and not value:
            errors[key] = _("This field is required.")
        elif len(value) > longest:
            errors[key] = _("Use at most %(n)d characters.", n=longest)
        elif sepa_only and value and (problem := sepa_text_error(value)):
            errors[key] = problem
        clean[key] = value
    return clean
