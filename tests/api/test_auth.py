"""Bearer authentication, scopes, partner tokens, rate limits and problem+json errors."""
from __future__ import annotations

import pytest

from app.extensions import db
from tests.api.conftest import PARTNERS_PROFILE, bearer, problem, upload


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz"])
def test_no_bearer_token_answers_401_with_a_challenge(client, header):
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/v1/imports", headers=headers)
    body = problem(response, 401)
    assert "Bearer" in body["detail"]
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="Relais API"'


@pytest.mark.parametrize("secret", ["rls_unknown", "not-even-a-token", "rls_" + "x" * 500])
def test_an_unknown_token_answers_401_invalid_token(app, tenant, secret):
    response = bearer(app, secret).get("/api/v1/import-profiles")
    problem(response, 401)
    assert "error=invalid_token" in response.headers["WWW-Authenticate"]


def test_a_back_office_session_does_not_open_the_api(admin_client):
    problem(admin_client.get("/api/v1/imports"), 401)


def test_a_missing_scope_answers_403(app, make_token, partners_profile):
    reader = bearer(app, make_token(scopes="read")[1])
    assert reader.get("/api/v1/imports").status_code == 200
    response = upload(reader)
    body = problem(response, 403)
    assert "import" in body["detail"]
    assert "error=insufficient_scope" in response.headers["WWW-Authenticate"]
    writer = bearer(app, make_token(scopes="write,export")[1])
    problem(writer.get("/api/v1/imports"), 403)
    problem(writer.post("/api/v1/import-profiles", json=PARTNERS_PROFILE), 403)


def test_a_partner_token_cannot_use_imports(app, make_token, make_partner, partners_profile):
    partner = make_partner(name="Agence du Nord")
    client = bearer(app, make_token(scopes="read,import", partner_id=partner.id)[1])
    problem(client.get("/api/v1/imports"), 403)
    problem(upload(client), 403)
    problem(client.get(f"/api/v1/import-profiles/{partners_profile.id}"), 403)


def test_the_rate_limit_is_per_token_with_headers_and_429(app, make_token, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    first, second = bearer(app, make_token()[1]), bearer(app, make_token()[1])
    for remaining in (2, 1, 0):
        response = first.get("/api/v1/imports")
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
    refused = first.get("/api/v1/import-profiles")  # one limit for all of a token's calls
    problem(refused, 429)
    assert int(refused.headers["Retry-After"]) > 0
    assert second.get("/api/v1/imports").status_code == 200


def test_unknown_routes_and_methods_answer_problems(api_client, client):
    problem(api_client.get("/api/v1/nothing-here"), 404)
    problem(client.get("/api/v1/"), 404)
    problem(api_client.get("/api/v1/imports/999999"), 404)
    problem(api_client.get("/api/v1/imports/99999999999"), 404)
    response = api_client.delete("/api/v1/imports")
    problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_other_paths_keep_their_html_error_pages(client):
    response = client.get("/alpha/no/such/page")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_invalid_json_and_fields_answer_400_and_422(api_client):
    broken = api_client.post("/api/v1/import-profiles", data="{not json",
                             content_type="application/json")
    assert "json" in problem(broken, 400)["errors"]
    invalid = api_client.post("/api/v1/import-profiles", json={"name": 3, "columns": "x"})
    errors = problem(invalid, 422)["errors"]
    assert set(errors) == {"name", "entity", "columns"}
    assert all(isinstance(m, list) and m for m in errors.values())


@pytest.mark.parametrize("field", ["id", "tenant_id", "version"])
def test_ids_and_tenant_are_never_loaded(api_client, field):
    response = api_client.post("/api/v1/import-profiles", json={**PARTNERS_PROFILE, field: 7})
    assert field in problem(response, 422)["errors"]


def test_a_body_over_the_limit_answers_413(app, api_client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
    response = api_client.post("/api/v1/import-profiles",
                               json={**PARTNERS_PROFILE, "name": "x" * 2000})
    problem(response, 413)


def test_an_unexpected_error_answers_500_problem_and_rolls_back(
        app, api_client, monkeypatch):
    from api import import_profiles

    def broken(definition):
        raise RuntimeError("boom")

    monkeypatch.setattr(import_profiles, "create_profile", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = api_client.post("/api/v1/import-profiles", json=PARTNERS_PROFILE)
    body = problem(response, 500)
    assert "boom" not in response.get_data(as_text=True) and body["title"]


def test_the_api_needs_no_csrf_token(app, api_client, csrf_on_for_api):
    response = api_client.post("/api/v1/import-profiles", json=PARTNERS_PROFILE)
    assert response.status_code == 201, response.data


@pytest.fixture
def csrf_on_for_api(app):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
        db.session.rollback()
