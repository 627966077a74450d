"""API tokens in the back office: an admin creates one (its secret shown once), sees when it
was last used, binds it to a partner, revokes it; sales may not."""
from __future__ import annotations

import html
import re
from types import SimpleNamespace

from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken
from app.services.tokens import create_token, hash_secret
from app.tenancy import SYSTEM, tenant_context
from tests.api.conftest import bearer, problem
from tests.backoffice.conftest import audit_events, count_rows, fr, text

SECRET = re.compile(r"rls_[A-Za-z0-9_-]{40,}")


def _new(client, **over):
    data = {"name": "ERP nightly", "scopes": ["read", "import"], **over}
    return client.post("/alpha/admin/tokens/new", data=data)


def _secret(response) -> str:
    secrets = set(SECRET.findall(response.data.decode()))
    assert len(secrets) == 1, secrets
    return secrets.pop()


def _row(response, token: ApiToken) -> str:
    """The visible text of a token's row in the list."""
    page = response.data.decode()
    start = page.index(">", page.index(f'id="token-{token.id}"')) + 1
    return text(SimpleNamespace(data=page[start:page.index("</tr>", start)].encode()))


def _last_use(response, token: ApiToken) -> str:
    page = response.data.decode()
    row = page[page.index(f'id="token-{token.id}"'):]
    return html.unescape(re.search(r'class="last-use">([^<]*)<', row).group(1)).strip()


def csrf_token(response) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.data.decode())
    assert match, "the form carries a CSRF token"
    return match.group(1)


def test_an_admin_creates_a_token_whose_secret_is_shown_once(app, admin_client, admin):
    assert admin_client.get("/alpha/admin/tokens/new").status_code == 200
    response = _new(admin_client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = _secret(response)
    assert fr("Copy this token now: it will not be shown again.") in text(response)
    token = db.session.scalars(select(ApiToken)).one()
    assert token.name == "ERP nightly" and token.scopes == ["read", "import"]
    assert token.token_hash == hash_secret(secret) and token.partner_id is None
    assert token.created_by == admin.email
    # The secret opens the API, and no page shows it again.
    assert bearer(app, secret).get("/api/v1/imports").status_code == 200
    listing = admin_client.get("/alpha/admin/tokens")
    assert secret not in listing.data.decode() and SECRET.search(listing.data.decode()) is None
    assert token.prefix in text(listing) and admin.email in text(listing)
    event = audit_events("api_tokens", token.id)[0]
    assert event.action == "create" and event.actor_kind == "user"
    assert event.actor_id == admin.id and secret not in repr(event.after)


def test_the_list_shows_each_tokens_last_use(app, admin_client, tenant):
    token, secret = create_token("Entrepôt", "read")
    unused, _unused_secret = create_token("Jamais", "read")
    db.session.commit()
    assert _last_use(admin_client.get("/alpha/admin/tokens"), token) == fr("Never")
    assert bearer(app, secret).get("/api/v1/custom-fields").status_code == 200
    listing = admin_client.get("/alpha/admin/tokens")
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4},? \d{2}:\d{2}", _last_use(listing, token)), \
        _last_use(listing, token)
    assert _last_use(listing, unused) == fr("Never")
    assert "Entrepôt" in text(listing) and "read" in _row(listing, token)


def test_revoking_a_token_closes_the_api_to_it(app, admin_client, tenant):
    token, secret = create_token("ERP", "read,import")
    db.session.commit()
    api = bearer(app, secret)
    assert api.get("/api/v1/imports").status_code == 200
    response = admin_client.post(f"/alpha/admin/tokens/{token.id}/revoke")
    assert response.status_code == 302 and response.location.endswith("/alpha/admin/tokens")
    problem(api.get("/api/v1/imports"), 401)
    db.session.expire_all()
    assert token.revoked_at is not None
    listing = admin_client.get("/alpha/admin/tokens")
    assert fr("Revoked on %(when)s", when="") in _row(listing, token)
    assert f"/tokens/{token.id}/revoke" not in listing.data.decode()
    assert [e.action for e in audit_events("api_tokens", token.id)] == ["create", "revoke"]
    # Revoking twice changes nothing.
    assert admin_client.post(f"/alpha/admin/tokens/{token.id}/revoke").status_code == 302
    assert len(audit_events("api_tokens", token.id)) == 2


def test_a_token_bound_to_a_partner_acts_for_it(app, admin_client, make_partner):
    partner = make_partner(name="Agence du Nord")
    response = _new(admin_client, name="Portail agence", scopes=["read"],
                    partner=f"Agence du Nord · #{partner.id}")
    assert response.status_code == 200, text(response)
    secret = _secret(response)
    token = db.session.scalars(select(ApiToken)).one()
    assert token.partner_id == partner.id
    assert "Agence du Nord" in text(response)
    assert "Agence du Nord" in _row(admin_client.get("/alpha/admin/tokens"), token)
    problem(bearer(app, secret).get("/api/v1/imports"), 403)  # tenant-wide resources refused


def test_bad_input_is_refused_on_the_form(admin_client, make_partner):
    response = _new(admin_client, name="", scopes=[])
    assert response.status_code == 422
    page = text(response)
    assert fr("Enter a name of at most 100 characters.") in page
    assert fr("Choose scopes among %(scopes)s.",
              scopes="read, write, import, export, admin") in page
    assert SECRET.search(response.data.decode()) is None
    response = _new(admin_client, partner="Agence inconnue")
    assert response.status_code == 422
    assert fr("Unknown record: choose one from the list.") in text(response)
    assert _new(admin_client, scopes=["read", "root"]).status_code == 422
    assert count_rows(ApiToken) == 0


def test_tokens_are_for_admins_only(app, sales_client, admin_client, tenant):
    token, secret = create_token("ERP", "read,import")
    db.session.commit()
    assert sales_client.get("/alpha/admin/tokens").status_code == 403
    assert sales_client.get("/alpha/admin/tokens/new").status_code == 403
    assert _new(sales_client).status_code == 403
    assert sales_client.post(f"/alpha/admin/tokens/{token.id}/revoke").status_code == 403
    assert count_rows(ApiToken) == 1
    assert bearer(app, secret).get("/api/v1/imports").status_code == 200
    assert "/alpha/admin/tokens" not in sales_client.get("/alpha/").data.decode()
    assert "/alpha/admin/tokens" in admin_client.get("/alpha/").data.decode()


def test_another_tenants_token_cannot_be_revoked(app, admin_client, other_tenant):
    with tenant_context(other_tenant.id, SYSTEM):
        token, secret = create_token("Beta ERP", "read,import")
        db.session.commit()
        token_id = token.id
    assert admin_client.post(f"/alpha/admin/tokens/{token_id}/revoke").status_code == 404
    assert "Beta ERP" not in text(admin_client.get("/alpha/admin/tokens"))
    assert bearer(app, secret).get("/api/v1/imports").status_code == 200


def test_creating_and_revoking_need_the_csrf_token(admin_client, csrf_on, tenant):
    assert _new(admin_client).status_code == 400
    assert count_rows(ApiToken) == 0
    token = csrf_token(admin_client.get("/alpha/admin/tokens/new"))
    response = _new(admin_client, csrf_token=token)
    assert response.status_code == 200 and SECRET.search(response.data.decode())
    created = db.session.scalars(select(ApiToken)).one()
    url = f"/alpha/admin/tokens/{created.id}/revoke"
    assert admin_client.post(url).status_code == 400
    assert count_rows(ApiToken, ApiToken.revoked_at.is_(None)) == 1
    page = admin_client.get("/alpha/admin/tokens")
    assert admin_client.post(url, data={"csrf_token": csrf_token(page)}).status_code == 302
    assert count_rows(ApiToken, ApiToken.revoked_at.is_(None)) == 0
