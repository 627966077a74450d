"""Custom fields: defined by admins in the web UI, used in forms, pages, lists and filters."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import FIELD_TYPES, CustomField, Invoice
from app.services.custom_field_defs import create_field, update_field
from tests.backoffice.conftest import audit_events, count_rows, en, fr, shown_links, text


def _field_form(**over) -> dict:
    return {"entity": "invoices", "key": "promoteur", "label_fr": "Promoteur",
            "label_en": "Developer", "type": "text", "choices": "", "position": "0",
            "is_active": "y", **over}


def test_admin_defines_a_field_of_every_type(admin_client):
    assert admin_client.get("/alpha/admin/custom-fields/new").status_code == 200
    for position, field_type in enumerate(FIELD_TYPES):
        choices = "Standard\nPremium\n" if "choice" in field_type else ""
        response = admin_client.post("/alpha/admin/custom-fields/new", data=_field_form(
            key=f"f_{field_type}", label_fr=f"Champ {field_type}", label_en=f"Field {field_type}",
            type=field_type, choices=choices, position=str(position)))
        assert response.status_code == 302, text(response)
    fields = db.session.scalars(select(CustomField).order_by(CustomField.position)).all()
    assert [f.type for f in fields] == list(FIELD_TYPES)
    assert fields[FIELD_TYPES.index("choice")].choices == ["Standard", "Premium"]
    listing = text(admin_client.get("/alpha/admin/custom-fields"))
    assert "Champ money" in listing and "f_multi_choice" in listing
    assert "Field money" in text(en(admin_client).get("/alpha/admin/custom-fields"))
    assert [e.action for e in audit_events("custom_fields")] == ["create"] * len(FIELD_TYPES)


def test_required_portal_visible_and_position_are_saved(admin_client):
    admin_client.post("/alpha/admin/custom-fields/new", data=_field_form(
        is_required="y", is_portal_visible="y", position="7"))
    field = db.session.scalar(select(CustomField))
    assert (field.is_required, field.is_portal_visible, field.position, field.is_active) == (
        True, True, 7, True)
    row = text(admin_client.get("/alpha/admin/custom-fields"))
    assert "Promoteur" in row and "7" in row


@pytest.mark.parametrize("over, error_field", [
    ({"key": "Promoteur Lyon"}, "key"), ({"key": "1abc"}, "key"),
    ({"key": "k" * 51}, "key"), ({"label_fr": "", "label_en": ""}, "label_fr"),
    ({"label_en": "x" * 101}, "label_en"), ({"type": "choice", "choices": "  \n "}, "choices"),
    ({"type": "blob"}, "type"), ({"entity": "widgets"}, "entity"), ({"position": "deux"}, None),
    ({"position": "99999999999"}, "position"), ({"position": "-99999999999"}, "position"),
])
def test_bad_field_definitions_are_refused(admin_client, over, error_field):
    response = admin_client.post("/alpha/admin/custom-fields/new", data=_field_form(**over))
    assert response.status_code == 200
    assert "is-invalid" in response.data.decode() or "alert-danger" in response.data.decode()
    assert count_rows(CustomField) == 0


def test_a_key_left_empty_is_made_from_the_label(admin_client, make_field):
    make_field("invoices", "date_d_echeance")
    response = admin_client.post("/alpha/admin/custom-fields/new", data=_field_form(
        key="", label_fr="Date d'échéance", label_en="", type="date"))
    assert response.status_code == 302, text(response)
    typed = admin_client.post("/alpha/admin/custom-fields/new", data=_field_form(
        key="echeance", label_fr="Date d'échéance", label_en="", type="date"))
    assert typed.status_code == 302, text(typed)
    keys = db.session.scalars(select(CustomField.key).order_by(CustomField.id)).all()
    assert keys == ["date_d_echeance", "date_d_echeance_2", "echeance"]
    form = admin_client.get("/alpha/admin/custom-fields/new").data.decode()
    assert 'id="key"' in form and "js/app.js" in form


def test_one_label_is_enough_and_shows_in_both_languages(admin_client):
    admin_client.post("/alpha/admin/custom-fields/new", data=_field_form(
        key="", label_fr="Raison d'être", label_en=""))
    assert db.session.scalar(select(CustomField.key)) == "raison_d_etre"
    assert "Raison d'être" in text(en(admin_client).get("/alpha/admin/custom-fields"))


def test_every_mistake_is_reported_on_the_first_submit(admin_client):
    response = admin_client.post("/alpha/admin/custom-fields/new", data=_field_form(
        key="Mauvaise Clé", label_fr="", label_en="", type="choice", choices="",
        position="deux"))
    page = text(response)
    for message in ("Use lowercase letters, digits and _, starting with a letter.",
                    "Enter a label in French or in English (the other one is optional).",
                    "Enter at least one choice, one per line."):
        assert fr(message) in page
    assert page.count(fr("Enter a label in French or in English (the other one is "
                         "optional).")) == 2
    assert response.data.decode().count("is-invalid") >= 5  # key, 2 labels, choices, position
    assert count_rows(CustomField) == 0


def test_an_edit_reports_every_mistake_too(admin_client, make_field):
    field = make_field("invoices", "gamme", type="choice", choices=["A"])
    response = admin_client.post(f"/alpha/admin/custom-fields/{field.id}", data=_field_form(
        label_fr="", label_en="", type="choice", choices="", position="deux"))
    page = text(response)
    assert fr("Enter at least one choice, one per line.") in page
    assert fr("Enter a label in French or in English (the other one is optional).") in page


def test_a_key_is_unique_per_entity(admin_client, make_field):
    make_field("invoices", "promoteur")
    response = admin_client.post("/alpha/admin/custom-fields/new", data=_field_form())
    assert fr("This key is already used for this entity.") in text(response)
    assert admin_client.post("/alpha/admin/custom-fields/new", data=_field_form(
        entity="quotes")).status_code == 302
    assert count_rows(CustomField) == 2


@pytest.fixture
def form_fields(make_field):
    make_field("invoices", "promoteur", label_fr="Promoteur", label_en="Developer",
               is_required=True, position=1)
    make_field("invoices", "etage", type="integer", label_fr="Étage", position=2)
    make_field("invoices", "remise", type="decimal", label_fr="Remise", position=3)
    make_field("invoices", "acompte", type="money", label_fr="Acompte", position=4)
    make_field("invoices", "livraison", type="date", label_fr="Livraison", position=5)
    make_field("invoices", "pose", type="boolean", label_fr="Pose incluse", position=6)
    make_field("invoices", "gamme", type="choice", choices=["Standard", "Premium"],
               label_fr="Gamme", position=7)
    make_field("invoices", "options", type="multi_choice", choices=["motorisé", "éclairage"],
               label_fr="Options", position=8)
    make_field("invoices", "contact_chantier", type="email", label_fr="Contact chantier",
               position=9)
    make_field("invoices", "plan", type="url", label_fr="Plan", position=10)
    make_field("invoices", "notes", type="long_text", label_fr="Notes", position=0)


def _invoice(account_id: int, **custom) -> dict:
    data = {"number": "F-CF-1", "account": f"#{account_id}", "status": "issued",
            "issued_on": "2026-10-10", "cf_promoteur": "Nexity"}
    data.update({f"cf_{k}": v for k, v in custom.items()})
    return data


def test_form_shows_custom_fields_in_their_order(admin_client, form_fields):
    page = admin_client.get("/alpha/invoices/new").data.decode()
    order = [page.index(f'name="cf_{key}"') for key in
             ("notes", "promoteur", "etage", "remise", "acompte", "livraison", "pose", "gamme",
              "options", "contact_chantier", "plan")]
    assert order == sorted(order)
    assert "Promoteur" in text(admin_client.get("/alpha/invoices/new"))
    assert "Developer" in text(en(admin_client).get("/alpha/invoices/new"))


def test_valid_custom_values_are_coerced_and_shown(admin_client, make_account, form_fields):
    account = make_account()
    response = admin_client.post("/alpha/invoices/new", data=_invoice(
        account.id, etage="1 200", remise="2,5", acompte="1 234,5", livraison="15/06/2026",
        pose="y", gamme="premium", options=["motorisé", "éclairage"],
        contact_chantier="chef@chantier.example", plan="https://plans.example/42",
        notes="Accès par la cour"))
    assert response.status_code == 302, text(response)
    invoice = db.session.scalar(select(Invoice))
    assert invoice.custom == {
        "promoteur": "Nexity", "etage": 1200, "remise": "2.5", "acompte": "1234.50",
        "livraison": "2026-06-15", "pose": True, "gamme": "Premium",
        "options": ["motorisé", "éclairage"], "contact_chantier": "chef@chantier.example",
        "plan": "https://plans.example/42", "notes": "Accès par la cour"}
    page = text(admin_client.get(response.location))
    for shown in ("Nexity", "1 200", "2,5", "1 234,50 €", "15/06/2026", "Premium",
                  "motorisé, éclairage", "chef@chantier.example", "Accès par la cour"):
        assert shown in page, shown


@pytest.mark.parametrize("custom, key, message", [
    ({"promoteur": ""}, "promoteur", "This field is required."),
    ({"etage": "trois"}, "etage", "Enter a whole number."),
    ({"etage": "2,5"}, "etage", "Enter a whole number."),
    ({"remise": "1,2,3"}, "remise", "Enter a number, such as 1 234,56."),
    ({"acompte": "beaucoup"}, "acompte", "Enter an amount, such as 1 234,56."),
    ({"livraison": "32/01/2026"}, "livraison", "Enter a date as DD/MM/YYYY."),
    ({"gamme": "Luxe"}, "gamme", None),
    ({"options": ["motorisé", "Wi-Fi"]}, "options", None),
    ({"contact_chantier": "pas un email"}, "contact_chantier", "Enter a valid e-mail address."),
    ({"plan": "javascript:alert(1)"}, "plan",
     "Enter a web address starting with http:// or https://."),
    ({"promoteur": "x" * 256}, "promoteur", None),
    ({"notes": "x" * 10_001}, "notes", None),
])
def test_bad_custom_values_are_refused_on_the_field(admin_client, make_account, form_fields,
                                                    custom, key, message):
    account = make_account()
    data = _invoice(account.id, **custom)
    response = admin_client.post("/alpha/invoices/new", data=data)
    assert response.status_code == 422
    page = response.data.decode()
    assert f'id="cf_{key}' in page
    assert "invalid-feedback" in page or "text-danger" in page
    if message:
        assert fr(message) in text(response)
    assert count_rows(Invoice) == 0


def test_edit_requires_a_required_field_that_is_still_empty(admin_client, make_invoice,
                                                            make_field):
    invoice = make_invoice()
    make_field("invoices", "promoteur", is_required=True)
    response = admin_client.post(f"/alpha/invoices/{invoice.id}/edit", data={
        "number": invoice.number, "account": f"#{invoice.account_id}", "status": "paid"})
    assert response.status_code == 422
    assert fr("This field is required.") in text(response)
    db.session.expire_all()
    assert invoice.status == "issued"


def test_custom_changes_show_in_the_history(admin_client, make_invoice, make_field):
    make_field("invoices", "promoteur")
    invoice = make_invoice(custom={"promoteur": "Nexity"})
    admin_client.post(f"/alpha/invoices/{invoice.id}/edit", data={
        "number": invoice.number, "account": f"#{invoice.account_id}", "status": "issued",
        "issued_on": "2026-10-10", "cf_promoteur": "Bouygues Immobilier"})
    event = audit_events("invoices", invoice.id)[-1]
    assert event.before["custom"] == {"promoteur": "Nexity"}
    assert event.after["custom"] == {"promoteur": "Bouygues Immobilier"}
    page = text(admin_client.get(f"/alpha/invoices/{invoice.id}"))
    assert "Nexity" in page and "Bouygues Immobilier" in page


def test_deactivated_field_is_hidden_but_its_values_are_kept(admin_client, make_invoice,
                                                             make_field):
    field = make_field("invoices", "promoteur", label_fr="Promoteur")
    invoice = make_invoice(number="F-KEEP", custom={"promoteur": "Nexity"})
    response = admin_client.post(f"/alpha/admin/custom-fields/{field.id}", data=_field_form(
        is_active=""))
    assert response.status_code == 302
    for path in (f"/alpha/invoices/{invoice.id}", "/alpha/invoices/",
                 f"/alpha/invoices/{invoice.id}/edit"):
        page = admin_client.get(path).data.decode()
        page = page.split('id="timeline"')[0]  # the history keeps telling what was written
        assert "Nexity" not in page and "Promoteur" not in page, path
    assert 'name="cf_promoteur"' not in admin_client.get("/alpha/invoices/new").data.decode()
    # A filter on the hidden field is ignored rather than emptying the list.
    assert shown_links(admin_client.get("/alpha/invoices/?cf_promoteur=zzz"),
                       "invoices") == ["F-KEEP"]
    db.session.expire_all()
    assert invoice.custom == {"promoteur": "Nexity"}
    assert "Non" in text(admin_client.get("/alpha/admin/custom-fields"))
    admin_client.post(f"/alpha/admin/custom-fields/{field.id}", data=_field_form(is_active="y"))
    assert "Nexity" in text(admin_client.get(f"/alpha/invoices/{invoice.id}"))


def test_type_change_that_values_do_not_fit_is_refused(admin_client, make_invoice, make_field):
    field = make_field("invoices", "etage", label_fr="Étage")
    make_invoice(custom={"etage": "12"})
    make_invoice(custom={"etage": "rez-de-chaussée"})
    page = admin_client.get(f"/alpha/admin/custom-fields/{field.id}").data.decode()
    assert "etage" in page
    response = admin_client.post(f"/alpha/admin/custom-fields/{field.id}", data=_field_form(
        key="etage", label_fr="Étage", type="integer"))
    assert response.status_code == 200
    assert fr("%(count)d existing value(s) do not fit this type or these choices "
              "(for example “%(example)s”). Correct them first.",
              count=1, example="rez-de-chaussée") in text(response)
    db.session.expire_all()
    assert db.session.get(CustomField, field.id).type == "text"
    assert [e.action for e in audit_events("custom_fields", field.id)] == ["create"]


def test_type_change_that_fits_converts_the_values(admin_client, make_invoice, make_field):
    field = make_field("invoices", "etage", label_fr="Étage")
    invoice = make_invoice(custom={"etage": "12"})
    response = admin_client.post(f"/alpha/admin/custom-fields/{field.id}", data=_field_form(
        key="etage", label_fr="Étage", type="integer"))
    assert response.status_code == 302
    db.session.expire_all()
    assert invoice.custom == {"etage": 12}
    event = audit_events("custom_fields", field.id)[-1]
    assert event.before["type"] == "text" and event.after["type"] == "integer"
    history = text(admin_client.get(f"/alpha/admin/custom-fields/{field.id}"))
    assert f"{fr('Text')} → {fr('Whole number')}" in history  # the types' names, not codes


def test_removing_a_choice_still_in_use_is_refused(admin_client, make_invoice, make_field):
    field = make_field("invoices", "gamme", type="choice", choices=["Standard", "Premium"])
    make_invoice(custom={"gamme": "Premium"})
    response = admin_client.post(f"/alpha/admin/custom-fields/{field.id}", data=_field_form(
        key="gamme", type="choice", choices="Standard\nConfort"))
    assert "Premium" in text(response)
    db.session.expire_all()
    assert db.session.get(CustomField, field.id).choices == ["Standard", "Premium"]
    assert admin_client.post(f"/alpha/admin/custom-fields/{field.id}", data=_field_form(
        key="gamme", type="choice", choices="Standard\nPremium\nConfort")).status_code == 302


def test_labels_follow_the_language(admin_client, make_invoice, make_field):
    make_field("invoices", "promoteur", label_fr="Promoteur immobilier", label_en="Developer")
    invoice = make_invoice(custom={"promoteur": "Nexity"})
    assert "Promoteur immobilier" in text(admin_client.get(f"/alpha/invoices/{invoice.id}"))
    english = text(en(admin_client).get(f"/alpha/invoices/{invoice.id}"))
    assert "Developer" in english and "Promoteur immobilier" not in english


def test_custom_fields_admin_is_for_admins_only(sales_client, agent_client, make_field):
    field = make_field("invoices", "promoteur")
    for client in (sales_client, agent_client):
        assert client.get("/alpha/admin/custom-fields").status_code == 403
        assert client.get(f"/alpha/admin/custom-fields/{field.id}").status_code == 403
        assert client.post("/alpha/admin/custom-fields/new",
                           data=_field_form(key="autre")).status_code == 403
    assert count_rows(CustomField) == 1


def test_another_tenants_fields_are_invisible(admin_client, other_tenant, in_tenant):
    field = in_tenant(other_tenant, create_field, {
        "entity": "invoices", "key": "secret_beta", "label_fr": "Secret", "label_en": "Secret",
        "type": "text"})
    assert "secret_beta" not in text(admin_client.get("/alpha/admin/custom-fields"))
    assert admin_client.get(f"/alpha/admin/custom-fields/{field.id}").status_code == 404
    assert 'cf_secret_beta' not in admin_client.get("/alpha/invoices/new").data.decode()


def test_field_service_refuses_conflicting_type_directly(make_invoice, make_field):
    field = make_field("invoices", "pose", type="text")
    make_invoice(custom={"pose": "peut-être"})
    with pytest.raises(ValidationError):
        update_field(field, {"type": "boolean"})
