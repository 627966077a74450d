"""/api/v1/import-profiles: create (validated like every profile), list, get, replace and
patch (each change a new version), versions, ETags, and tenant isolation."""
from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, ImportProfile
from app.services import feeds
from app.tenancy import SYSTEM, tenant_context
from tests.api.conftest import PARTNERS_PROFILE, problem

ACCOUNTS_PROFILE = {"name": "clients", "entity": "accounts", "mode": "upsert",
                    "columns": {"Code client": "external_ref", "Raison sociale": "name",
                                "Ville": "city"},
                    "delimiter": ";", "encoding": "cp1252"}


INVOICES = {"name": "factures", "entity": "invoices", "key": "number",
            "columns": {"N° facture": "number", "Statut": "status", "Date": "issued_on"}}


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


def test_a_name_of_digits_is_a_name_not_another_profiles_id(api_client):
    """Profiles named after a year or a code ("2025", "01") were refused as duplicates of the
    profile with that id, whatever its name."""
    first = _create(api_client).get_json()
    named = api_client.post("/api/v1/import-profiles",
                            json={**PARTNERS_PROFILE, "name": str(first["id"])})
    assert named.status_code == 201, named.get_json()
    second = _create(api_client, {**PARTNERS_PROFILE, "name": "agences"}).get_json()
    renamed = api_client.patch(f"/api/v1/import-profiles/{second['id']}",
                               json={"name": f"0{first['id']}"})
    assert renamed.status_code == 200, renamed.get_json()


def _saved_meanwhile(app, tenant_id, monkeypatch, change):
    """Another request's change, committed after this request read the profile and before
    it writes: run in a thread of its own (its own session), as a second request is."""
    from api import import_profiles as views

    read = views._profile_or_404

    def read_then_another_saves(profile_id):
        profile = read(profile_id)
        thread = threading.Thread(target=_in_other_request,
                                  args=(app, tenant_id, profile_id, change))
        thread.start()
        thread.join(20)
        return profile

    monkeypatch.setattr(views, "_profile_or_404", read_then_another_saves)


def _in_other_request(app, tenant_id, profile_id, change):
    with app.app_context(), tenant_context(tenant_id, SYSTEM):
        change(db.session.get(ImportProfile, profile_id))
        db.session.commit()


def test_a_patch_keeps_a_value_mapping_saved_while_it_ran(app, api_client, tenant, backend,
                                                         monkeypatch):
    """An admin maps "Réglée" → paid while the integrator PATCHes the mode: the PATCH was
    merged with the profile as read before, and the admin's mapping was lost."""
    if backend != "postgresql":
        pytest.skip("two writers at once: SQLite has one at a time")
    created = _create(api_client, INVOICES).get_json()
    _saved_meanwhile(app, tenant.id, monkeypatch, lambda profile: feeds.map_value(
        profile, "Statut", "Réglée", "paid"))
    response = api_client.patch(f"/api/v1/import-profiles/{created['id']}",
                                json={"mode": "update"})
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    profile = db.session.get(ImportProfile, created["id"])
    assert (profile.version, profile.definition["mode"], profile.definition.get(
        "value_maps")) == (3, "update", {"Statut": {"Réglée": "paid"}})


def test_if_match_holds_against_a_change_saved_while_the_request_ran(
        app, api_client, tenant, backend, monkeypatch):
    if backend != "postgresql":
        pytest.skip("two writers at once: SQLite has one at a time")
    created = _create(api_client, INVOICES).get_json()
    url = f"/api/v1/import-profiles/{created['id']}"
    etag = api_client.get(url).headers["ETag"]
    _saved_meanwhile(app, tenant.id, monkeypatch, lambda profile: feeds.update_profile(
        profile, {**profile.definition, "full_sync": True}))
    problem(api_client.put(url, json={**INVOICES, "mode": "update"},
                           headers={"If-Match": etag}), 412)
    db.session.expire_all()
    assert db.session.get(ImportProfile, created["id"]).definition["full_sync"] is True
