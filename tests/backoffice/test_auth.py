"""Logging in and out, redirects after login, rate limits, password storage, login audit."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Role, User
from app.services.tenants import create_user
from tests.backoffice.conftest import audit_events, fr, text
from tests.conftest import PASSWORD, login


def test_login_page_shows_the_tenant(client, tenant):
    response = client.get("/alpha/login")
    assert response.status_code == 200
    assert "Alpha Stores" in text(response)


def test_unknown_tenant_is_404(client, tenant):
    assert client.get("/nobody/login").status_code == 404
    assert client.get("/nobody/invoices/").status_code == 404


def test_login_lands_on_the_dashboard(client, make_user):
    user = make_user("sales")
    response = client.post("/alpha/login", data={"email": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert response.location == "/alpha/"
    assert client.get("/alpha/").status_code == 200


def test_wrong_password_is_refused_with_a_message(client, make_user):
    user = make_user("sales")
    response = client.post("/alpha/login", data={"email": user.email, "password": "wrong-password"})
    assert response.status_code == 200
    assert fr("Wrong e-mail or password.") in text(response)
    assert client.get("/alpha/").status_code == 302


def test_unknown_email_gets_the_same_message(client, tenant):
    response = client.post("/alpha/login", data={"email": "ghost@alpha.example",
                                                 "password": PASSWORD})
    assert fr("Wrong e-mail or password.") in text(response)


def test_empty_login_form_is_a_form_error(client, tenant):
    response = client.post("/alpha/login", data={})
    assert response.status_code == 200
    assert client.get("/alpha/").status_code == 302


def test_inactive_user_cannot_log_in(client, make_user):
    user = make_user("sales", is_active=False)
    response = client.post("/alpha/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert fr("Wrong e-mail or password.") in text(response)


def test_user_of_another_tenant_cannot_log_in_here(app, client, tenant, other_tenant, in_tenant):
    in_tenant(other_tenant, create_user, {"email": "boss@beta.example", "password": PASSWORD,
                                          "role": "admin"})
    response = client.post("/alpha/login", data={"email": "boss@beta.example",
                                                 "password": PASSWORD})
    assert fr("Wrong e-mail or password.") in text(response)


def test_session_of_one_tenant_is_not_valid_on_another(client, make_user, other_tenant):
    login(client, make_user("admin"))
    assert client.get("/alpha/").status_code == 200
    response = client.get("/beta/")
    assert response.status_code == 302
    assert response.location.startswith("/beta/login")


def test_anonymous_is_sent_to_login_then_back(client, make_user):
    response = client.get("/alpha/invoices/?status=paid")
    assert response.status_code == 302
    assert response.location.startswith("/alpha/login?next=")
    user = make_user("sales")
    back = client.post(response.location, data={"email": user.email, "password": PASSWORD})
    assert back.status_code == 302
    assert back.location == "/alpha/invoices/?status=paid"


@pytest.mark.parametrize("target", [
    "//evil.example", "https://evil.example", "http://evil.example/alpha/", "/\\evil.example",
    "\\\\evil.example", "javascript:alert(1)", "/\t/evil.example", "evil.example",
    "/\r\nLocation: http://evil.example/", "/alpha/\n", "/alpha/\x1b[2J",
    "/alpha/\x7f", "/alpha/\x85",
])
def test_next_never_leaves_the_site(client, make_user, target):
    user = make_user("sales")
    response = client.post("/alpha/login", query_string={"next": target},
                           data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.location == "/alpha/"


def test_language_switch_next_refuses_control_characters(client, tenant):
    response = client.get("/alpha/language/en?next=/%0d%0aLocation:%20http://evil.example/")
    assert response.status_code == 302
    assert "evil" not in response.location


def test_language_switch_next_stays_on_the_site(client, tenant):
    response = client.get("/alpha/language/en", query_string={"next": "//evil.example"})
    assert response.status_code == 302
    assert "evil" not in response.location
    response = client.get("/alpha/language/en", query_string={"next": "/alpha/login"})
    assert response.location == "/alpha/login"


def test_logout_ends_the_session_and_is_audited(client, make_user):
    user = make_user("sales")
    login(client, user)
    response = client.post("/alpha/logout")
    assert response.status_code == 302
    assert response.location == "/alpha/login"
    assert fr("You are logged out.") in text(client.get("/alpha/login"))
    assert client.get("/alpha/").status_code == 302
    assert [e.action for e in audit_events("users", user.id)][-1] == "logout"


def test_logout_by_get_does_nothing(client, make_user):
    login(client, make_user("sales"))
    assert client.get("/alpha/logout", follow_redirects=True).status_code in (404, 405)
    assert client.get("/alpha/").status_code == 200


def test_passwords_are_stored_as_argon2_hashes(make_user):
    user = make_user("sales")
    stored = db.session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_logins_and_failures_are_audited(client, make_user):
    user = make_user("sales")
    client.post("/alpha/login", data={"email": user.email, "password": "nope-nope-nope"})
    login(client, user)
    events = audit_events("users", user.id)
    success = [e for e in events if e.action == "login"]
    assert success and success[-1].actor_label == user.email and success[-1].actor_id == user.id
    failed = [e for e in audit_events("users") if e.action == "login_failed"]
    assert failed and failed[-1].after == {"email": user.email}
    db.session.refresh(user)
    assert user.last_login_at is not None


def test_login_events_show_on_the_users_page(admin_client, make_user):
    user = make_user("sales")
    login(admin_client.application.test_client(), user)
    shown = text(admin_client.get(f"/alpha/admin/users/{user.id}"))
    assert fr("Logged in") in shown and user.email in shown


def test_failed_attempts_per_account_are_limited(app, client, make_user):
    user = make_user("sales")
    for _ in range(5):
        response = client.post("/alpha/login", data={"email": user.email,
                                                     "password": "bad-bad-bad"})
        assert response.status_code == 200
    blocked = client.post("/alpha/login", data={"email": user.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"]
    # Another account from the same address is not blocked by this one's failures.
    other = make_user("sales")
    assert client.post("/alpha/login", data={"email": other.email,
                                              "password": PASSWORD}).status_code == 302


def test_the_account_limit_ignores_case_and_spaces(client, make_user):
    user = make_user("sales")
    for variant in (user.email, user.email.upper(), f" {user.email} ", user.email.title(),
                    user.email):
        client.post("/alpha/login", data={"email": variant, "password": "bad-bad-bad"})
    assert client.post("/alpha/login", data={"email": user.email,
                                              "password": PASSWORD}).status_code == 429


def test_successful_logins_do_not_count(app, make_user):
    user = make_user("sales")
    for _ in range(7):
        assert app.test_client().post(
            "/alpha/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def test_failed_attempts_per_address_are_limited(app, client, tenant):
    app.config["LOGIN_RATE_LIMIT_IP"] = "3 per minute"
    try:
        for n in range(3):
            assert client.post("/alpha/login", data={"email": f"u{n}@alpha.example",
                                                     "password": "x"}).status_code == 200
        assert client.post("/alpha/login", data={"email": "u9@alpha.example",
                                                 "password": "x"}).status_code == 429
        # Another address is not blocked.
        assert client.post("/alpha/login", data={"email": "u9@alpha.example", "password": "x"},
                           environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    finally:
        app.config["LOGIN_RATE_LIMIT_IP"] = "30 per minute"


def test_agent_sees_no_admin_pages(agent_client):
    assert agent_client.get("/alpha/admin/users").status_code == 403


def test_sales_user_role_is_shown_on_profile(sales_client):
    shown = text(sales_client.get("/alpha/profile"))
    assert Role.SALES.value in shown
