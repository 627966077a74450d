"""SEPA identifiers as a creditor's bank and a customer's bank check them: creditor
identifiers (country, MOD 97-10 check digits, length), IBAN (checksum, SEPA zone), BIC
(given or found from the IBAN's bank), and the SEPA character set."""
from __future__ import annotations

import pytest

from app.sepa import SepaValueError, bic, creditor_identifier, iban, mod97_digits, sepa_text_error
from tests.backoffice.conftest import fr


@pytest.mark.parametrize("given, expected", [
    ("FR72ZZZ123456", "FR72ZZZ123456"),
    ("fr72 zzz 123456", "FR72ZZZ123456"),           # as typed from a bank's letter
    ("DE98ZZZ09999999999", "DE98ZZZ09999999999"),  # the Bundesbank's test identifier
    ("FR72ABC123456", "FR72ABC123456"),            # the business code is not checked
])
def test_a_creditor_identifier_is_accepted_compacted(app_ctx, given, expected):
    assert creditor_identifier(given) == expected


@pytest.mark.parametrize("given, message", [
    ("", "Enter the creditor identifier your bank gave you (in France, the ICS: FR, 2 "
         "digits, ZZZ and 6 characters)."),
    ("FR73ZZZ123456", "The check digits of this creditor identifier are wrong: check it "
                      "against your bank's letter."),
    ("FR72ZZZ1234567", None),   # France: 13 characters
    ("US72ZZZ123456", None),    # not SEPA
    ("FR7ZZZ123456", None),
    ("FR72ZZZ12345€", None),
    ("FR72ZZZ" + "1" * 29, None),  # over 35
])
def test_a_wrong_creditor_identifier_says_why(app_ctx, given, message):
    with pytest.raises(SepaValueError) as refused:
        creditor_identifier(given)
    if message:
        assert str(refused.value) == fr(message)


def test_messages_speak_the_users_language(app_ctx):
    from flask_babel import force_locale

    for locale, expected in (("en", "US is not a country of the SEPA zone."),
                             ("fr", "US n’est pas un pays de la zone SEPA.")):
        with force_locale(locale), pytest.raises(SepaValueError) as refused:
            creditor_identifier("US72ZZZ123456")
        assert str(refused.value) == expected


def test_check_digits_of_every_country_follow_mod_97_10():
    assert mod97_digits("123456", "FR") == "72"
    assert mod97_digits("09999999999", "DE") == "98"
    # Letters count as numbers: A = 10 … Z = 35.
    assert mod97_digits("A1B2C3", "FR") == mod97_digits("A1B2C3", "FR")
    assert mod97_digits("A1B2C3", "FR") != mod97_digits("A1B2C4", "FR")


def test_an_iban_is_checked_and_its_bic_found(app_ctx):
    account = iban("fr76 3000 6000 0112 3456 7890 189")
    assert account.compact == "FR7630006000011234567890189"
    assert bic("", account) == "AGRIFRPPXXX"  # the bank registry knows it
    assert bic("agri frpp", account) == "AGRIFRPP"


@pytest.mark.parametrize("given, message", [
    ("FR7630006000011234567890188", "This IBAN's check digits are wrong: a character was "
                                    "probably mistyped."),
    ("FR76300060000112345678901", "This IBAN has too many or too few characters for its "
                                  "country."),
    ("BR1800360305000010009795493C1", "Direct debits only go to accounts of the SEPA zone; "
                                      "this IBAN is from %(country)s."),
    ("", "Enter an IBAN."),
])
def test_a_wrong_iban_says_why(app_ctx, given, message):
    with pytest.raises(SepaValueError) as refused:
        iban(given)
    assert str(refused.value) == fr(message, country="BR")


def test_a_bic_of_another_country_than_the_iban_is_refused(app_ctx):
    with pytest.raises(SepaValueError):
        bic("DEUTDEFF", iban("FR7630006000011234567890189"))
    with pytest.raises(SepaValueError):
        bic("NOTABIC!", None)


def test_the_sepa_character_set(app_ctx):
    assert sepa_text_error("Rue de la Paix (bat. B) 12/3") is None
    assert "é" in sepa_text_error("Société Générale")
    assert "&" in sepa_text_error("Dupont & Fils")
