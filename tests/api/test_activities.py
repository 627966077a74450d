"""/api/v1/activities: filters by record, owner, due time, done and changes since a time;
writes by a token; documented in the OpenAPI document."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.extensions import db
from app.models import Activity
from tests.api.conftest import problem


def test_activities_filter_by_record_owner_due_time_and_done(
        api_client, make_account, make_deal, make_activity, make_user):
    owner = make_user("sales")
    account = make_account()
    deal = make_deal(account=account.id)
    due = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    on_deal = make_activity(account=account.id, deal=deal.id, subject="Sur l'affaire",
                            owner=owner.id, due_at=due)
    done = make_activity(account=account.id, subject="Faite", due_at=due + timedelta(days=5),
                         done_at=due)
    elsewhere = make_activity(subject="Ailleurs", due_at=due - timedelta(days=5))

    def ids(query: str) -> list[int]:
        response = api_client.get(f"/api/v1/activities?{query}")
        assert response.status_code == 200, response.data[:300]
        return sorted(r["id"] for r in response.get_json())

    assert ids(f"deal_id={deal.id}") == [on_deal.id]
    assert ids(f"account_id={account.id}") == sorted([on_deal.id, done.id])
    assert ids(f"owner_id={owner.id}") == [on_deal.id]
    assert ids("due_at_from=2026-12-09T00:00:00Z&due_at_to=2026-12-11T00:00:00Z") == [on_deal.id]
    assert ids("done=true") == [done.id]
    assert ids("done=false") == sorted([on_deal.id, elsewhere.id])
    assert ids("updated_since=2000-01-01T00:00:00Z&kind=call") == \
        sorted([on_deal.id, done.id, elsewhere.id])
    assert "done" in problem(api_client.get("/api/v1/activities?done=peut-etre"), 422)["errors"]


def test_a_token_creates_changes_and_deletes_an_activity(api_client, make_account):
    make_account(external_ref="C001")
    response = api_client.post("/api/v1/activities", json={
        "kind": "meeting", "subject": "Visite du chantier", "account_ref": "C001",
        "due_at": "2026-12-10T14:00:00+01:00", "is_staff_only": True})
    assert response.status_code == 201, response.data[:300]
    body = response.get_json()
    assert body["due_at"].startswith("2026-12-10T13:00:00") and body["is_staff_only"] is True
    url = f"/api/v1/activities/{body['id']}"
    etag = api_client.get(url).headers["ETag"]
    changed = api_client.patch(url, json={"done_at": "2026-12-10T15:00:00Z"},
                               headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["done_at"].startswith("2026-12-10T15")
    etag = api_client.get(url).headers["ETag"]
    assert api_client.delete(url, headers={"If-Match": etag}).status_code == 204
    assert db.session.get(Activity, body["id"]) is None


def test_an_activity_needs_its_customer_and_a_valid_moment(api_client, make_account):
    account = make_account()
    errors = problem(api_client.post("/api/v1/activities", json={
        "kind": "call", "subject": "Appel"}), 422)["errors"]
    assert "account_id" in errors or "account_ref" in errors
    errors = problem(api_client.post("/api/v1/activities", json={
        "kind": "call", "subject": "Appel", "account_id": account.id,
        "due_at": "demain"}), 422)["errors"]
    assert "due_at" in errors


def test_the_openapi_document_describes_activities(api_client):
    spec = api_client.get("/api/v1/openapi.json").get_json()
    parameters = {p.get("name") for p in spec["paths"]["/api/v1/activities"]["get"]["parameters"]}
    assert {"deal_id", "owner_id", "due_at_from", "due_at_to", "done",
            "updated_since"} <= parameters
    assert "/api/v1/activities/{record_id}" in spec["paths"]


def test_a_partner_token_reads_its_customers_activities_but_changes_none(
        app, tenant, make_token, make_partner, make_account, make_activity):
    from tests.api.conftest import bearer

    partner = make_partner()
    account = make_account(partner=partner.id)
    shared = make_activity(account=account.id, subject="Partagée")
    make_activity(account=account.id, subject="Interne", is_staff_only=True)
    tenant.is_portal_activities_enabled = True
    db.session.commit()
    client = bearer(app, make_token(scopes="read,write", partner_id=partner.id)[1])
    listed = client.get("/api/v1/activities").get_json()
    assert [r["subject"] for r in listed] == ["Partagée"]
    url = f"/api/v1/activities/{shared.id}"
    etag = client.get(url).headers["ETag"]
    response = client.patch(url, json={"subject": "Changée"}, headers={"If-Match": etag})
    assert response.status_code in (403, 422), response.data[:300]
    db.session.expire_all()
    assert db.session.get(Activity, shared.id).subject == "Partagée"
