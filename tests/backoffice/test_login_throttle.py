"""Failed logins throttled per account and address, per account and per address, on both
login pages together; the owner is not locked out by someone else's failures; lockouts audited."""
from __future__ import annotations

import threading
import time

from flask_babel import force_locale, ngettext

from app.extensions import db
from app.login_throttle import address_key
from app.services import tenants
from tests.backoffice.conftest import SPACES, audit_events, fr, text
from tests.conftest import PASSWORD

ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
OWNER = {"REMOTE_ADDR": "198.51.100.7"}


def _try_again_in(minutes: int) -> str:
    with force_locale("fr"):
        return ngettext("Too many attempts. Try again in %(num)d minute.",
                        "Too many attempts. Try again in %(num)d minutes.", minutes
                        ).translate(SPACES)


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
    assert _try_again_in(1) in text(answer)


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


def test_requests_sent_at_once_get_no_more_password_checks_than_the_limit(app, make_user,
                                                                         monkeypatch):
    # Each password check waits until every request has either reached a check or been
    # refused, so all of them are in flight together.
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_ACCOUNT_CEILING", "8 per hour")
    email = make_user("sales").email
    checked, refused, release = [], [], threading.Event()
    real_check = tenants.verify_password

    def check_once_all_are_in(found, password):
        checked.append(password)
        release.wait(timeout=10)
        return real_check(found, password)

    def guess() -> None:
        answer = _post(app.test_client(), "/alpha/login", email, "bad-bad-bad", ATTACKER)
        if answer.status_code == 429:
            refused.append(answer)

    monkeypatch.setattr(tenants, "verify_password", check_once_all_are_in)
    guesses = [threading.Thread(target=guess) for _ in range(12)]
    for thread in guesses:
        thread.start()
    deadline = time.monotonic() + 10
    while len(checked) + len(refused) < len(guesses) and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for thread in guesses:
        thread.join(timeout=20)
    assert len(checked) == 5 and len(refused) == 7
    # Those guesses were counted once: the account's ceiling (8) is not reached from one
    # address, so the owner still logs in from his.
    assert _post(app.test_client(), "/alpha/login", email, PASSWORD, OWNER).status_code == 302


def test_successful_logins_do_not_use_up_the_limits(app, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_IP", "3 per minute")
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_ACCOUNT_CEILING", "3 per hour")
    office = {"REMOTE_ADDR": "198.51.100.20"}  # colleagues behind one address
    users = [make_user("sales") for _ in range(2)]
    for user in users * 2:
        assert _post(app.test_client(), "/alpha/login", user.email, PASSWORD,
                     office).status_code == 302
    _fail(app.test_client(), users[0].email, office, 3)
    assert _post(app.test_client(), "/alpha/login", users[1].email, PASSWORD,
                 office).status_code == 429


def test_a_new_password_set_by_an_admin_starts_the_counters_afresh(app, make_user):
    user = make_user("sales")
    _fail(app.test_client(), user.email, OWNER, 5)  # the owner forgot his password
    assert _post(app.test_client(), "/alpha/login", user.email, PASSWORD,
                 OWNER).status_code == 429
    tenants.update_user(user, {"password": "un-nouveau-secret-donne"})
    db.session.commit()
    assert _post(app.test_client(), "/alpha/login", user.email, "un-nouveau-secret-donne",
                 OWNER).status_code == 302


def test_an_ipv6_client_counts_by_its_64_block(app, make_user):
    user = make_user("sales")
    _fail(app.test_client(), user.email, {"REMOTE_ADDR": "2001:db8:1:2::1"}, 5)
    for address in ("2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:fffe"):
        assert _post(app.test_client(), "/alpha/login", user.email, PASSWORD,
                     {"REMOTE_ADDR": address}).status_code == 429
    # Another /64, and IPv4 addresses, each count as themselves.
    assert _post(app.test_client(), "/alpha/login", user.email, PASSWORD,
                 {"REMOTE_ADDR": "2001:db8:1:3::1"}).status_code == 302
    _fail(app.test_client(), user.email, ATTACKER, 5)
    assert _post(app.test_client(), "/alpha/login", user.email, PASSWORD,
                 {"REMOTE_ADDR": "203.0.113.67"}).status_code == 302
    lockouts = [e.after for e in audit_events("users", user.id) if e.action == "login_throttled"]
    assert [after["ip"] for after in lockouts] == ["2001:db8:1:2::1", ATTACKER["REMOTE_ADDR"]]


def test_addresses_are_counted_ipv6_by_64_and_ipv4_as_themselves():
    assert address_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert address_key("203.0.113.66") == "203.0.113.66"
    assert address_key("::ffff:203.0.113.66") == "203.0.113.66"
    assert address_key(None) == "-"


# -- when to come back ------------------------------------------------------------------------

def test_a_throttled_answer_says_when_to_try_again(client, make_user):
    user = make_user("sales")
    _fail(client, user.email, ATTACKER, 5)
    answer = _post(client, "/alpha/portal/login", user.email, PASSWORD, ATTACKER)
    assert answer.status_code == 429
    wait = int(answer.headers["Retry-After"])
    assert 0 < wait <= 60
    assert _try_again_in(1) in text(answer)


def test_the_retry_after_names_the_limit_that_lasts_longest(client, make_user, app,
                                                            monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_ACCOUNT", "5 per minute; 5 per hour")
    user = make_user("sales")
    _fail(client, user.email, ATTACKER, 5)
    answer = _post(client, "/alpha/login", user.email, PASSWORD, ATTACKER)
    assert 60 < int(answer.headers["Retry-After"]) <= 3600
    assert _try_again_in(60) in text(answer)


# -- device cookies: the owner's browser is known by the account ------------------------------

def _owner_browser(app, user, environ=OWNER):
    """The owner's browser, where he once logged in successfully (and then logged out)."""
    browser = app.test_client()
    assert _post(browser, "/alpha/login", user.email, PASSWORD, environ).status_code == 302
    assert browser.post("/alpha/logout", environ_base=environ).status_code == 302
    return browser


def test_the_owner_logs_in_from_his_browser_behind_the_attackers_address(app, make_user):
    # Same address (an office, a mobile carrier's NAT): the browser he logged in with before
    # tells him apart.
    user = make_user("sales")
    browser = _owner_browser(app, user, ATTACKER)
    attacker = app.test_client()
    _fail(attacker, user.email, ATTACKER, 3)
    _fail(attacker, user.email, ATTACKER, 2, url="/alpha/portal/login")
    assert _post(attacker, "/alpha/login", user.email, PASSWORD, ATTACKER).status_code == 429
    assert _post(browser, "/alpha/login", user.email, PASSWORD, ATTACKER).status_code == 302
    assert browser.get("/alpha/", environ_base=ATTACKER).status_code == 200


def test_the_owners_browser_is_not_locked_out_by_the_ceiling(app, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_ACCOUNT_CEILING", "8 per hour")
    user = make_user("sales")
    browser = _owner_browser(app, user)
    for n in range(4):
        _fail(app.test_client(), user.email, {"REMOTE_ADDR": f"203.0.113.{n + 1}"}, 2)
    # The ceiling holds for every browser the account has not been opened in, the owner's
    # address included...
    assert _post(app.test_client(), "/alpha/login", user.email, PASSWORD,
                 OWNER).status_code == 429
    # ... not for his own browser.
    assert _post(browser, "/alpha/login", user.email, PASSWORD, OWNER).status_code == 302


def test_guesses_from_the_owners_browser_are_limited_too(app, make_user):
    user = make_user("sales")
    browser = _owner_browser(app, user)
    _fail(browser, user.email, OWNER, 5)
    assert _post(browser, "/alpha/login", user.email, PASSWORD, OWNER).status_code == 429
    assert [e.after["limit"] for e in audit_events("users", user.id)
            if e.action == "login_throttled"] == ["device"]
    # Those failures were the browser's: the account's other clients are not concerned.
    assert _post(app.test_client(), "/alpha/login", user.email, PASSWORD,
                 ATTACKER).status_code == 302


def test_a_browser_is_known_only_for_the_accounts_opened_in_it(app, make_user):
    user, other = make_user("sales"), make_user("sales")
    browser = _owner_browser(app, other, ATTACKER)
    _fail(app.test_client(), user.email, ATTACKER, 5)
    assert _post(browser, "/alpha/login", user.email, PASSWORD, ATTACKER).status_code == 429
    # A forged cookie is ignored.
    forged = app.test_client()
    forged.set_cookie("login_device", browser.get_cookie("login_device", path="/alpha/")
                      .value[:-3] + "AAA", path="/alpha/")
    assert _post(forged, "/alpha/login", user.email, PASSWORD, ATTACKER).status_code == 429


def test_a_new_password_forgets_the_browsers_known(app, make_user):
    user = make_user("sales")
    browser = _owner_browser(app, user, ATTACKER)
    tenants.update_user(user, {"password": "un-nouveau-secret-donne"})
    db.session.commit()
    _fail(app.test_client(), user.email, ATTACKER, 5)
    assert _post(browser, "/alpha/login", user.email, "un-nouveau-secret-donne",
                 ATTACKER).status_code == 429
