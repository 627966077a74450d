"""Activities in the extranet: agents see and add them on their records only when the tenant
shows them, never the staff-only ones; subscribers never."""
from __future__ import annotations

from sqlalchemy import select

from app import models as m
from app.extensions import db
from tests.backoffice.conftest import text


def _show_activities(tenant) -> None:
    tenant.is_portal_activities_enabled = True
    db.session.commit()


def test_agents_see_no_activities_until_the_tenant_shows_them(
        tenant, portal_agent, make_activity):
    account = portal_agent.account
    make_activity(account=account.id, subject="Appel partagé")
    make_activity(account=account.id, subject="Marge à négocier", is_staff_only=True)
    url = f"/alpha/portal/accounts/{account.id}"
    assert "Appel partagé" not in text(portal_agent.get(url))
    assert portal_agent.post(f"{url}/activities",
                             data={"kind": "note", "subject": "x"}).status_code == 404
    _show_activities(tenant)
    page = text(portal_agent.get(url))
    assert "Appel partagé" in page and "Marge à négocier" not in page


def test_an_agent_adds_an_activity_on_his_customer(tenant, portal_agent):
    _show_activities(tenant)
    account = portal_agent.account
    response = portal_agent.post(f"/alpha/portal/accounts/{account.id}/activities", data={
        "kind": "meeting", "subject": "Visite showroom", "body": "Avec le gérant"},
        follow_redirects=True)
    assert response.status_code == 200 and "Visite showroom" in text(response)
    activity = db.session.scalars(select(m.Activity)).one()
    assert (activity.account_id, activity.kind, activity.is_staff_only) == (
        account.id, "meeting", False)
    assert activity.created_by.role == "agent"


def test_an_agent_reaches_no_other_partners_record(tenant, portal_agent, make_account,
                                                   make_partner):
    _show_activities(tenant)
    other = make_account(partner=make_partner().id)
    assert portal_agent.post(f"/alpha/portal/accounts/{other.id}/activities",
                             data={"kind": "note", "subject": "x"}).status_code == 404
    assert db.session.scalars(select(m.Activity)).all() == []


def test_subscribers_never_see_nor_add_activities(tenant, portal_subscriber, make_invoice,
                                                  make_activity):
    _show_activities(tenant)
    invoice = make_invoice(account=portal_subscriber.account.id)
    make_activity(account=portal_subscriber.account.id, invoice=invoice.id,
                  subject="Relance facture")
    url = f"/alpha/portal/invoices/{invoice.id}"
    assert "Relance facture" not in text(portal_subscriber.get(url))
    assert portal_subscriber.post(f"{url}/activities",
                                  data={"kind": "note", "subject": "x"}).status_code == 404


def test_the_admin_turns_activities_on_in_the_extranet_settings(tenant, admin_client):
    response = admin_client.post("/alpha/admin/extranet", data={
        "portal_color": "#0d6efd", "portal_activities": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(m.Tenant, tenant.id).is_portal_activities_enabled
    admin_client.post("/alpha/admin/extranet", data={"portal_color": "#0d6efd"})
    db.session.expire_all()
    assert not db.session.get(m.Tenant, tenant.id).is_portal_activities_enabled
