"""Custom fields: coercion of typed values (French and English input), validation of a
record's values, and the admin's changes to definitions (app/services/custom_field_defs.py)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask_babel import force_locale

from app import models as m
from app.custom_fields import CustomValueError, coerce_value, definitions, validate_custom
from app.errors import ValidationError
from app.extensions import db
from app.models import FIELD_TYPES
from app.services.custom_field_defs import create_field, update_field
from app.services.records import update_record
from app.tenancy import all_tenants_unsafe

COLOURS = ["Rouge", "Vert", "Bleu"]

GOOD = [
    ("text", "  Bonjour le monde  ", "Bonjour le monde"),
    ("text", "Société Générale — 東京", "Société Générale — 東京"),
    ("text", 12, "12"),
    ("text", "x" * 255, "x" * 255),
    ("long_text", "ligne 1\nligne 2", "ligne 1\nligne 2"),
    ("long_text", "y" * 10_000, "y" * 10_000),
    ("integer", "42", 42),
    ("integer", "1 234", 1234),
    ("integer", "1\u202f000", 1000),
    ("integer", "-12", -12),
    ("integer", 7, 7),
    ("integer", 10 ** 18 - 1, 10 ** 18 - 1),
    ("integer", "-" + "9" * 18, -(10 ** 18 - 1)),
    ("decimal", "1 234,56", "1234.56"),
    ("decimal", "1.234,56", "1234.56"),
    ("decimal", "1,234.56", "1234.56"),
    ("decimal", "-0,5", "-0.5"),
    ("decimal", "2.50", "2.5"),
    ("decimal", "100", "100"),
    ("decimal", Decimal("0.1") + Decimal("0.2"), "0.3"),
    ("decimal", "0," + "0" * 19 + "1", "0." + "0" * 19 + "1"),
    ("decimal", "1,5" + "0" * 40, "1.5"),
    ("money", "1 234,56", "1234.56"),
    ("money", "12", "12.00"),
    ("money", "0,1", "0.10"),
    ("money", "12,50 €", "12.50"),
    ("money", "1 234,567", "1234.57"),
    ("date", "31/12/2025", "2025-12-31"),
    ("date", "2025-12-31", "2025-12-31"),
    ("date", "31.12.2025", "2025-12-31"),
    ("date", "31/12/25", "2025-12-31"),
    ("date", date(2025, 12, 31), "2025-12-31"),
    ("date", datetime(2025, 12, 31, 23, 59), "2025-12-31"),
    ("date", "29/02/2028", "2028-02-29"),
    ("boolean", "oui", True),
    ("boolean", "Oui", True),
    ("boolean", "x", True),
    ("boolean", "vrai", True),
    ("boolean", "1", True),
    ("boolean", True, True),
    ("boolean", "non", False),
    ("boolean", "NON", False),
    ("boolean", "faux", False),
    ("boolean", "0", False),
    ("boolean", False, False),
    ("choice", "rouge", "Rouge"),
    ("choice", "  VERT ", "Vert"),
    ("choice", "Bleu", "Bleu"),
    ("multi_choice", "rouge;VERT", ["Rouge", "Vert"]),
    ("multi_choice", "Bleu, rouge", ["Bleu", "Rouge"]),
    ("multi_choice", "Vert|vert|VERT", ["Vert"]),
    ("multi_choice", ["bleu", "Rouge"], ["Bleu", "Rouge"]),
    ("multi_choice", "rouge;;", ["Rouge"]),
    ("email", " Claire.Martin@Example.FR ", "Claire.Martin@example.fr"),
    ("email", "jean-luc@société.fr", "jean-luc@société.fr"),
    ("url", "https://www.example.fr/page?x=1#top", "https://www.example.fr/page?x=1#top"),
    ("url", "http://localhost:5000/", "http://localhost:5000/"),
]

BAD = [
    ("text", "x" * 256, "At most 255 characters."),
    ("text", True, "This value is not valid."),
    ("text", ["a"], "This value is not valid."),
    ("text", {"a": 1}, "This value is not valid."),
    ("long_text", "y" * 10_001, "At most 10000 characters."),
    ("integer", "abc", "Enter a whole number."),
    ("integer", "12,5", "Enter a whole number."),
    ("integer", "1.5", "Enter a whole number."),
    ("integer", "1e3", "Enter a whole number."),
    ("integer", True, "Enter a whole number."),
    ("integer", "9" * 19, "The number is too large."),
    ("integer", 10 ** 18, "The number is too large."),
    ("integer", -(10 ** 4299), "The number is too large."),
    ("decimal", "abc", "Enter a number, such as 1 234,56."),
    ("decimal", "1,2,3", "Enter a number, such as 1 234,56."),
    ("decimal", "NaN", "Enter a number, such as 1 234,56."),
    ("decimal", "1e5", "Enter a number, such as 1 234,56."),
    ("decimal", True, "Enter a number, such as 1 234,56."),
    ("decimal", "1000000000000000", "The number is too large."),
    ("decimal", "0," + "0" * 20 + "1", "At most 20 digits after the decimal point."),
    ("decimal", 5e-324, "At most 20 digits after the decimal point."),
    ("money", "douze euros", "Enter an amount, such as 1 234,56."),
    ("money", "Infinity", "Enter an amount, such as 1 234,56."),
    ("date", "31/02/2025", "Enter a date as DD/MM/YYYY."),
    ("date", "2025-13-01", "Enter a date as DD/MM/YYYY."),
    ("date", "12/31/2025", "Enter a date as DD/MM/YYYY."),
    ("date", "demain", "Enter a date as DD/MM/YYYY."),
    ("boolean", "peut-être", "Enter yes or no."),
    ("boolean", "2", "Enter yes or no."),
    ("choice", "Jaune", "“Jaune” is not one of the choices."),
    ("choice", "Rouge;Vert", "“Rouge;Vert” is not one of the choices."),
    ("multi_choice", "Rouge;Jaune", "“Jaune” is not one of the choices."),
    ("email", "pas un email", "Enter a valid e-mail address."),
    ("email", "claire@", "Enter a valid e-mail address."),
    ("email", "claire@localhost", "Enter a valid e-mail address."),
    ("url", "example.fr", "Enter a web address starting with http:// or https://."),
    ("url", "ftp://example.fr/file", "Enter a web address starting with http:// or https://."),
    ("url", "javascript:alert(1)", "Enter a web address starting with http:// or https://."),
    ("url", "https://", "Enter a web address starting with http:// or https://."),
    ("url", "https://example.fr/" + "a" * 2000, "At most 2000 characters."),
]


def test_the_cases_cover_every_field_type():
    assert {t for t, _raw, _value in GOOD} == set(FIELD_TYPES)
    assert {t for t, _raw, _message in BAD} == set(FIELD_TYPES)


@pytest.mark.parametrize(("field_type", "raw", "expected"), GOOD,
                         ids=[f"{t}-{str(r)[:20]!r}" for t, r, _v in GOOD])
def test_coerce_accepts_good_values(field_type: str, raw: Any, expected: Any):
    value = coerce_value(field_type, raw, COLOURS)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(("field_type", "raw", "message"), BAD,
                         ids=[f"{t}-{str(r)[:20]!r}" for t, r, _m in BAD])
def test_coerce_refuses_bad_values_with_a_clear_message(field_type: str, raw: Any, message: str):
    with pytest.raises(CustomValueError) as refused:
        coerce_value(field_type, raw, COLOURS)
    assert str(refused.value) == message


@pytest.mark.parametrize("field_type", FIELD_TYPES)
def test_empty_values_are_none_for_every_type(field_type: str):
    for raw in (None, "", "   ", []):
        assert coerce_value(field_type, raw, COLOURS) is None
    if field_type == "multi_choice":
        assert coerce_value(field_type, " ; ", COLOURS) is None


# --- definitions and record values ----------------------------------------------------------

@pytest.fixture
def make_field(tenant: m.Tenant) -> Callable[..., m.CustomField]:
    def make(key: str, entity: str = "accounts", **over: Any) -> m.CustomField:
        field = create_field({"entity": entity, "key": key, "label_fr": f"{key} (fr)",
                              "label_en": f"{key} (en)", "type": "text", **over})
        db.session.commit()
        return field

    return make


def _refused(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as refused, force_locale("en"):
        fn(*args, **kwargs)
    db.session.rollback()
    return refused.value.errors


def test_validate_custom_checks_keys_requirements_and_keeps_what_it_must(
        make_field: Callable[..., m.CustomField]):
    make_field("promoteur")
    make_field("surface", type="integer", is_required=True)
    make_field("segment", type="choice", choices=COLOURS)
    old = make_field("ancien_code")
    update_field(old, {"is_active": False})
    db.session.commit()
    stored = {"promoteur": "Nexity", "surface": 80, "ancien_code": "A-12"}

    result = validate_custom("accounts", {"surface": "1 200", "segment": "vert"}, stored)
    assert result == {"surface": 1200, "segment": "Vert", "ancien_code": "A-12"}

    errors = _refused(validate_custom, "accounts", {"inconnu": "x", "surface": "12"}, stored)
    assert set(errors) == {"custom.inconnu"} and "inconnu" in errors["custom.inconnu"]
    errors = _refused(validate_custom, "accounts", {"promoteur": "Kaufman"}, stored)
    assert errors == {"custom.surface": "This field is required."}
    errors = _refused(validate_custom, "accounts", {"surface": "douze", "segment": "Jaune"}, {})
    assert errors == {"custom.surface": "Enter a whole number.",
                      "custom.segment": "“Jaune” is not one of the choices."}

    # An inactive field keeps its stored value and cannot be changed.
    kept = validate_custom("accounts", {"ancien_code": "B-99", "surface": 3}, stored)
    assert kept["ancien_code"] == "A-12"
    assert validate_custom("accounts", {"surface": 3}, {}) == {"surface": 3}

    # A partial update (API PATCH, import of some columns) keeps the other values.
    partial = validate_custom("accounts", {"promoteur": "Kaufman"}, stored, partial=True)
    assert partial == {**stored, "promoteur": "Kaufman"}
    cleared = validate_custom("accounts", {"promoteur": ""}, stored, partial=True)
    assert cleared == {"surface": 80, "ancien_code": "A-12"}


def test_record_services_apply_custom_values(make_field: Callable[..., m.CustomField],
                                             make_account: Callable[..., Any]):
    make_field("promoteur")
    make_field("signe_le", type="date")
    account = make_account(custom={"promoteur": " Nexity ", "signe_le": "31/12/2025"})
    assert account.custom == {"promoteur": "Nexity", "signe_le": "2025-12-31"}
    update_record(account, {"custom": {"signe_le": "2026-01-15"}})
    db.session.commit()
    account_id = account.id
    db.session.expunge_all()
    account = db.session.get(m.Account, account_id)
    assert account.custom == {"promoteur": "Nexity", "signe_le": "2026-01-15"}
    errors = _refused(update_record, account, {"custom": {"signe_le": "31/02/2026"}})
    assert errors == {"custom.signe_le": "Enter a date as DD/MM/YYYY."}


def test_creating_fields_refuses_bad_keys_duplicates_and_choices_without_choices(
        make_field: Callable[..., m.CustomField], other_tenant: m.Tenant,
        in_tenant: Callable[..., Any]):
    make_field("promoteur")

    def attempt(**over: Any) -> dict[str, str]:
        data = {"entity": "accounts", "key": "nouveau", "label_fr": "Nouveau",
                "label_en": "New", "type": "text", **over}
        return _refused(create_field, data)

    for key in ("Promoteur", "1code", "code-client", "code client", "é", "a" * 51):
        assert set(attempt(key=key)) == {"key"}, key
    assert attempt(key="promoteur") == {"key": "This key is already used for this entity."}
    for field_type in ("choice", "multi_choice"):
        assert attempt(type=field_type, choices=[]) == {
            "choices": "Enter at least one choice, one per line."}
        assert attempt(type=field_type, choices="\n  \n") == {
            "choices": "Enter at least one choice, one per line."}
    assert set(attempt(type="colour")) == {"type"}
    assert set(attempt(entity="tickets")) == {"entity"}
    assert set(attempt(label_fr="", label_en=" ")) == {"label_fr", "label_en"}

    # The same key is free on another entity and in another tenant.
    make_field("promoteur", entity="invoices")
    choice = make_field("gamme", type="choice", choices="Confort\nPrestige\n Confort ")
    assert choice.choices == ["Confort", "Prestige"]
    in_tenant(other_tenant, create_field, {"entity": "accounts", "key": "promoteur",
                                           "label_fr": "P", "label_en": "P", "type": "text"})
    assert [f.key for f in definitions("accounts")] == ["promoteur", "gamme"]
    with all_tenants_unsafe("tests"):
        assert db.session.query(m.CustomField).filter_by(key="promoteur").count() == 3


def test_changing_a_type_is_refused_until_stored_values_fit_then_converts_them(
        make_field: Callable[..., m.CustomField], make_account: Callable[..., Any]):
    field_id = make_field("surface").id
    twelve, words, empty = (make_account(custom={"surface": "12"}).id,
                            make_account(custom={"surface": "abc"}).id, make_account().id)
    field = db.session.get(m.CustomField, field_id)

    errors = _refused(update_field, field, {"type": "integer"})
    assert set(errors) == {"type"}
    assert "1 existing value(s)" in errors["type"] and "“abc”" in errors["type"]
    db.session.expunge_all()
    field = db.session.get(m.CustomField, field_id)
    assert field.type == "text"
    assert db.session.get(m.Account, twelve).custom == {"surface": "12"}

    update_record(db.session.get(m.Account, words), {"custom": {"surface": "1 500"}})
    update_field(field, {"type": "integer"})
    db.session.commit()
    db.session.expunge_all()
    assert db.session.get(m.CustomField, field_id).type == "integer"
    assert db.session.get(m.Account, twelve).custom == {"surface": 12}
    assert db.session.get(m.Account, words).custom == {"surface": 1500}
    assert db.session.get(m.Account, empty).custom == {}


def test_changing_choices_is_refused_while_a_stored_value_is_not_among_them(
        make_field: Callable[..., m.CustomField], make_account: Callable[..., Any]):
    field = make_field("segment", type="choice", choices=COLOURS)
    account = make_account(custom={"segment": "bleu"})
    assert account.custom == {"segment": "Bleu"}
    errors = _refused(update_field, db.session.get(m.CustomField, field.id),
                      {"choices": ["Rouge", "Vert"]})
    assert "“Bleu”" in errors["type"]
    update_field(db.session.get(m.CustomField, field.id), {"choices": ["Rouge", "Bleu", "Noir"]})
    db.session.commit()
    assert db.session.get(m.CustomField, field.id).choices == ["Rouge", "Bleu", "Noir"]


def test_deactivating_a_field_keeps_its_values(make_field: Callable[..., m.CustomField],
                                               make_account: Callable[..., Any]):
    field = make_field("promoteur", is_required=True)
    account = make_account(custom={"promoteur": "Nexity"})
    update_field(field, {"is_active": False})
    db.session.commit()
    assert definitions("accounts") == []
    assert [f.key for f in definitions("accounts", active_only=False)] == ["promoteur"]

    # Saving the record without the (inactive, required) field keeps its value.
    update_record(account, {"city": "Lille", "custom": {}}, partial=False)
    db.session.commit()
    account_id, field_id = account.id, field.id
    db.session.expunge_all()
    account = db.session.get(m.Account, account_id)
    assert account.city == "Lille" and account.custom == {"promoteur": "Nexity"}

    field = db.session.get(m.CustomField, field_id)
    update_field(field, {"is_active": True})
    db.session.commit()
    assert [f.key for f in definitions("accounts")] == ["promoteur"]
    assert db.session.get(m.Account, account.id).custom == {"promoteur": "Nexity"}
