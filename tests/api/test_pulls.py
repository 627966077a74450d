"""/api/v1/pulls (admin tokens): make a feed fetch its file on a schedule, over SFTP from one
of the tenant's servers or over HTTPS; an address's secrets never answered back; ETags; another
tenant's pulls, feeds and servers out of reach; tokens without the scope refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import FeedPull
from app.services import feeds
from app.services.pulls import set_pull
from app.tenancy import SYSTEM, tenant_context
from tests.api.conftest import bearer, problem

SECRET_URL = "https://erp:s3cret-pw@files.example.com/out/clients.csv?key=Tok3n-42&day=1"
MASKED_URL = "https://erp:***@files.example.com/out/clients.csv?key=***&day=***"


@pytest.fixture
def admin_api(app, make_token):
    return bearer(app, make_token("admin")[1])


def https_pull(profile_id: int, **over):
    return {"profile_id": profile_id, "kind": "https", "url": SECRET_URL,
            "schedule": "0 5 * * *", **over}


def test_an_admin_token_sets_changes_and_stops_a_pull(admin_api, partners_profile):
    created = admin_api.post("/api/v1/pulls", json=https_pull(partners_profile.id))
    assert created.status_code == 201, created.data
    body = created.get_json()
    assert created.headers["Location"].endswith(f"/api/v1/pulls/{body['id']}")
    assert (body["profile"], body["kind"], body["url"], body["is_active"]) == (
        partners_profile.name, "https", MASKED_URL, True)
    assert body["next_run_at"] and body["last_error"] is None
    for answer in (created, admin_api.get("/api/v1/pulls"),
                   admin_api.get(f"/api/v1/pulls/{body['id']}")):
        text = answer.get_data(as_text=True)
        assert "s3cret-pw" not in text and "Tok3n-42" not in text

    # The body sent back as read changes the schedule and keeps the address's secrets.
    changed = admin_api.patch(f"/api/v1/pulls/{body['id']}",
                              json={"url": body["url"], "schedule": "30 6 * * 1-5"})
    assert changed.status_code == 200, changed.data
    assert changed.get_json()["schedule"] == "30 6 * * 1-5"
    db.session.rollback()
    assert db.session.scalar(select(FeedPull.url)) == SECRET_URL

    stopped = admin_api.patch(f"/api/v1/pulls/{body['id']}", json={"is_active": False})
    assert stopped.get_json()["next_run_at"] is None
    assert admin_api.get(f"/api/v1/pulls?profile_id={partners_profile.id}").get_json()[0][
        "id"] == body["id"]
    assert admin_api.get(f"/api/v1/pulls?profile_id={partners_profile.id + 1}").get_json() == []
    assert admin_api.delete(f"/api/v1/pulls/{body['id']}").status_code == 204
    assert problem(admin_api.get(f"/api/v1/pulls/{body['id']}"), 404)


def test_mistakes_answer_422_naming_their_field(admin_api, partners_profile):
    url = "/api/v1/pulls"
    assert "url" in problem(admin_api.post(
        url, json=https_pull(partners_profile.id, url="ftp://files.example.com/x.csv")),
        422)["errors"]
    assert "schedule" in problem(admin_api.post(
        url, json=https_pull(partners_profile.id, schedule="tous les soirs")), 422)["errors"]
    assert "sftp_server_id" in problem(admin_api.post(url, json={
        "profile_id": partners_profile.id, "kind": "sftp", "sftp_server_id": 999_999,
        "path": "out/x.csv", "schedule": "0 5 * * *"}), 422)["errors"]
    assert "profile_id" in problem(admin_api.post(
        url, json=https_pull(partners_profile.id + 1000)), 422)["errors"]
    assert admin_api.post(url, json=https_pull(partners_profile.id)).status_code == 201
    assert "profile_id" in problem(admin_api.post(
        url, json=https_pull(partners_profile.id)), 422)["errors"]  # one pull per feed


def test_an_sftp_pull_uses_a_server_whose_host_key_is_pinned(admin_api, partners_profile, sshd):
    server = admin_api.post("/api/v1/sftp-servers", json={
        "name": "erp", "host": "127.0.0.1", "port": sshd.port, "username": sshd.username,
        "private_key": sshd.client_key}).get_json()
    created = admin_api.post("/api/v1/pulls", json={
        "profile_id": partners_profile.id, "kind": "sftp", "sftp_server_id": server["id"],
        "path": "out/partners.csv", "schedule": "0 5 * * *"})
    assert created.status_code == 201, created.data
    body = created.get_json()
    assert (body["sftp_server_id"], body["path"], body["url"]) == (
        server["id"], "out/partners.csv", None)
    assert sshd.client_key.split("\n")[1] not in created.get_data(as_text=True)
    # Over to HTTPS: the server and path go.
    changed = admin_api.patch(f"/api/v1/pulls/{body['id']}",
                              json={"kind": "https", "url": "https://files.example.com/p.csv"})
    assert changed.status_code == 200, changed.data
    assert (changed.get_json()["sftp_server_id"], changed.get_json()["path"]) == (None, None)


def test_etags_guard_a_pull_against_lost_changes(admin_api, partners_profile):
    pull = admin_api.post("/api/v1/pulls", json=https_pull(partners_profile.id)).get_json()
    url = f"/api/v1/pulls/{pull['id']}"
    read = admin_api.get(url)
    etag = read.headers["ETag"]
    assert admin_api.get(url, headers={"If-None-Match": etag}).status_code == 304
    listed = admin_api.get("/api/v1/pulls")
    assert admin_api.get("/api/v1/pulls",
                         headers={"If-None-Match": listed.headers["ETag"]}).status_code == 304
    first = admin_api.patch(url, json={"schedule": "0 6 * * *"}, headers={"If-Match": etag})
    assert first.status_code == 200 and first.headers["ETag"] != etag
    problem(admin_api.patch(url, json={"schedule": "0 7 * * *"}, headers={"If-Match": etag}),
            412)
    problem(admin_api.delete(url, headers={"If-Match": etag}), 412)
    assert admin_api.get(url).get_json()["schedule"] == "0 6 * * *"
    assert admin_api.delete(url, headers={"If-Match": first.headers["ETag"]}).status_code == 204


def test_another_tenants_pull_and_feed_are_out_of_reach(admin_api, other_tenant):
    with tenant_context(other_tenant.id, SYSTEM):
        profile = feeds.create_profile({"name": "beta-feed", "entity": "partners",
                                        "columns": {"Code": "external_ref", "Nom": "name"}})
        pull = set_pull(profile, https_pull(profile.id))
        db.session.commit()
        pull_id, profile_id = pull.id, profile.id
    url = f"/api/v1/pulls/{pull_id}"
    problem(admin_api.get(url), 404)
    problem(admin_api.patch(url, json={"is_active": False}), 404)
    problem(admin_api.delete(url), 404)
    assert admin_api.get("/api/v1/pulls").get_json() == []
    assert "profile_id" in problem(admin_api.post("/api/v1/pulls", json=https_pull(profile_id)),
                                   422)["errors"]


def test_pulls_need_a_tenant_wide_admin_token(app, make_token, make_partner, partners_profile):
    reader = bearer(app, make_token("read,write,import,export")[1])
    problem(reader.get("/api/v1/pulls"), 403)
    problem(reader.post("/api/v1/pulls", json=https_pull(partners_profile.id)), 403)
    partner = bearer(app, make_token("admin", partner_id=make_partner().id)[1])
    problem(partner.get("/api/v1/pulls"), 403)


def test_the_openapi_document_describes_pulls(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert set(spec["paths"]["/api/v1/pulls/{pull_id}"]) >= {"get", "patch", "delete"}
    assert set(spec["paths"]["/api/v1/pulls"]) >= {"get", "post"}
    pull = spec["components"]["schemas"]["Pull"]["properties"]
    assert pull["url"]["description"].startswith("An https:// address")
