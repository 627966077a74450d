"""Phone numbers as typed, read as E.164 for `tel:` links."""
from __future__ import annotations

import pytest

from app.phones import tel_uri, to_e164


@pytest.mark.parametrize(("typed", "country", "e164"), [
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("06.12.34.56.78", None, "+33612345678"),  # France by default
    ("06-12-34-56-78", "", "+33612345678"),
    ("01 02 03 04 05", "fr", "+33102030405"),
    ("+33 6 12 34 56 78", "BE", "+33612345678"),  # international: the country does not matter
    ("+33 (0)6 12 34 56 78", "FR", "+33612345678"),
    ("0033 6 12 34 56 78", "FR", "+33612345678"),
    ("+33 06 12 34 56 78", "FR", "+33612345678"),  # the trunk 0 typed after +33
    ("0033 (0)6 12 34 56 78", "FR", "+33612345678"),
    ("+39 06 1234 5678", "FR", "+390612345678"),  # but Italy's 0 is part of the number
    ("+32 470 12 34 56", "FR", "+32470123456"),
    ("(0)6 12 34 56 78", "FR", "+33612345678"),
    ("06\u00a012\u00a034\u00a056\u00a078", "FR", "+33612345678"),
    ("0590 12 34 56", "FR", "+590590123456"),  # Guadeloupe, written the French way
    ("0692 12 34 56", "FR", "+262692123456"),  # La Réunion
    ("02 123 45 67", "BE", "+3221234567"),
    ("0470 12 34 56", "BE", "+32470123456"),
    ("030 1234567", "DE", "+49301234567"),
    ("06 1234 5678", "IT", "+390612345678"),  # Italy keeps its leading 0
    ("020 7946 0958", "GB", "+442079460958"),
    ("(212) 555-0123", "US", "+12125550123"),
    ("1 212 555 0123", "US", "+12125550123"),
    ("022 123 45 67", "CH", "+41221234567"),
])
def test_numbers_typed_in_national_or_international_form_read_as_e164(typed, country, e164):
    assert to_e164(typed, country) == e164


@pytest.mark.parametrize(("typed", "country"), [
    (None, "FR"), ("", "FR"), ("   ", "FR"),
    ("06 12 34 56", "FR"),  # too short for France
    ("06 12 34 56 78 90", "FR"),  # too long
    ("06 12 AB 56 78", "FR"),
    ("+33 6 12 34 56 78 ext 12", "FR"),
    ("+1234", "FR"),
    ("06 12 34 56 78", "ZZ"),  # a country we cannot dial
    ("+", "FR"), ("00", "FR"),
])
def test_what_is_not_a_number_gives_none(typed, country):
    assert to_e164(typed, country) is None


def test_a_tel_link_is_e164_or_the_digits_as_typed():
    assert tel_uri("06 12 34 56 78", "FR") == "tel:+33612345678"
    assert tel_uri("12 34", "FR") == "tel:1234"
    assert tel_uri("<b>06</b>", "FR") == "tel:06"
    assert tel_uri(None) == "tel:"
