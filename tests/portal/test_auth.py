"""Logging into and out of the extranet, its language, and which space each user lands in."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.conftest import PASSWORD, page_text

# Every extranet endpoint and the test file that exercises it.
COVERED = {
    "portal.login": "test_auth.py", "portal.logout": "test_auth.py",
    "portal.set_language": "test_auth.py", "portal.home": "test_home.py",
    "portal.profile": "test_home.py", "portal.theme": "../backoffice/test_extranet_look.py",
    "portal.logo": "../backoffice/test_extranet_look.py",
    "portal.record_list": "test_records.py", "portal.record_detail": "test_records.py",
    "portal.activity_add": "test_activities.py",
    "portal.record_export": "test_records.py", "portal.attachment_download": "test_records.py",
    "portal.answer_quote": "test_records.py", "portal.forgot_password": "test_passwords.py",
    "portal.reset_password": "test_passwords.py", "portal.accept_invitation": "test_passwords.py",
    "portal.profile_end_sessions": "../backoffice/test_sessions.py",
    "portal.profile_password": "../backoffice/test_change_password.py",
    "portal.record_pdf": "test_documents.py",
    "portal.direct_debit": "test_direct_debit.py", "portal.mandate_detail": "test_direct_debit.py",
}


def test_every_extranet_endpoint_has_a_view_test(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if rule.endpoint.startswith("portal.")}
    assert endpoints == COVERED.keys(), "a new extranet page needs a view test"


def _log_in(client, email, password=PASSWORD, next_url=""):
    return client.post(f"/alpha/portal/login{next_url}",
                       data={"email": email, "password": password})


@pytest.mark.parametrize("role", ["agent", "subscriber"])
def test_agents_and_subscribers_log_in_and_out_of_the_extranet(client, make_user, make_partner,
                                                               make_account, role):
    user = make_user(role, partner_id=make_partner().id) if role == "agent" \
        else make_user(role, account_id=make_account().id)
    page = client.get("/alpha/portal/login")
    assert page.status_code == 200 and "Alpha" in page_text(page)
    answer = _log_in(client, user.email, next_url="?next=/alpha/portal/invoices/")
    assert answer.status_code == 302 and answer.headers["Location"] == "/alpha/portal/invoices/"
    assert client.get("/alpha/portal/").status_code == 200
    assert client.post("/alpha/portal/logout").headers["Location"] == "/alpha/portal/login"
    assert client.get("/alpha/portal/").status_code == 302
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["login", "logout"]


def test_staff_logging_in_at_the_extranet_land_in_the_back_office(client, make_user):
    sales = make_user("sales")
    answer = _log_in(client, sales.email, next_url="?next=/alpha/portal/invoices/")
    assert answer.headers["Location"] == "/alpha/"


def test_an_agent_logging_in_at_the_back_office_lands_in_his_extranet(client, make_user,
                                                                     make_partner):
    agent = make_user("agent", partner_id=make_partner().id)
    answer = client.post("/alpha/login?next=/alpha/invoices/",
                         data={"email": agent.email, "password": PASSWORD})
    assert answer.headers["Location"] == "/alpha/portal/"


def test_a_wrong_password_is_refused_and_limited(app, client, make_user, make_partner):
    agent = make_user("agent", partner_id=make_partner().id)
    answer = _log_in(client, agent.email, "mauvais-mot-de-passe")
    assert answer.status_code == 200
    assert "E-mail ou mot de passe incorrect." in page_text(answer)
    for _ in range(10):
        answer = _log_in(client, agent.email, "mauvais-mot-de-passe")
    assert answer.status_code == 429
    assert client.get("/alpha/portal/").status_code == 302  # never logged in


def test_a_session_of_one_tenant_opens_nothing_in_another(client, make_user, make_partner,
                                                          other_tenant):
    agent = make_user("agent", partner_id=make_partner().id)
    _log_in(client, agent.email)
    assert client.get(f"/{other_tenant.slug}/portal/").status_code == 302


def test_the_language_can_be_chosen_before_logging_in(client, tenant):
    answer = client.get("/alpha/portal/language/en?next=/alpha/portal/login")
    assert answer.headers["Location"] == "/alpha/portal/login"
    assert "Your extranet" in page_text(client.get("/alpha/portal/login"))
    answer = client.get("/alpha/portal/language/fr?next=https://evil.example/")
    assert answer.headers["Location"] == "/alpha/portal/login"
    assert "Votre extranet" in page_text(client.get("/alpha/portal/login"))


LINE_BREAKS = ["/\r\nLocation: http://evil.example/", "/alpha/portal/\r\nSet-Cookie: a=b",
               "/alpha/portal/invoices/\n", "\r/evil.example"]


@pytest.mark.parametrize("target", LINE_BREAKS)
def test_a_next_with_line_breaks_is_not_followed_after_logging_in(client, make_user,
                                                                  make_partner, target):
    user = make_user("agent", partner_id=make_partner().id)
    answer = client.post("/alpha/portal/login", query_string={"next": target},
                         data={"email": user.email, "password": PASSWORD})
    assert answer.status_code == 302 and answer.headers["Location"] == "/alpha/portal/"
    assert "Set-Cookie: a=b" not in str(answer.headers)


@pytest.mark.parametrize("target", LINE_BREAKS)
def test_a_next_with_line_breaks_is_not_followed_after_choosing_a_language(client, tenant,
                                                                           target):
    answer = client.get("/alpha/portal/language/en", query_string={"next": target})
    assert answer.status_code == 302 and answer.headers["Location"] == "/alpha/portal/login"


def test_an_unknown_tenant_has_no_extranet(client, tenant):
    assert client.get("/nobody/portal/login").status_code == 404
