"""Failed logins throttled per account and address, per account and per address, on both
login pages together; the owner is not locked out by someone else's failures; lockouts audited."""
from __future__ import annotations

from tests.backoffice.conftest import audit_events, fr, text
from tests.conftest import PASSWORD

ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
OWNER = {"REMOTE_ADDR": "198.51.100.7"}


def _post(client, url, email, password, environ):
    return client.post(url, data={"email": email, "password": password}, environ_base=environ)


def _fail(client, email, environ, times, url="/alpha/login"):
    for _ in range(times):
        assert _post(client, url, email, "bad-bad-bad", environ).status_code == 200


def test_both_login_pages_count_the_same_failures(client, make_user):
    user = make_user("sales")
    _fail(client, user.email, ATTACKER, 5)
    answer = _post(client, "/alpha/portal/login", user.email, PASSWORD, ATTACKER)
    assert answer.status_code == 429
    assert fr("Too many attempts. Wait a minute and try again.") in text(answer)


def test_the_owner_logs_in_from_his_address_while_an_attacker_is_throttled(app, make_user):
    user = make_user("sales")
    attacker = app.test_client()
    _fail(attacker, user.email, ATTACKER, 3)
    _fail(attacker, user.email, ATTACKER, 2, url="/alpha/portal/login")
    assert _post(attacker, "/alpha/login", user.email, PASSWORD, ATTACKER).status_code == 429
    owner = app.test_client()
    assert _post(owner, "/alpha/login", user.email, PASSWORD, OWNER).status_code == 302
    assert owner.get("/alpha/", environ_base=OWNER).status_code == 200


def test_a_throttled_attempt_does_not_check_the_password(app, client, make_user):
    user = make_user("sales")
    _fail(client, user.email, ATTACKER, 5)
    _post(client, "/alpha/login", user.email, PASSWORD, ATTACKER)
    assert [e.action for e in audit_events("users")].count("login") == 0


def test_the_account_ceiling_bounds_a_guess_from_many_addresses(app, client, make_user,
                                                                monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_ACCOUNT_CEILING", "8 per hour")
    user = make_user("sales")
    for n in range(4):
        _fail(client, user.email, {"REMOTE_ADDR": f"203.0.113.{n + 1}"}, 2)
    assert _post(client, "/alpha/login", user.email, "bad-bad-bad",
                 {"REMOTE_ADDR": "203.0.113.99"}).status_code == 429
    # Another account is not concerned.
    other = make_user("sales")
    assert _post(client, "/alpha/login", other.email, PASSWORD,
                 {"REMOTE_ADDR": "203.0.113.99"}).status_code == 302
    limits = [e.after["limit"] for e in audit_events("users", user.id)
              if e.action == "login_throttled"]
    assert limits == ["account"]


def test_a_lockout_is_audited_once_and_shown_to_admins(client, admin_client, make_user):
    user = make_user("sales")
    _fail(client, user.email.upper(), ATTACKER, 5)
    for _ in range(3):
        assert _post(client, "/alpha/login", user.email, "bad", ATTACKER).status_code == 429
    lockouts = [e for e in audit_events("users", user.id) if e.action == "login_throttled"]
    assert len(lockouts) == 1
    assert lockouts[0].after == {"email": user.email.upper(), "ip": ATTACKER["REMOTE_ADDR"],
                                 "limit": "account_address"}
    assert lockouts[0].ip == ATTACKER["REMOTE_ADDR"]
    shown = text(admin_client.get(f"/alpha/admin/users/{user.id}"))
    assert fr("Login attempts throttled") in shown and ATTACKER["REMOTE_ADDR"] in shown


def test_an_unknown_e_mail_is_throttled_like_a_known_one(client, tenant):
    _fail(client, "nobody@alpha.example", ATTACKER, 5)
    assert _post(client, "/alpha/login", "nobody@alpha.example", "x",
                 ATTACKER).status_code == 429
    assert [e.after["limit"] for e in audit_events("users")
            if e.action == "login_throttled"] == ["account_address"]
