"""/api/v1/import-profiles: create (validated like every profile), list, get, replace and
patch (each change a new version), versions, ETags, and tenant isolation."""
from __future__ import annotations

import json

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.api.conftest import PARTNERS_PROFILE, problem

ACCOUNTS_PROFILE = {"name": "clients", "entity": "accounts", "mode": "upsert",
                    "columns": {"Code client": "external_ref", "Raison sociale": "name",
                                "Ville": "city"},
                    "delimiter": ";", "encoding": "cp1252"}


def _create(client, definition=PARTNERS_PROFILE):
    response = client.post("/api/v1/import-profiles", json=definition)
    assert response.status_code == 201, response.data
    return response


def test_a_profile_is_created_from_its_json(api_client):
    response = _create(api_client, ACCOUNTS_PROFILE)
    profile = response.get_json()
    assert response.headers["Location"] == f"/api/v1/import-profiles/{profile['id']}"
    assert profile["version"] == 1 and profile["is_active"] is True
    assert {k: profile[k] for k in ACCOUNTS_PROFILE} == ACCOUNTS_PROFILE
    assert profile["key"] == "external_ref" and profile["full_sync"] is False
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "import_profiles")).one()
    assert event.actor_kind == "token"


def test_a_profile_reads_back_with_its_columns_and_value_maps_in_the_order_sent(api_client):
    columns = {"Statut": "status", "N° facture": "number", "Montant TTC": "total",
               "Date": "issued_on", "Divers": ""}
    maps = {"Statut": {"Réglée": "paid", "Annulée": "cancelled", "Émise": "issued"}}
    profile = _create(api_client, {"name": "factures", "entity": "invoices", "key": "number",
                                   "columns": columns, "value_maps": maps}).get_json()
    assert list(profile) [:4] == ["id", "name", "entity", "mode"]  # as the schema gives them
    body = api_client.get(f"/api/v1/import-profiles/{profile['id']}").get_json()
    assert list(body["columns"]) == list(columns)
    assert list(body["value_maps"]["Statut"]) == list(maps["Statut"])
    reordered = dict(reversed(list(columns.items())))
    patched = api_client.patch(f"/api/v1/import-profiles/{profile['id']}",
                               json={"columns": reordered})
    assert patched.status_code == 200, patched.data
    # The same profile (a client may not keep an object's order): nothing saved.
    assert patched.get_json()["version"] == 1
    assert list(patched.get_json()["columns"]) == list(columns)


def test_an_invalid_profile_answers_422_per_field(api_client):
    response = api_client.post("/api/v1/import-profiles", json={
        "name": "clients", "entity": "accounts", "columns": {"Nom": "name", "X": "nowhere"}})
    errors = problem(response, 422)["errors"]
    assert set(errors) == {"columns.X", "key"}
    assert problem(api_client.post("/api/v1/import-profiles", json={
        **PARTNERS_PROFILE, "entity": "attachments"}), 422)["errors"].keys() >= {"entity"}
    assert "mode" in problem(api_client.post("/api/v1/import-profiles", json={
        **PARTNERS_PROFILE, "mode": "merge"}), 422)["errors"]


def test_a_profile_name_is_unique_in_a_tenant(api_client, other_api_client):
    _create(api_client)
    assert "name" in problem(api_client.post("/api/v1/import-profiles",
                                             json=PARTNERS_PROFILE), 422)["errors"]
    _create(other_api_client)  # another tenant may use the same name


def test_profiles_list_by_name_with_cursor_and_entity_filter(api_client):
    for name in ("b-flux", "a-flux", "c-flux"):
        _create(api_client, {**PARTNERS_PROFILE, "name": name})
    _create(api_client, ACCOUNTS_PROFILE)
    first = api_client.get("/api/v1/import-profiles?limit=2&entity=partners")
    assert [p["name"] for p in first.get_json()] == ["a-flux", "b-flux"]
    cursor = json.loads(first.headers["X-Pagination"])["next_cursor"]
    rest = api_client.get(f"/api/v1/import-profiles?limit=2&entity=partners&cursor={cursor}")
    assert [p["name"] for p in rest.get_json()] == ["c-flux"]
    assert len(api_client.get("/api/v1/import-profiles").get_json()) == 4


def test_replacing_or_patching_saves_a_new_version(api_client):
    profile_id = _create(api_client).get_json()["id"]
    url = f"/api/v1/import-profiles/{profile_id}"
    replaced = api_client.put(url, json={**PARTNERS_PROFILE, "mode": "update"})
    assert replaced.status_code == 200, replaced.data
    assert replaced.get_json()["version"] == 2 and replaced.get_json()["mode"] == "update"
    patched = api_client.patch(url, json={"delimiter": ";"})
    assert patched.status_code == 200, patched.data
    body = patched.get_json()
    assert body["version"] == 3 and body["delimiter"] == ";" and body["mode"] == "update"
    assert body["columns"] == PARTNERS_PROFILE["columns"]
    unchanged = api_client.patch(url, json={"delimiter": ";"})
    assert unchanged.get_json()["version"] == 3
    versions = api_client.get(f"{url}/versions").get_json()
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[2]["definition"]["mode"] == "upsert"
    assert versions[0]["created_by"].startswith("api:ERP nightly")


def test_a_stale_etag_answers_412(api_client):
    profile_id = _create(api_client).get_json()["id"]
    url = f"/api/v1/import-profiles/{profile_id}"
    read = api_client.get(url)
    etag = read.headers["ETag"]
    assert api_client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert api_client.patch(url, json={"mode": "insert"},
                            headers={"If-Match": etag}).status_code == 200
    problem(api_client.patch(url, json={"mode": "update"}, headers={"If-Match": etag}), 412)
    assert api_client.get(url).get_json()["mode"] == "insert"


def test_a_patch_is_validated_as_a_whole_profile(api_client):
    profile_id = _create(api_client).get_json()["id"]
    url = f"/api/v1/import-profiles/{profile_id}"
    response = api_client.patch(url, json={"columns": {"Nom": "name"}})
    assert "key" in problem(response, 422)["errors"]
    assert api_client.get(url).get_json()["version"] == 1


def test_another_tenants_profiles_are_invisible(api_client, other_api_client):
    profile_id = _create(api_client).get_json()["id"]
    url = f"/api/v1/import-profiles/{profile_id}"
    problem(other_api_client.get(url), 404)
    problem(other_api_client.put(url, json=PARTNERS_PROFILE), 404)
    problem(other_api_client.patch(url, json={"mode": "insert"}), 404)
    problem(other_api_client.get(f"{url}/versions"), 404)
    assert other_api_client.get("/api/v1/import-profiles").get_json() == []
    assert api_client.get(url).get_json()["version"] == 1


def test_a_nul_character_in_json_is_refused_before_the_database(api_client):
    """PostgreSQL text holds no NUL: such input is a clear 400, never a server error."""
    response = api_client.post("/api/v1/import-profiles", data='{"name": "a\\u0000b"}',
                               content_type="application/json")
    problem(response, 400)


def test_a_profile_may_name_the_worksheet_to_read(api_client):
    profile = _create(api_client, {**ACCOUNTS_PROFILE, "sheet": "Clients"}).get_json()
    assert profile["sheet"] == "Clients"
    url = f"/api/v1/import-profiles/{profile['id']}"
    etag = api_client.get(url).headers["ETag"]
    patched = api_client.patch(url, json={"sheet": None}, headers={"If-Match": etag})
    assert patched.status_code == 200 and "sheet" not in patched.get_json()
    assert "sheet" in problem(api_client.post("/api/v1/import-profiles", json={
        **ACCOUNTS_PROFILE, "name": "trop-long", "sheet": "x" * 32}), 422)["errors"]


def test_a_profile_sent_back_unchanged_keeps_its_etag(api_client):
    made = api_client.post("/api/v1/import-profiles", json=PARTNERS_PROFILE)
    assert made.status_code == 201
    url = f"/api/v1/import-profiles/{made.get_json()['id']}"
    before = api_client.get(url)
    same = {key: before.get_json()[key] for key in PARTNERS_PROFILE}
    again = api_client.put(url, json=same, headers={"If-Match": before.headers["ETag"]})
    assert again.status_code == 200, again.data[:300]
    assert api_client.get(url).headers["ETag"] == before.headers["ETag"]
