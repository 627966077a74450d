"""Invitations and password resets: mailed links, through a real SMTP server on loopback."""
from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from flask import Flask
from itsdangerous import TimestampSigner
from sqlalchemy import select

from app.extensions import db
from app.mail import MailError, smtp_settings
from app.models import AuditEvent, User
from app.services.tenants import update_user
from tests.backoffice.conftest import audit_events, count_rows, fr, text
from tests.conftest import PASSWORD

NEW_PASSWORD = "un-tout-nouveau-secret"
LINK = re.compile(r"https?://\S+?/(?:invitation|password/reset)/[A-Za-z0-9_.\-]+")


class Inbox:
    """What the SMTP server received, with a wait for mails sent after the response."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"

    def wait(self, count: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.messages) >= count, f"{len(self.messages)} mail(s), {count} expected"
        return self.messages


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(inbox: Inbox, **smtp_kwargs: Any) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), **smtp_kwargs)
    controller.start()
    return controller


@pytest.fixture
def inbox(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1; the app sends its mail there."""
    received = Inbox()
    controller = _start(received)
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{controller.port}")
    monkeypatch.setitem(app.config, "MAIL_FROM", "Relais <no-reply@relais.example>")
    yield received
    controller.stop()


def body(message: EmailMessage, kind: str = "plain") -> str:
    return message.get_body((kind,)).get_content()


def link_path(message: EmailMessage) -> str:
    """The path of the link in the mail, the same in its text and HTML parts."""
    found = LINK.search(body(message))
    assert found, body(message)
    assert found.group(0) in body(message, "html")
    return urlsplit(found.group(0)).path


def _user(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def _invite(admin_client: Any, **over: Any) -> Any:
    return admin_client.post("/alpha/admin/users/invite", data={
        "email": "agent.invite@alpha.example", "full_name": "Aline Agent", "role": "agent",
        "partner": over.pop("partner"), "account": "", "locale": "", **over})


@pytest.fixture
def partner(make_partner: Callable[..., Any]) -> Any:
    return make_partner(name="Agence du Lac")


def _choose(client: Any, path: str, password: str = NEW_PASSWORD, confirm: str | None = None,
            **extra: Any) -> Any:
    return client.post(path, data={"password": password,
                                   "confirm": password if confirm is None else confirm, **extra})


# -- invitations --------------------------------------------------------------------------------

def test_an_invited_agent_chooses_his_password_and_lands_in_the_extranet(
        app, admin_client, partner, inbox):
    assert admin_client.get("/alpha/admin/users/invite").status_code == 200
    response = _invite(admin_client, partner=f"#{partner.id}")
    assert response.status_code == 302
    assert fr("Invitation sent to %(email)s.", email="agent.invite@alpha.example") in text(
        admin_client.get(response.headers["Location"]))
    user = _user("agent.invite@alpha.example")
    assert user.role == "agent" and user.partner_id == partner.id and user.password_hash is None

    [message] = inbox.wait()
    assert message["To"] == "agent.invite@alpha.example"
    assert message["From"].addresses[0].addr_spec == "no-reply@relais.example"
    assert message["From"].addresses[0].display_name == "Alpha Stores"
    assert message["Subject"] == "Votre accès à Alpha Stores"  # the tenant's language: French
    assert "Bonjour Aline Agent," in body(message)
    path = link_path(message)
    assert path.startswith("/alpha/portal/invitation/")

    visitor = app.test_client()
    page = visitor.get(path)
    assert page.status_code == 200 and "agent.invite@alpha.example" in text(page)
    answer = _choose(visitor, path)
    assert answer.status_code == 302 and answer.headers["Location"] == "/alpha/portal/"
    assert visitor.get("/alpha/portal/").status_code == 200  # logged in, in his space
    assert visitor.post("/alpha/portal/login", data={
        "email": user.email, "password": NEW_PASSWORD}).status_code == 302

    actions = [e.action for e in audit_events("users", user.id)]
    assert actions[:2] == ["create", "invitation_sent"]
    assert "invitation_accepted" in actions and "login" in actions
    accepted = next(e for e in audit_events("users", user.id) if e.action == "invitation_accepted")
    assert accepted.actor_id == user.id
    hashes = [str(e.before) + str(e.after) for e in db.session.scalars(select(AuditEvent))]
    assert not any("$argon2" in h or (user.password_hash or "x") in h for h in hashes)


def test_the_invitation_is_written_in_the_users_language(app, admin_client, partner, inbox,
                                                         monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://crm.example.com")
    response = _invite(admin_client, partner=f"#{partner.id}", locale="en")
    assert fr("Invitation sent to %(email)s.", email="agent.invite@alpha.example") in text(
        admin_client.get(response.headers["Location"]))  # the admin still reads French
    [message] = inbox.wait()
    assert LINK.search(body(message)).group(0).startswith(
        "https://crm.example.com/alpha/portal/invitation/")  # not the request's Host header
    assert message["Subject"] == "Your access to Alpha Stores"
    assert "Hello Aline Agent," in body(message) and "Choose my password" in body(message, "html")
    assert "expires in 48 hours" in body(message)


def test_a_subscriber_is_invited_with_his_account(app, admin_client, make_account, inbox):
    account = make_account(name="Client Invité")
    response = admin_client.post("/alpha/admin/users/invite", data={
        "email": "abonne@alpha.example", "full_name": "", "role": "subscriber",
        "partner": "", "account": f"#{account.id}", "locale": "en"})
    assert response.status_code == 302
    assert _user("abonne@alpha.example").account_id == account.id
    [message] = inbox.wait()
    assert "Hello," in body(message)


@pytest.mark.parametrize("over, field_error", [
    ({"role": "admin"}, None),  # staff are created with a password, not invited
    ({"role": "agent", "partner": ""}, "An agent belongs to a partner."),
    ({"email": "pas-une-adresse"}, "Enter a valid e-mail address."),
])
def test_bad_invitations_create_nobody_and_send_nothing(admin_client, partner, inbox, over,
                                                        field_error):
    users = count_rows(User)
    response = _invite(admin_client, **{"partner": f"#{partner.id}", **over})
    assert response.status_code == 200
    if field_error:
        assert fr(field_error) in text(response)
    assert count_rows(User) == users
    assert inbox.messages == []


def test_an_existing_email_cannot_be_invited(admin_client, make_user, partner, inbox):
    make_user("sales", email="agent.invite@alpha.example")
    response = _invite(admin_client, partner=f"#{partner.id}")
    assert fr("A user with this e-mail already exists.") in text(response)
    assert inbox.messages == []


def test_users_list_shows_invited_users_and_resends_their_invitation(
        app, admin_client, partner, inbox):
    _invite(admin_client, partner=f"#{partner.id}")
    inbox.wait()
    page = admin_client.get("/alpha/admin/users")
    assert page.data.decode().count('class="badge text-bg-warning ms-1 invited"') == 1
    assert fr("Invited, no password yet") in text(page)
    user = _user("agent.invite@alpha.example")
    response = admin_client.post(f"/alpha/admin/users/{user.id}/invitation")
    assert response.status_code == 302
    assert fr("Invitation sent again to %(email)s.", email=user.email) in text(
        admin_client.get("/alpha/admin/users"))
    second = inbox.wait(2)[1]
    assert second["To"] == user.email
    assert audit_events("users", user.id)[-1].after == {"email": user.email, "resent": True}

    _choose(app.test_client(), link_path(second))
    assert fr("Invited, no password yet") not in text(admin_client.get("/alpha/admin/users"))
    admin_client.post(f"/alpha/admin/users/{user.id}/invitation")
    assert fr("This user has already chosen a password.") in text(
        admin_client.get("/alpha/admin/users"))
    assert len(inbox.messages) == 2


def test_only_admins_invite(sales_client, partner, inbox):
    assert sales_client.get("/alpha/admin/users/invite").status_code == 403
    assert _invite(sales_client, partner=f"#{partner.id}").status_code == 403
    assert inbox.messages == []


def test_mail_failures_are_said_not_crashed(app, admin_client, partner, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", "")
    response = _invite(admin_client, partner=f"#{partner.id}")
    assert response.status_code == 200
    assert fr("Outgoing mail is not configured (SMTP_URL).") in text(response)
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{_free_port()}")
    response = _invite(admin_client, partner=f"#{partner.id}")
    assert response.status_code == 200
    assert fr("The e-mail could not be sent: %(reason)s.",
              reason=fr("the mail server cannot be reached")) in text(response)
    assert count_rows(User, User.email == "agent.invite@alpha.example") == 0
    forgot = app.test_client().post("/alpha/portal/password/forgot",
                                    data={"email": "x@alpha.example"})
    assert forgot.status_code == 200  # the server is down, but the e-mail may be unknown
    monkeypatch.setitem(app.config, "SMTP_URL", "")
    forgot = app.test_client().post("/alpha/portal/password/forgot",
                                    data={"email": "x@alpha.example"})
    assert forgot.status_code == 200
    assert fr("Outgoing mail is not configured (SMTP_URL).") in text(forgot)


def test_without_public_url_a_production_server_sends_no_link(app, admin_client, partner,
                                                              make_user, inbox, monkeypatch):
    """Links would otherwise carry the Host header a client chose (a reset link pointing to
    an attacker's site)."""
    make_user("agent", email="known@alpha.example", partner_id=partner.id)
    monkeypatch.setitem(app.config, "TESTING", False)
    monkeypatch.setitem(app.config, "PUBLIC_URL", "")
    message = fr("Set PUBLIC_URL, the site's address, so that links in e-mails point to it.")
    response = _invite(admin_client, partner=f"#{partner.id}")
    assert response.status_code == 200 and message in text(response)
    forgot = app.test_client().post("/alpha/portal/password/forgot",
                                    data={"email": "known@alpha.example"},
                                    headers={"Host": "evil.example"})
    assert message in text(forgot)
    time.sleep(1)
    assert inbox.messages == []


def test_the_reset_mail_is_composed_after_the_answer(app, make_user, partner, inbox,
                                                     monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_LATER_DELAY", 1.0)
    make_user("agent", email="known@alpha.example", partner_id=partner.id)
    answer = app.test_client().post("/alpha/portal/password/forgot",
                                    data={"email": "known@alpha.example"})
    assert answer.status_code == 200 and inbox.messages == []  # the mail leaves after the answer
    [message] = inbox.wait()
    assert message["To"] == "known@alpha.example"


# -- links that no longer work -----------------------------------------------------------------

@pytest.fixture
def invitation(admin_client: Any, partner: Any, inbox: Inbox) -> str:
    """The path of a fresh invitation link for agent.invite@alpha.example."""
    _invite(admin_client, partner=f"#{partner.id}")
    return link_path(inbox.wait()[0])


def test_a_link_works_once(app, invitation):
    assert _choose(app.test_client(), invitation).status_code == 302
    first_hash = _user("agent.invite@alpha.example").password_hash
    again = app.test_client()
    page = again.get(invitation)
    assert page.status_code == 410 and fr("This link has already been used") in text(page)
    assert 'href="/alpha/portal/password/forgot"' in page.data.decode()
    assert _choose(again, invitation, "encore-un-autre-secret").status_code == 410
    assert _user("agent.invite@alpha.example").password_hash == first_hash


def test_an_expired_link_is_refused(app, invitation, monkeypatch):
    max_age = app.config["PORTAL_LINK_MAX_AGE"]
    now = int(time.time())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now + max_age - 60)
    assert app.test_client().get(invitation).status_code == 200  # just in time
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now + max_age + 60)
    visitor = app.test_client()
    page = visitor.get(invitation)
    assert page.status_code == 410 and fr("This link has expired") in text(page)
    assert _choose(visitor, invitation).status_code == 410
    assert _user("agent.invite@alpha.example").password_hash is None


def test_a_tampered_or_misdirected_link_is_refused(app, invitation):
    prefix, token = invitation.rsplit("/", 1)
    tampered = f"{prefix}/{token[:-3]}{'AAA' if token[-3:] != 'AAA' else 'BBB'}"
    for path in (tampered, f"{prefix}/n'importe-quoi", f"{prefix}/{token[5:]}",
                 f"/alpha/portal/password/reset/{token}"):  # another purpose, another salt
        page = app.test_client().get(path)
        assert page.status_code == 400, path
        assert fr("This link is not valid") in text(page)
        assert _choose(app.test_client(), path).status_code == 400
    assert _user("agent.invite@alpha.example").password_hash is None


def test_a_link_of_one_tenant_does_nothing_under_another(app, invitation, other_tenant,
                                                          in_tenant):
    in_tenant(other_tenant, lambda: None)
    token = invitation.rsplit("/", 1)[1]
    visitor = app.test_client()
    assert visitor.get(f"/beta/portal/invitation/{token}").status_code == 400
    assert _choose(visitor, f"/beta/portal/invitation/{token}").status_code == 400
    assert _user("agent.invite@alpha.example").password_hash is None
    assert visitor.get("/beta/portal/").status_code == 302  # not logged in there either


def test_password_rules_apply_and_the_link_survives_a_mistake(app, invitation):
    visitor = app.test_client()
    short = _choose(visitor, invitation, "court")
    assert short.status_code == 200
    assert fr("Use at least %(n)d characters.", n=10) in text(short)
    differ = _choose(visitor, invitation, NEW_PASSWORD, "autre-chose-encore")
    assert differ.status_code == 200 and fr("The two passwords differ.") in text(differ)
    assert _user("agent.invite@alpha.example").password_hash is None
    assert _choose(visitor, invitation).status_code == 302


# -- password resets ---------------------------------------------------------------------------

def _forgot(client: Any, email: str) -> Any:
    return client.post("/alpha/portal/password/forgot", data={"email": email})


def test_known_and_unknown_emails_get_the_same_answer(app, make_user, partner, inbox):
    user = make_user("agent", partner_id=partner.id, email="connu@alpha.example")
    assert app.test_client().get("/alpha/portal/password/forgot").status_code == 200
    unknown = _forgot(app.test_client(), "inconnu@alpha.example")
    known = _forgot(app.test_client(), "Connu@alpha.example ")
    assert unknown.status_code == known.status_code == 200
    assert unknown.data == known.data
    assert fr("If an account exists with this address, we have sent it a link to choose a "
              "new password.") in text(known)
    [message] = inbox.wait()
    time.sleep(0.2)  # nothing else arrives
    assert len(inbox.messages) == 1 and message["To"] == user.email
    assert message["Subject"] == "Votre mot de passe pour Alpha Stores"
    assert link_path(message).startswith("/alpha/portal/password/reset/")
    events = [e for e in audit_events("users") if e.action == "password_reset_requested"]
    assert [e.record_id for e in events] == [None, user.id]


def test_inactive_users_get_no_reset_mail(app, make_user, partner, inbox):
    make_user("agent", partner_id=partner.id, email="parti@alpha.example", is_active=False)
    assert _forgot(app.test_client(), "parti@alpha.example").status_code == 200
    time.sleep(0.2)
    assert inbox.messages == []


def test_a_reset_sets_the_password_and_logs_in(app, make_user, partner, inbox):
    user = make_user("agent", partner_id=partner.id, email="connu@alpha.example", locale="en")
    _forgot(app.test_client(), user.email)
    [message] = inbox.wait()
    assert message["Subject"] == "Your password for Alpha Stores"
    path = link_path(message)
    visitor = app.test_client()
    assert visitor.get(path).status_code == 200
    answer = _choose(visitor, path)
    assert answer.status_code == 302 and answer.headers["Location"] == "/alpha/portal/"
    assert visitor.get("/alpha/portal/").status_code == 200
    assert app.test_client().post("/alpha/login", data={
        "email": user.email, "password": PASSWORD}).status_code == 200  # the old one is gone
    assert visitor.get(path).status_code == 410  # and the link with it
    assert "password_reset" in [e.action for e in audit_events("users", user.id)]


def test_a_reset_lifts_the_login_lockout_of_the_account(app, make_user, partner, inbox,
                                                      monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_ACCOUNT_CEILING", "4 per hour")
    user = make_user("agent", partner_id=partner.id, email="connu@alpha.example")
    owner = {"REMOTE_ADDR": "198.51.100.7"}
    for n in range(4):  # guesses from elsewhere lock the account out
        assert app.test_client().post("/alpha/portal/login", data={
            "email": user.email, "password": "devine"},
            environ_base={"REMOTE_ADDR": f"203.0.113.{n + 1}"}).status_code == 200
    assert app.test_client().post("/alpha/portal/login", data={
        "email": user.email, "password": PASSWORD}, environ_base=owner).status_code == 429
    _forgot(app.test_client(), user.email)
    assert _choose(app.test_client(), link_path(inbox.wait()[0])).status_code == 302
    assert app.test_client().post("/alpha/portal/login", data={
        "email": user.email, "password": NEW_PASSWORD}, environ_base=owner).status_code == 302


def test_a_reset_link_dies_when_the_password_changes(app, make_user, partner, inbox):
    user = make_user("agent", partner_id=partner.id, email="connu@alpha.example")
    _forgot(app.test_client(), user.email)
    path = link_path(inbox.wait()[0])
    update_user(user, {"password": "change-par-ailleurs"})
    db.session.commit()
    page = app.test_client().get(path)
    assert page.status_code == 410 and fr("This link has already been used") in text(page)


def test_staff_reset_their_password_too_and_go_to_the_back_office(app, make_user, inbox):
    admin = make_user("admin", email="chef@alpha.example")
    login_page = app.test_client().get("/alpha/login")
    assert 'href="/alpha/portal/password/forgot"' in login_page.data.decode()
    _forgot(app.test_client(), admin.email)
    path = link_path(inbox.wait()[0])
    visitor = app.test_client()
    answer = _choose(visitor, path)
    assert answer.status_code == 302 and answer.headers["Location"] == "/alpha/"
    assert visitor.get("/alpha/").status_code == 200


def test_reset_requests_are_rate_limited(app, tenant, monkeypatch, inbox):
    monkeypatch.setitem(app.config, "RESET_RATE_LIMIT_ACCOUNT", "2 per minute")
    monkeypatch.setitem(app.config, "RESET_RATE_LIMIT_IP", "4 per minute")
    client = app.test_client()
    assert [_forgot(client, "cible@alpha.example").status_code for _ in range(3)] == [
        200, 200, 429]  # per e-mail typed
    others = [_forgot(client, f"autre{n}@alpha.example") for n in range(3)]
    assert others[0].status_code == 200 and others[-1].status_code == 429  # per IP address
    assert 0 < int(others[-1].headers["Retry-After"]) <= 60
    assert client.get("/alpha/portal/password/forgot").status_code == 200  # the form stays


def _csrf(page: Any) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.data.decode()) \
        or re.search(r'name="csrf_token" value="([^"]+)"', page.data.decode())
    assert found
    return found.group(1)


def test_forms_are_protected_against_csrf(app, invitation, inbox, csrf_on):
    visitor = app.test_client()
    assert _forgot(visitor, "x@alpha.example").status_code == 400
    token = _csrf(visitor.get("/alpha/portal/password/forgot"))
    assert visitor.post("/alpha/portal/password/forgot", data={
        "email": "x@alpha.example", "csrf_token": token}).status_code == 200

    assert _choose(visitor, invitation).status_code == 400
    assert _user("agent.invite@alpha.example").password_hash is None
    token = _csrf(visitor.get(invitation))
    assert _choose(visitor, invitation, csrf_token=token).status_code == 302


# -- the mail module ---------------------------------------------------------------------------

def test_smtp_urls_are_understood(app_ctx):
    plain = smtp_settings("smtp://mail.example")
    assert (plain.host, plain.port, plain.implicit_tls, plain.starttls) == (
        "mail.example", 25, False, False)
    upgraded = smtp_settings("smtp://relais%40example.com:p%3Ass@mail.example:587?starttls=1")
    assert (upgraded.port, upgraded.starttls) == (587, True)
    assert (upgraded.username, upgraded.password) == ("relais@example.com", "p:ss")
    tls = smtp_settings("smtps://u:p@mail.example")
    assert (tls.port, tls.implicit_tls, tls.starttls) == (465, True, False)
    for wrong in ("", "http://mail.example", "smtp://", "smtp://host:port"):
        with pytest.raises(MailError):
            smtp_settings(wrong)


def test_credentials_of_the_smtp_url_are_used(app, admin_client, partner, monkeypatch):
    received = Inbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     data: Any) -> AuthResult:
        received.logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret:", handled=False)

    controller = _start(received, authenticator=authenticate, auth_require_tls=False,
                        auth_required=True)
    try:
        monkeypatch.setitem(app.config, "SMTP_URL",
                            f"smtp://relais:s3cret%3A@127.0.0.1:{controller.port}")
        assert _invite(admin_client, partner=f"#{partner.id}").status_code == 302
        received.wait()
        assert received.logins == [(b"relais", b"s3cret:")]
        monkeypatch.setitem(app.config, "SMTP_URL",
                            f"smtp://relais:faux@127.0.0.1:{controller.port}")
        response = _invite(admin_client, partner=f"#{partner.id}",
                           email="autre@alpha.example")
        assert fr("The e-mail could not be sent: %(reason)s.",
                  reason=fr("the mail server refused the credentials")) in text(response)
    finally:
        controller.stop()



def test_a_new_password_ends_the_other_sessions(app, make_user, partner, inbox):
    agent = make_user("agent", email="known@alpha.example", partner_id=partner.id)
    elsewhere = app.test_client()
    assert elsewhere.post("/alpha/portal/login", data={
        "email": agent.email, "password": PASSWORD}).status_code == 302
    assert elsewhere.get("/alpha/portal/").status_code == 200
    app.test_client().post("/alpha/portal/password/forgot", data={"email": agent.email})
    [message] = inbox.wait()
    visitor = app.test_client()
    assert _choose(visitor, link_path(message)).status_code == 302
    assert visitor.get("/alpha/portal/").status_code == 200  # the one who reset it
    assert elsewhere.get("/alpha/portal/").status_code == 302  # sent back to log in
