"""The details of a subscription, checked by the service whole: what is kept, in which form,
and every error at once by field, in the customer's language."""
from __future__ import annotations

import pytest

from app.errors import ValidationError
from app.services.custom_field_defs import create_field
from app.services.offers import update_offer
from app.services.subscriptions import clean_details
from tests.backoffice.conftest import fr
from tests.selling.subscribe_support import selling

BASE = {"first_name": "  Hélène ", "last_name": "Dupré", "street": "Avenue  des  Châtaigniers",
        "building_number": "4 bis", "postal_code": "69003", "town": "Lyon", "country": "fr",
        "email": "Helene@Example.COM", "phone": "06 12 34 56 78",
        "iban": "fr76 3000-6000 0112 3456 7890 189", "bic": "",
        "custom": {"plaque": "AB-123-CD"}}


def test_values_are_kept_in_their_canonical_form(tenant):
    offer = selling()
    clean = clean_details(offer, BASE)
    assert clean["first_name"] == "Hélène" and clean["street"] == "Avenue des Châtaigniers"
    assert clean["country"] == "FR" and clean["phone"] == "+33612345678"
    assert clean["email"] == "Helene@example.com"  # the domain is case-blind, not the user
    assert clean["iban"] == "FR7630006000011234567890189" and clean["bic"] == "AGRIFRPPXXX"
    assert clean["custom"] == {"plaque": "AB-123-CD"}


@pytest.mark.parametrize(("over", "field", "message"), [
    ({"street": "x" * 71}, "street", ("Use at most %(n)d characters.", {"n": 70})),
    ({"town": "x" * 36}, "town", ("Use at most %(n)d characters.", {"n": 35})),
    ({"building_number": "x" * 17}, "building_number",
     ("Use at most %(n)d characters.", {"n": 16})),
    ({"postal_code": " "}, "postal_code", ("This field is required.", {})),
    ({"country": "France"}, "country", ("Enter a country code such as FR, BE or DE.", {})),
    ({"email": ""}, "email", ("This field is required.", {})),
    ({"phone": "+1"}, "phone", ("Enter a phone number, such as +33 6 12 34 56 78.", {})),
    ({"iban": ""}, "iban", ("Enter an IBAN.", {})),
    ({"iban": "XX00123"}, "iban", ("This IBAN does not start with a known country code.", {})),
    ({"bic": "NOTABIC"}, "bic",
     ("A BIC has 8 or 11 letters and digits (e.g. BNPAFRPPXXX).", {})),
    ({"custom": {}}, "custom.plaque", ("This field is required.", {})),
])
def test_each_mistake_is_named_on_its_field(tenant, over, field, message):
    offer = selling()
    with pytest.raises(ValidationError) as refused:
        clean_details(offer, {**BASE, **over})
    text, values = message
    assert refused.value.errors == {field: fr(text, **values)}


def test_every_error_at_once_and_only_the_collected_fields(tenant):
    offer = selling()
    create_field({"entity": "accounts", "key": "secret", "label_fr": "Secret",
                  "label_en": "Secret", "type": "text"})
    create_field({"entity": "accounts", "key": "options", "label_fr": "Options",
                  "label_en": "Options", "type": "multi_choice", "choices": ["a", "b"]})
    update_offer(offer, {"collected_fields": ["plaque", "options"]})
    with pytest.raises(ValidationError) as refused:
        clean_details(offer, {"custom": {"options": ["a", "z"]}})
    assert set(refused.value.errors) == {"last_name", "street", "postal_code", "town", "email",
                                         "iban", "custom.plaque", "custom.options"}
    # A field the offer does not collect is not taken from the form.
    clean = clean_details(offer, {**BASE, "custom": {"plaque": "X", "options": ["b"],
                                                      "secret": "nope"}})
    assert clean["custom"] == {"plaque": "X", "options": ["b"]}
