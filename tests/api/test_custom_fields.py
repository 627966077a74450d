"""/api/v1/custom-fields: list, get, create and patch definitions, validated as the back office
validates them; scopes, partner tokens, ETags and tenant isolation."""
from __future__ import annotations

import json

from flask_babel import force_locale, gettext
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, CustomField
from tests.api.conftest import bearer, problem

ETAGE = {"entity": "invoices", "key": "etage", "label_fr": "Étage", "label_en": "Floor",
         "type": "text"}


def _create(client, definition=ETAGE):
    response = client.post("/api/v1/custom-fields", json=definition)
    assert response.status_code == 201, response.data
    return response.get_json()


def test_a_field_is_created_with_the_back_offices_defaults(api_client):
    response = api_client.post("/api/v1/custom-fields", json={
        **ETAGE, "key": "gamme", "type": "choice", "choices": ["Standard", "Premium"]})
    assert response.status_code == 201, response.data
    field = response.get_json()
    assert response.headers["Location"] == f"/api/v1/custom-fields/{field['id']}"
    assert {k: field[k] for k in ("entity", "key", "label_fr", "label_en", "type", "choices")} \
        == {**ETAGE, "key": "gamme", "type": "choice", "choices": ["Standard", "Premium"]}
    assert field["is_active"] is True and field["is_required"] is False
    assert field["is_portal_visible"] is False and field["position"] == 0
    assert "tenant_id" not in field
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "custom_fields")).one()
    assert event.action == "create" and event.actor_kind == "token"
    assert event.actor_label.startswith("api:ERP nightly")


def test_an_invalid_field_answers_422_per_field(api_client):
    bad_key = problem(api_client.post("/api/v1/custom-fields", json={**ETAGE, "key": "Étage"}),
                      422)["errors"]
    with force_locale("fr"):
        expected = gettext("Use lowercase letters, digits and _, starting with a letter.")
    assert bad_key == {"key": [expected]}
    no_choices = problem(api_client.post("/api/v1/custom-fields", json={
        **ETAGE, "type": "multi_choice"}), 422)["errors"]
    assert set(no_choices) == {"choices"}
    schema = problem(api_client.post("/api/v1/custom-fields", json={
        "entity": "users", "key": "x", "type": "colour", "label_en": "X"}), 422)["errors"]
    assert set(schema) == {"entity", "type"}
    assert api_client.get("/api/v1/custom-fields").get_json() == []


def test_a_key_left_out_is_made_from_the_label(api_client):
    first = _create(api_client, {"entity": "invoices", "label_fr": "Date d'échéance",
                                 "type": "date"})
    second = _create(api_client, {"entity": "invoices", "key": "", "label_fr": "",
                                  "label_en": "Date d'Échéance", "type": "date"})
    assert (first["key"], second["key"]) == ("date_d_echeance", "date_d_echeance_2")
    assert (first["label_en"], second["label_fr"]) == ("", "")
    no_label = problem(api_client.post("/api/v1/custom-fields", json={
        "entity": "invoices", "type": "text"}), 422)["errors"]
    assert set(no_label) == {"label_fr", "label_en"}


def test_a_key_is_unique_per_entity_and_tenant(api_client, other_api_client):
    _create(api_client)
    errors = problem(api_client.post("/api/v1/custom-fields", json=ETAGE), 422)["errors"]
    assert set(errors) == {"key"}
    _create(api_client, {**ETAGE, "entity": "accounts"})  # another entity may use it
    _create(other_api_client)  # and another tenant


def test_fields_list_by_position_with_entity_filter_and_cursor(api_client):
    for key, position in (("c", 3), ("a", 1), ("b", 2)):
        _create(api_client, {**ETAGE, "key": key, "position": position})
    _create(api_client, {**ETAGE, "entity": "accounts", "key": "surface"})
    first = api_client.get("/api/v1/custom-fields?entity=invoices&limit=2")
    assert first.status_code == 200
    assert [f["key"] for f in first.get_json()] == ["a", "b"]
    cursor = json.loads(first.headers["X-Pagination"])["next_cursor"]
    rest = api_client.get(f"/api/v1/custom-fields?entity=invoices&limit=2&cursor={cursor}")
    assert [f["key"] for f in rest.get_json()] == ["c"]
    assert [f["key"] for f in api_client.get(
        "/api/v1/custom-fields?entity=accounts").get_json()] == ["surface"]
    assert len(api_client.get("/api/v1/custom-fields").get_json()) == 4
    assert "entity" in problem(api_client.get("/api/v1/custom-fields?entity=nope"),
                               422)["errors"]


def test_a_field_is_read_by_id(api_client):
    created = _create(api_client)
    response = api_client.get(f"/api/v1/custom-fields/{created['id']}")
    assert response.status_code == 200 and response.get_json() == created
    assert response.headers["ETag"]
    problem(api_client.get("/api/v1/custom-fields/424242"), 404)


def test_a_patch_changes_only_the_fields_given(api_client):
    field_id = _create(api_client, {**ETAGE, "is_required": True, "position": 4})["id"]
    url = f"/api/v1/custom-fields/{field_id}"
    response = api_client.patch(url, json={"label_en": "Storey", "is_portal_visible": True})
    assert response.status_code == 200, response.data
    body = response.get_json()
    assert body["label_en"] == "Storey" and body["is_portal_visible"] is True
    assert body["label_fr"] == "Étage" and body["is_required"] is True
    assert body["position"] == 4 and body["is_active"] is True
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "custom_fields", AuditEvent.action == "update")).one()
    assert event.actor_kind == "token"
    assert event.before["label_en"] == "Floor" and event.after["label_en"] == "Storey"


def test_a_field_is_deactivated_never_deleted(api_client):
    field_id = _create(api_client)["id"]
    url = f"/api/v1/custom-fields/{field_id}"
    assert api_client.patch(url, json={"is_active": False}).get_json()["is_active"] is False
    problem(api_client.delete(url), 405)
    assert api_client.get(url).get_json()["is_active"] is False
    assert api_client.patch(url, json={"is_active": True}).get_json()["is_active"] is True


def test_entity_and_key_cannot_change(api_client):
    field_id = _create(api_client)["id"]
    url = f"/api/v1/custom-fields/{field_id}"
    errors = problem(api_client.patch(url, json={"key": "niveau", "entity": "accounts"}),
                     422)["errors"]
    assert set(errors) == {"key", "entity"}
    assert set(problem(api_client.patch(url, json={"label_fr": "", "label_en": ""}), 422)[
        "errors"]) == {"label_fr", "label_en"}
    assert api_client.get(url).get_json()["key"] == "etage"


def test_a_type_change_that_values_do_not_fit_is_refused(api_client, make_invoice):
    field_id = _create(api_client)["id"]
    make_invoice(custom={"etage": "12"})
    make_invoice(custom={"etage": "rez-de-chaussée"})
    url = f"/api/v1/custom-fields/{field_id}"
    errors = problem(api_client.patch(url, json={"type": "integer"}), 422)["errors"]
    with force_locale("fr"):
        expected = gettext("%(count)d existing value(s) do not fit this type or these choices "
                           "(for example “%(example)s”). Correct them first.",
                           count=1, example="rez-de-chaussée")
    assert errors == {"type": [expected]}
    assert api_client.get(url).get_json()["type"] == "text"
    assert db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity == "custom_fields")).all() == ["create"]


def test_a_type_change_that_fits_converts_the_values(api_client, make_invoice):
    field_id = _create(api_client)["id"]
    invoice = make_invoice(custom={"etage": "12"})
    response = api_client.patch(f"/api/v1/custom-fields/{field_id}", json={"type": "integer"})
    assert response.status_code == 200, response.data
    db.session.expire_all()
    assert invoice.custom == {"etage": 12}


def test_a_stale_etag_answers_412(api_client):
    field_id = _create(api_client)["id"]
    url = f"/api/v1/custom-fields/{field_id}"
    etag = api_client.get(url).headers["ETag"]
    assert api_client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert api_client.patch(url, json={"position": 2},
                            headers={"If-Match": etag}).status_code == 200
    problem(api_client.patch(url, json={"position": 3}, headers={"If-Match": etag}), 412)
    assert api_client.get(url).get_json()["position"] == 2


def test_reading_needs_read_and_writing_needs_write(app, make_token):
    field_id = _create(bearer(app, make_token(scopes="write,read")[1]))["id"]
    url = f"/api/v1/custom-fields/{field_id}"
    reader = bearer(app, make_token(scopes="read")[1])
    assert reader.get("/api/v1/custom-fields").status_code == 200
    assert reader.get(url).status_code == 200
    refused = reader.post("/api/v1/custom-fields", json={**ETAGE, "key": "autre"})
    problem(refused, 403)
    assert "insufficient_scope" in refused.headers["WWW-Authenticate"]
    problem(reader.patch(url, json={"position": 9}), 403)
    importer = bearer(app, make_token(scopes="import,export")[1])
    problem(importer.get("/api/v1/custom-fields"), 403)
    problem(importer.get(url), 403)
    assert db.session.scalars(select(CustomField.key)).all() == ["etage"]


def test_a_partners_token_is_refused(app, make_token, make_partner, api_client):
    field_id = _create(api_client)["id"]
    partner = make_partner()
    client = bearer(app, make_token(partner_id=partner.id)[1])
    problem(client.get("/api/v1/custom-fields"), 403)
    problem(client.get(f"/api/v1/custom-fields/{field_id}"), 403)
    problem(client.post("/api/v1/custom-fields", json={**ETAGE, "key": "autre"}), 403)
    problem(client.patch(f"/api/v1/custom-fields/{field_id}", json={"position": 9}), 403)


def test_another_tenants_fields_are_invisible(api_client, other_api_client):
    field_id = _create(api_client)["id"]
    url = f"/api/v1/custom-fields/{field_id}"
    problem(other_api_client.get(url), 404)
    problem(other_api_client.patch(url, json={"label_en": "Stolen"}), 404)
    assert other_api_client.get("/api/v1/custom-fields").get_json() == []
    assert api_client.get(url).get_json()["label_en"] == "Floor"


def test_the_document_describes_custom_fields(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {"/api/v1/custom-fields", "/api/v1/custom-fields/{field_id}"} <= set(spec["paths"])
    assert "delete" not in spec["paths"]["/api/v1/custom-fields/{field_id}"]
    schemas = spec["components"]["schemas"]
    assert schemas["CustomField"]["properties"]["id"]["readOnly"] is True
    assert {"id", "entity", "key"}.isdisjoint(
        k for k, v in schemas["CustomFieldUpdate"]["properties"].items()
        if not v.get("readOnly"))
