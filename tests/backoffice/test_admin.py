"""Users managed by tenant admins: admins, sales, agents tied to a partner, subscribers."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.tenants import create_user
from tests.backoffice.conftest import audit_events, count_rows, fr, text
from tests.conftest import PASSWORD


def _user_form(**over) -> dict:
    return {"email": "nouveau@alpha.example", "full_name": "Nina Nouveau", "role": "sales",
            "password": "un-mot-de-passe-long", "locale": "", "is_active": "y", **over}


def _user(email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def test_users_page_lists_users_with_their_ties(admin_client, make_user, make_partner,
                                                make_account):
    partner = make_partner(name="Agence Rhône")
    account = make_account(name="Client Abonné")
    make_user("agent", partner_id=partner.id, email="agent@alpha.example")
    make_user("subscriber", account_id=account.id, email="abonne@alpha.example")
    page = text(admin_client.get("/alpha/admin/users"))
    for shown in ("agent@alpha.example", "Agence Rhône", "abonne@alpha.example",
                  "Client Abonné"):
        assert shown in page


@pytest.mark.parametrize("role", ["admin", "sales"])
def test_admin_creates_staff_who_can_log_in(app, admin_client, role):
    assert admin_client.get("/alpha/admin/users/new").status_code == 200
    response = admin_client.post("/alpha/admin/users/new", data=_user_form(role=role))
    assert response.status_code == 302
    user = _user("nouveau@alpha.example")
    assert user.role == role and user.password_hash.startswith("$argon2")
    client = app.test_client()
    assert client.post("/alpha/login", data={"email": "nouveau@alpha.example",
                                             "password": "un-mot-de-passe-long"}).status_code == 302
    assert audit_events("users", user.id)[0].action == "create"
    assert "password" not in (audit_events("users", user.id)[0].after or {})


def test_agent_is_tied_to_a_partner(admin_client, make_partner):
    partner = make_partner(name="Agence Loire")
    response = admin_client.post("/alpha/admin/users/new", data=_user_form(
        role="agent", partner=f"Agence Loire · #{partner.id}"))
    assert response.status_code == 302
    assert _user("nouveau@alpha.example").partner_id == partner.id


def test_subscriber_is_tied_to_an_account(admin_client, make_account):
    account = make_account(name="Client Fidèle")
    response = admin_client.post("/alpha/admin/users/new", data=_user_form(
        role="subscriber", account=f"#{account.id}"))
    assert response.status_code == 302
    user = _user("nouveau@alpha.example")
    assert user.account_id == account.id and user.partner_id is None


@pytest.mark.parametrize("over, message", [
    ({"role": "agent"}, "An agent belongs to a partner."),
    ({"role": "subscriber"}, "A subscriber belongs to a customer account."),
    ({"role": "agent", "partner": "#999999"}, "Unknown record."),
    ({"role": "agent", "partner": "#3000000000"}, "Unknown record."),
    ({"email": "pas-un-email"}, "Enter a valid e-mail address."),
    ({"password": "court"}, None),
    ({"role": "superuser"}, None),
    ({"email": "x" * 250 + "@a.fr"}, None),
    ({"full_name": "N" * 201}, None),
    ({"locale": "de"}, None),
])
def test_bad_users_are_refused(admin_client, over, message):
    users = count_rows(User)
    response = admin_client.post("/alpha/admin/users/new", data=_user_form(**over))
    assert response.status_code == 200
    if message:
        assert fr(message) in text(response)
    assert count_rows(User) == users


def test_email_is_unique_in_the_tenant(admin_client, make_user, other_tenant, in_tenant):
    make_user("sales", email="pris@alpha.example")
    response = admin_client.post("/alpha/admin/users/new", data=_user_form(
        email="PRIS@alpha.example"))
    assert fr("A user with this e-mail already exists.") in text(response)
    # The same address may exist in another tenant.
    in_tenant(other_tenant, create_user, {"email": "libre@alpha.example", "password": PASSWORD,
                                          "role": "sales"})
    assert admin_client.post("/alpha/admin/users/new", data=_user_form(
        email="libre@alpha.example")).status_code == 302


def test_admin_edits_a_user_and_the_change_is_audited(app, admin_client, make_user):
    user = make_user("sales", full_name="Sam Vendeur")
    page = admin_client.get(f"/alpha/admin/users/{user.id}")
    assert "Sam Vendeur" in page.data.decode()
    response = admin_client.post(f"/alpha/admin/users/{user.id}", data={
        "full_name": "Sam Directeur", "role": "admin", "locale": "en", "is_active": "y",
        "password": ""})
    assert response.status_code == 302
    changed = _user(user.email)
    assert (changed.full_name, changed.role, changed.locale) == ("Sam Directeur", "admin", "en")
    event = audit_events("users", user.id)[-1]
    assert event.before["role"] == "sales" and event.after["role"] == "admin"
    history = text(admin_client.get(f"/alpha/admin/users/{user.id}"))
    assert "Sam Directeur" in history


def test_password_change_and_deactivation(app, admin_client, make_user):
    user = make_user("sales")
    admin_client.post(f"/alpha/admin/users/{user.id}", data={
        "full_name": "", "role": "sales", "locale": "", "is_active": "y",
        "password": "nouveau-secret-1"})
    client = app.test_client()
    assert client.post("/alpha/login", data={"email": user.email,
                                             "password": "nouveau-secret-1"}).status_code == 302
    assert audit_events("users", user.id)[-2].after.get("password") == "changed"
    admin_client.post(f"/alpha/admin/users/{user.id}", data={"role": "sales", "locale": "",
                                                              "password": ""})
    assert _user(user.email).is_active is False
    # A deactivated user's open session no longer works.
    assert client.get("/alpha/").status_code == 302


def test_admin_cannot_remove_his_own_admin_access(admin_client, admin_user):
    for data in ({"role": "sales", "locale": "", "is_active": "y"},
                 {"role": "admin", "locale": ""}):
        response = admin_client.post(f"/alpha/admin/users/{admin_user.id}", data=data)
        assert response.status_code == 200
        assert fr("You cannot remove your own administrator access.") in text(response)
    user = _user(admin_user.email)
    assert user.role == "admin" and user.is_active


def test_users_admin_is_for_admins_only(sales_client, make_user):
    user = make_user("sales")
    assert sales_client.get("/alpha/admin/users").status_code == 403
    assert sales_client.get(f"/alpha/admin/users/{user.id}").status_code == 403
    assert sales_client.post("/alpha/admin/users/new", data=_user_form(
        role="admin")).status_code == 403
    assert _user("nouveau@alpha.example") is None


def test_admin_menu_only_for_admins(admin_client, sales_client):
    assert "/alpha/admin/users" in admin_client.get("/alpha/").data.decode()
    assert "/alpha/admin/users" not in sales_client.get("/alpha/").data.decode()


def test_unknown_user_id_is_404(admin_client):
    assert admin_client.get("/alpha/admin/users/999999").status_code == 404


def test_created_agent_only_sees_his_partner(app, admin_client, make_partner, make_account,
                                             make_invoice):
    partner = make_partner(name="Agence Est")
    own = make_invoice(account=make_account(partner=partner.id).id)
    other = make_invoice()
    admin_client.post("/alpha/admin/users/new", data=_user_form(
        role="agent", partner=f"#{partner.id}"))
    agent = app.test_client()
    answer = agent.post("/alpha/login", data={"email": "nouveau@alpha.example",
                                              "password": "un-mot-de-passe-long"})
    assert answer.headers["Location"] == "/alpha/portal/"  # his space is the extranet
    listing = text(agent.get("/alpha/portal/invoices/"))
    assert own.number in listing and other.number not in listing
