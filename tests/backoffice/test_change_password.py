"""A logged-in user changes his password in place, in the back office and in the extranet:
his current one proves him (guesses throttled as logins are), the new one twice and under the
password rules, hashed; his other sessions end, this one goes on; audited; CSRF-protected.
The mailed link stays for a forgotten password."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models import User
from tests.backoffice.conftest import audit_events, fr, text
from tests.conftest import PASSWORD, login
from tests.portal.conftest import portal_login

NEW = "un-nouveau-secret-2026"
# (role, login helper, the face's own pages)
FACES = {
    "backoffice": ("sales", login, "/alpha/profile", "/alpha/profile/password", "/alpha/"),
    "portal": ("agent", portal_login, "/alpha/portal/profile", "/alpha/portal/profile/password",
               "/alpha/portal/"),
}


@pytest.fixture(params=sorted(FACES))
def face(request, app, make_user, make_partner):
    role, log_in, profile, page, home = FACES[request.param]
    extra = {"partner_id": make_partner().id} if role == "agent" else {}
    user = make_user(role, **extra)
    return user, (lambda: log_in(app.test_client(), user)), profile, page, home


def _change(client, page, current=PASSWORD, new=NEW, confirm=None):
    return client.post(page, data={"current_password": current, "password": new,
                                   "confirm": new if confirm is None else confirm})


def _logs_in(app, user, password, face_login) -> bool:
    url = "/alpha/login" if face_login is login else "/alpha/portal/login"
    return app.test_client().post(url, data={"email": user.email, "password": password}
                                  ).status_code == 302


def test_the_profile_leads_to_a_change_of_password_in_place(face):
    user, open_session, profile, page, home = face
    client = open_session()
    assert f'href="{page}"' in client.get(profile).data.decode()
    if "portal" not in page:  # the back office's user menu, on every page
        html = client.get(home).data.decode()
        menu = html[html.index('id="user-menu"'):]
        assert f'href="{page}"' in menu[:menu.index("</ul>")]
    form = client.get(page)
    assert form.status_code == 200
    html = form.data.decode()
    assert html.count('type="password"') == 3
    assert fr("Current password") in text(form)
    assert "/alpha/portal/password/forgot" in html  # the mailed link, for a forgotten one


def test_a_new_password_replaces_the_old_one_and_ends_the_other_sessions(app, face):
    user, open_session, _profile, page, home = face
    face_login = login if "portal" not in page else portal_login
    elsewhere = open_session()
    here = open_session()
    hash_before = user.password_hash

    answer = _change(here, page)
    assert answer.status_code == 302
    assert fr("Your password is changed. Your other sessions are closed.") in text(
        here.get(answer.location))
    assert here.get(home).status_code == 200  # this session goes on
    assert elsewhere.get(home).status_code == 302  # the other one is closed
    db.session.expire_all()
    stored = db.session.get(User, user.id).password_hash
    assert stored != hash_before and NEW not in stored  # hashed, not kept as typed
    assert _logs_in(app, user, NEW, face_login)
    assert not _logs_in(app, user, PASSWORD, face_login)
    events = [e for e in audit_events("users", user.id) if e.action == "password_changed"]
    assert len(events) == 1 and events[0].actor_id == user.id
    assert NEW not in str(events[0].after) and stored not in str(events[0].after)


@pytest.mark.parametrize(("current", "new", "confirm", "field", "message"), [
    ("pas-le-bon-mot", NEW, None, "current_password", "Your current password is wrong."),
    (PASSWORD, NEW, "autre-chose-encore", "confirm", "The two passwords differ."),
    (PASSWORD, "court", None, "password", "Use at least %(n)d characters."),
    (PASSWORD, PASSWORD, None, "password", "Choose a password other than the current one."),
])
def test_a_wrong_current_password_or_a_bad_new_one_changes_nothing(app, face, current, new,
                                                                   confirm, field, message):
    user, open_session, _profile, page, home = face
    elsewhere = open_session()
    client = open_session()
    answer = _change(client, page, current, new, confirm)
    assert answer.status_code == 422
    assert fr(message, n=10) in text(answer)
    db.session.expire_all()
    assert elsewhere.get(home).status_code == 200
    assert _logs_in(app, user, PASSWORD, login if "portal" not in page else portal_login)
    assert not [e for e in audit_events("users", user.id) if e.action == "password_changed"]


def test_guessing_the_current_password_is_throttled_as_logins_are(app, face):
    user, open_session, _profile, page, _home = face
    client = open_session()
    for _ in range(5):
        assert _change(client, page, current="mauvaise-supposition").status_code == 422
    answer = _change(client, page)  # even the right one, once throttled
    assert answer.status_code == 429
    assert "login_throttled" in [e.action for e in audit_events("users")]
    db.session.expire_all()
    assert not [e for e in audit_events("users", user.id) if e.action == "password_changed"]


def test_changing_the_password_needs_the_csrf_token(app, face, monkeypatch):
    user, open_session, _profile, page, _home = face
    client = open_session()
    hash_before = user.password_hash
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert _change(client, page).status_code in (400, 422)
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == hash_before


def test_another_face_user_cannot_use_this_page(app, make_user, make_partner):
    agent = portal_login(app.test_client(),
                         make_user("agent", partner_id=make_partner().id))
    assert agent.get("/alpha/profile/password").status_code in (302, 403, 404)
    assert app.test_client().get("/alpha/portal/profile/password").status_code == 302
