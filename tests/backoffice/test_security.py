"""CSRF, cookies, security headers, the generated secret key, tenant and record isolation."""
from __future__ import annotations

import re
import stat

import pytest

from app.config import load_config
from app.entities import ENTITIES
from app.extensions import db
from app.models import Invoice, Partner, User
from app.services.records import create_record
from app.services.tenants import create_user
from tests.backoffice.conftest import count_rows, text
from tests.conftest import PASSWORD, login


def _token(response) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.data.decode())
    assert match, "the form carries a CSRF token"
    return match.group(1)


def test_post_without_csrf_token_is_refused_and_writes_nothing(admin_client, csrf_on):
    response = admin_client.post("/alpha/partners/new", data={"name": "Sans jeton"})
    assert response.status_code == 400
    assert count_rows(Partner) == 0


def test_post_with_a_forged_token_is_refused(admin_client, csrf_on):
    response = admin_client.post("/alpha/partners/new",
                                 data={"name": "Faux jeton", "csrf_token": "forged"})
    assert response.status_code == 400
    assert count_rows(Partner) == 0


def test_post_with_the_forms_token_is_accepted(admin_client, csrf_on):
    token = _token(admin_client.get("/alpha/partners/new"))
    response = admin_client.post("/alpha/partners/new",
                                 data={"name": "Avec jeton", "csrf_token": token})
    assert response.status_code == 302
    assert count_rows(Partner) == 1


@pytest.mark.parametrize("path", ["/alpha/admin/users/new", "/alpha/admin/custom-fields/new",
                                  "/alpha/profile", "/alpha/logout"])
def test_every_form_is_protected(admin_client, csrf_on, path):
    users = count_rows(User)
    response = admin_client.post(path, data={"email": "x@alpha.example", "role": "sales",
                                             "password": PASSWORD, "entity": "invoices",
                                             "key": "k", "label_fr": "k", "label_en": "k",
                                             "type": "text", "locale": "en"})
    assert response.status_code == 400
    assert count_rows(User) == users
    assert admin_client.get("/alpha/").status_code == 200  # still logged in after /logout


def test_record_edit_delete_and_upload_are_protected(admin_client, csrf_on, make_invoice):
    invoice = make_invoice()
    assert admin_client.post(f"/alpha/invoices/{invoice.id}/edit",
                             data={"status": "paid"}).status_code == 400
    assert admin_client.post(f"/alpha/invoices/{invoice.id}/delete").status_code == 400
    assert admin_client.post(f"/alpha/invoices/{invoice.id}/attachments",
                             data={}).status_code == 400
    assert count_rows(Invoice, Invoice.status == "issued") == 1


def test_login_form_is_protected(app, make_user, csrf_on):
    user = make_user("sales")
    client = app.test_client()
    response = client.post("/alpha/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/alpha/").status_code == 302
    token = _token(client.get("/alpha/login"))
    response = client.post("/alpha/login", data={"email": user.email, "password": PASSWORD,
                                                 "csrf_token": token})
    assert response.status_code == 302


def test_csrf_refusal_explains_itself(admin_client, csrf_on):
    response = admin_client.post("/alpha/partners/new", data={"name": "x"})
    assert "reload" in text(response) or "recharg" in text(response)


def _session_cookie(response) -> str:
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite_lax(client, make_user):
    user = make_user("sales")
    response = client.post("/alpha/login", data={"email": user.email, "password": PASSWORD})
    cookie = _session_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP (development): a Secure cookie would be lost


def test_session_cookie_is_secure_over_https(client, make_user):
    user = make_user("sales")
    response = client.post("/alpha/login", base_url="https://relais.example",
                           data={"email": user.email, "password": PASSWORD})
    cookie = _session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers.get("Strict-Transport-Security", "").startswith("max-age=")


def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/alpha/login", "/alpha/", "/alpha/invoices/",
                                  "/alpha/lookup/accounts?q=a", "/alpha/invoices/export.csv",
                                  "/alpha/nothing-here/"])
def test_security_headers_on_every_response(admin_client, path):
    response = admin_client.get(path)
    csp = _csp(response)
    scripts = csp.get("script-src", csp.get("default-src"))
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    assert csp["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/alpha/login", "/alpha/", "/alpha/invoices/",
                                  "/alpha/invoices/new", "/alpha/admin/users"])
def test_pages_have_no_inline_script_the_policy_would_block(admin_client, make_invoice, path):
    make_invoice()
    page = admin_client.get(path).data.decode()
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in tag, tag
    assert not re.search(r"\son(click|load|submit|change|input)\s*=", page)
    assert "javascript:" not in page


def test_html_pages_are_not_cached(admin_client):
    assert admin_client.get("/alpha/").headers["Cache-Control"] == "no-store"


def test_secret_key_is_generated_once_and_kept_private(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    instance = tmp_path / "instance"
    first = load_config(instance)
    key_file = instance / "secret_key"
    assert key_file.exists()
    assert len(first["SECRET_KEY"]) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_config(instance)["SECRET_KEY"] == first["SECRET_KEY"]
    assert load_config(tmp_path / "other")["SECRET_KEY"] != first["SECRET_KEY"]


def test_secret_key_from_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert load_config(tmp_path)["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


# Isolation: another tenant's records and records an agent may not see answer 404.

DETAIL_PATHS = ("/alpha/{entity}/{id}", "/alpha/{entity}/{id}/edit")


@pytest.fixture
def beta_invoice(other_tenant, in_tenant, make_account):
    def build():
        account = create_record(ENTITIES["accounts"], {"name": "Client Beta", "kind": "company",
                                                       "country": "FR"})
        return create_record(ENTITIES["invoices"], {"number": "FB1", "account": account.id,
                                                    "status": "issued"})

    invoice = in_tenant(other_tenant, build)
    return invoice.id, invoice.account_id


def test_another_tenants_records_are_404(admin_client, beta_invoice):
    invoice_id, account_id = beta_invoice
    for path in (f"/alpha/invoices/{invoice_id}", f"/alpha/invoices/{invoice_id}/edit",
                 f"/alpha/accounts/{account_id}/360", f"/alpha/accounts/{account_id}/edit"):
        assert admin_client.get(path).status_code == 404, path
    assert admin_client.post(f"/alpha/invoices/{invoice_id}/delete").status_code == 404
    assert admin_client.post(f"/alpha/invoices/{invoice_id}/edit",
                             data={"status": "paid"}).status_code == 404
    assert "FB1" not in text(admin_client.get("/alpha/invoices/?q=FB1"))


def test_another_tenants_account_cannot_be_linked(admin_client, beta_invoice):
    _invoice_id, account_id = beta_invoice
    response = admin_client.post("/alpha/invoices/new", data={
        "number": "FA-LINK", "account": f"#{account_id}", "status": "issued"})
    assert response.status_code == 422
    assert count_rows(Invoice, Invoice.number == "FA-LINK") == 0


def test_other_tenants_users_are_404(admin_client, other_tenant, in_tenant):
    user = in_tenant(other_tenant, create_user, {"email": "b@beta.example", "password": PASSWORD,
                                                 "role": "sales"})
    assert admin_client.get(f"/alpha/admin/users/{user.id}").status_code == 404


BACK_OFFICE_PAGES = ("/alpha/", "/alpha/invoices/", "/alpha/invoices/{invoice}",
                     "/alpha/accounts/{account}/360", "/alpha/invoices/export.csv",
                     "/alpha/attachments/", "/alpha/profile", "/alpha/feeds/")


@pytest.mark.parametrize("role", ["agent", "subscriber"])
def test_the_back_office_refuses_agents_and_subscribers(app, make_user, make_invoice,
                                                        make_account, make_partner, role):
    partner = make_partner()
    own = make_invoice(account=make_account(partner=partner.id).id)
    user = make_user(role, partner_id=partner.id) if role == "agent" \
        else make_user(role, account_id=own.account_id)
    client = login(app.test_client(), user)
    for page in BACK_OFFICE_PAGES:
        answer = client.get(page.format(invoice=own.id, account=own.account_id))
        assert answer.status_code == 403, page
        # A clear page that leads to his own space, and nothing of the record.
        assert "/alpha/portal/" in answer.data.decode() and own.number not in text(answer)
    # Logging out still works from the back office.
    assert client.post("/alpha/logout").status_code == 302


def test_the_extranet_refuses_staff(sales_client):
    answer = sales_client.get("/alpha/portal/")
    assert answer.status_code == 403
    assert 'href="/alpha/"' in answer.data.decode()


def test_agents_and_subscribers_cannot_write(agent_client, make_invoice, make_account):
    own = make_invoice(account=make_account(partner=agent_client.partner.id).id)
    assert agent_client.get("/alpha/invoices/new").status_code == 403
    assert agent_client.post(f"/alpha/invoices/{own.id}/delete").status_code == 403
    assert count_rows(Invoice) == 1


def test_the_sync_margin_is_an_operator_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("API_SYNC_MARGIN_SECONDS", "900")
    assert load_config(tmp_path / "instance")["API_SYNC_MARGIN_SECONDS"] == 900
    monkeypatch.delenv("API_SYNC_MARGIN_SECONDS")
    assert load_config(tmp_path / "instance")["API_SYNC_MARGIN_SECONDS"] == 300


def test_hsts_is_sent_over_https_only(client, tenant):
    secure = client.get("/alpha/login", base_url="https://relais.example")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/alpha/login").headers
    # Without TRUST_PROXY a client's X-Forwarded-Proto is not believed.
    forged = client.get("/alpha/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in forged.headers


def test_hsts_behind_a_trusted_proxy_follows_x_forwarded_proto(app, tenant):
    from app import create_app
    from importers import heartbeat

    proxied = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                          "SECRET_KEY": "proxy", "TRUST_PROXY": True, "TESTING": True,
                          "WEBHOOK_DISPATCH": False, "IMPORT_WATCH": False,
                          # Its first request would start a scheduler that held the lease on
                          # the shared test database for the rest of the run.
                          "JOBS_SCHEDULER": False, "FILES_DIR": app.config["FILES_DIR"]})
    try:
        client = proxied.test_client()
        secure = client.get("/alpha/login", headers={"X-Forwarded-Proto": "https"})
        assert secure.status_code == 200
        assert secure.headers["Strict-Transport-Security"] == \
            "max-age=31536000; includeSubDomains"
        plain = client.get("/alpha/login", headers={"X-Forwarded-Proto": "http"})
        assert "Strict-Transport-Security" not in plain.headers
        # No run watch left behind to recover runs on the shared test database.
        assert not [key for key in heartbeat._watch if key[1] == id(proxied)]
        assert "relais_scheduler" not in proxied.extensions
    finally:
        with proxied.app_context():
            db.engine.dispose()
