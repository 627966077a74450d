"""Sessions end server-side: a session cookie copied before a logout, a new password or an
admin's "sign out everywhere" opens nothing afterwards."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import UserSession
from app.models.base import utcnow
from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context
from tests.backoffice.conftest import audit_events, fr, text
from tests.conftest import PASSWORD, login


def _copy_session(source, app):
    """Another browser holding a copy of `source`'s session cookie (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie("session", source.get_cookie("session").value)
    assert thief.get("/alpha/").status_code == 200
    return thief


def _signed_out(client) -> bool:
    answer = client.get("/alpha/")
    return answer.status_code == 302 and "/alpha/login" in answer.headers["Location"]


def _age_sessions(user, days: int) -> None:
    """The user's sessions, as if opened `days` ago."""
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id)
                       .values(created_at=utcnow() - timedelta(days=days)))
    db.session.commit()


def _sessions_kept(user) -> int:
    with all_tenants_unsafe("tests"):
        return db.session.scalar(select(func.count()).select_from(UserSession)
                                 .where(UserSession.user_id == user.id))


def test_a_cookie_copied_before_logout_opens_nothing_after(app, make_user):
    owner = login(app.test_client(), make_user("sales"))
    thief = _copy_session(owner, app)
    assert owner.post("/alpha/logout").status_code == 302
    assert _signed_out(thief)


def test_logging_out_ends_that_session_only(app, make_user):
    user = make_user("sales")
    phone, desk = login(app.test_client(), user), login(app.test_client(), user)
    thief = _copy_session(phone, app)
    assert phone.post("/alpha/logout").status_code == 302
    assert _signed_out(thief) and _signed_out(phone)
    assert desk.get("/alpha/").status_code == 200


def test_an_extranet_cookie_copied_before_logout_opens_nothing_after(app, make_user,
                                                                     make_partner):
    agent = make_user("agent", partner_id=make_partner().id)
    owner = app.test_client()
    assert owner.post("/alpha/portal/login", data={"email": agent.email, "password": PASSWORD}
                      ).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", owner.get_cookie("session").value)
    assert thief.get("/alpha/portal/").status_code == 200
    assert owner.post("/alpha/portal/logout").status_code == 302
    answer = thief.get("/alpha/portal/")
    assert answer.status_code == 302 and "/alpha/portal/login" in answer.headers["Location"]


def test_a_new_password_set_by_an_admin_ends_the_users_sessions(app, admin_client, make_user):
    user = make_user("sales")
    thief = _copy_session(login(app.test_client(), user), app)
    answer = admin_client.post(f"/alpha/admin/users/{user.id}", data={
        "full_name": user.full_name, "role": "sales", "locale": "", "is_active": "y",
        "password": "another-long-password"})
    assert answer.status_code == 302
    assert _signed_out(thief)


def test_a_password_reset_ends_the_users_sessions(app, make_user, make_partner):
    from app.services.invitations import PASSWORD_RESET, make_link_token

    agent = make_user("agent", partner_id=make_partner().id)
    owner = app.test_client()
    assert owner.post("/alpha/portal/login", data={"email": agent.email, "password": PASSWORD}
                      ).status_code == 302
    assert owner.get("/alpha/portal/").status_code == 200
    url = f"/alpha/portal/password/reset/{make_link_token(agent, PASSWORD_RESET)}"
    answer = app.test_client().post(url, data={"password": "brand-new-password-1",
                                               "confirm": "brand-new-password-1"})
    assert answer.status_code == 302
    assert owner.get("/alpha/portal/").status_code == 302


def test_an_admin_signs_a_user_out_everywhere(app, admin_client, make_user):
    user = make_user("sales")
    first, second = login(app.test_client(), user), login(app.test_client(), user)
    thief = _copy_session(first, app)
    page = admin_client.get(f"/alpha/admin/users/{user.id}")
    assert fr("Sign out everywhere") in text(page)
    answer = admin_client.post(f"/alpha/admin/users/{user.id}/sessions/end",
                               follow_redirects=True)
    assert fr("%(email)s is signed out everywhere.", email=user.email) in text(answer)
    assert _signed_out(first) and _signed_out(second) and _signed_out(thief)
    assert admin_client.get("/alpha/").status_code == 200  # the admin's own session goes on
    assert [e.action for e in audit_events("users", user.id)][-1] == "sessions_ended"
    assert fr("Signed out everywhere") in text(admin_client.get(f"/alpha/admin/users/{user.id}"))
    # The user logs in again as usual.
    assert login(app.test_client(), user).get("/alpha/").status_code == 200


def test_signing_out_everywhere_needs_the_csrf_token(app, admin_client, make_user,
                                                     monkeypatch):
    user = make_user("sales")
    victim = login(app.test_client(), user)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert admin_client.post(f"/alpha/admin/users/{user.id}/sessions/end").status_code == 400
    assert victim.get("/alpha/").status_code == 200


@pytest.mark.parametrize("role", ["sales"])
def test_only_admins_sign_users_out_everywhere(app, make_user, role):
    user = make_user("sales")
    victim = login(app.test_client(), user)
    other = login(app.test_client(), make_user(role))
    assert other.post(f"/alpha/admin/users/{user.id}/sessions/end").status_code == 403
    assert victim.get("/alpha/").status_code == 200


def test_a_user_of_another_tenant_is_not_found(admin_client, other_tenant, in_tenant):
    from app.extensions import db
    from app.services.tenants import create_user

    stranger = in_tenant(other_tenant, create_user, {
        "email": "someone@beta.example", "password": "long-enough-password", "role": "sales"})
    db.session.commit()
    assert admin_client.post(f"/alpha/admin/users/{stranger.id}/sessions/end").status_code == 404


def test_a_user_signs_himself_out_everywhere(app, make_user):
    user = make_user("sales")
    here, elsewhere = login(app.test_client(), user), login(app.test_client(), user)
    thief = _copy_session(elsewhere, app)
    assert fr("Sign out everywhere") in text(here.get("/alpha/profile"))
    answer = here.post("/alpha/profile/sessions/end", follow_redirects=True)
    assert fr("You are signed out everywhere. Log in again.") in text(answer)
    assert _signed_out(here) and _signed_out(elsewhere) and _signed_out(thief)
    assert [e.action for e in audit_events("users", user.id)][-1] == "sessions_ended"
    assert login(app.test_client(), user).get("/alpha/").status_code == 200


def test_an_admin_signing_himself_out_everywhere_ends_his_own_session(admin_client,
                                                                        admin_user):
    answer = admin_client.post(f"/alpha/admin/users/{admin_user.id}/sessions/end")
    assert answer.status_code == 302 and "/alpha/login" in answer.headers["Location"]
    assert _signed_out(admin_client)


def test_an_extranet_user_signs_himself_out_everywhere(app, make_user, make_account):
    subscriber = make_user("subscriber", account_id=make_account().id)
    sessions = []
    for _ in range(2):
        browser = app.test_client()
        assert browser.post("/alpha/portal/login", data={
            "email": subscriber.email, "password": PASSWORD}).status_code == 302
        sessions.append(browser)
    here, elsewhere = sessions
    assert fr("Sign out everywhere") in text(here.get("/alpha/portal/profile"))
    answer = here.post("/alpha/portal/profile/sessions/end")
    assert answer.status_code == 302 and "/alpha/portal/login" in answer.headers["Location"]
    for browser in sessions:
        assert browser.get("/alpha/portal/").status_code == 302
    assert [e.action for e in audit_events("users", subscriber.id)][-1] == "sessions_ended"


def test_a_session_ends_a_month_after_its_login_however_much_it_is_used(app, make_user):
    user = make_user("sales")
    browser = login(app.test_client(), user)
    _age_sessions(user, 30)
    assert browser.get("/alpha/").status_code == 200
    _age_sessions(user, 32)
    assert _signed_out(browser)
    assert login(app.test_client(), user).get("/alpha/").status_code == 200


def test_expired_sessions_are_forgotten_at_the_next_login_on_their_tenant(
        app, make_user, other_tenant, in_tenant):
    from app.services.tenants import create_user

    gone, recent = make_user("sales"), make_user("sales")
    stranger = in_tenant(other_tenant, create_user, {
        "email": "someone@beta.example", "password": PASSWORD, "role": "sales"})
    for user, slug in ((gone, "alpha"), (recent, "alpha"), (stranger, "beta")):
        login(app.test_client(), user, slug)
    _age_sessions(gone, 32)  # a user who never came back
    _age_sessions(recent, 30)
    with tenant_context(other_tenant.id, SYSTEM):
        _age_sessions(stranger, 32)
    login(app.test_client(), make_user("sales"))  # anyone's login on alpha
    assert (_sessions_kept(gone), _sessions_kept(recent), _sessions_kept(stranger)) == (0, 1, 1)
