"""Tokens of another tenant, and of a partner, never read, list, change, delete nor reference a
record out of their reach: 404 by id and by external_ref, "Unknown record." for references,
nothing of another partner in lists, changes or deletions."""
from __future__ import annotations

import io
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from app.entities import ENTITIES
from app.extensions import db
from app.services.attachments import add_attachment
from app.services.records import create_record, delete_record
from app.tenancy import SYSTEM, tenant_context
from tests.api.conftest import bearer, problem
from tests.api.records_support import english

ALL = list(ENTITIES)
PARTNER_OWNED = ["deals", "quotes", "orders", "contracts", "deliveries", "invoices"]


@pytest.fixture
def reach(tenant, world, make_partner, make_account, make_contact, make_deal, make_quote,
          make_order, make_contract, make_delivery, make_invoice,
          make_activity) -> SimpleNamespace:
    """Partner P001 (world) and its records; partner Q and one record of each entity of Q's,
    each with the external_ref `Q-<entity>`."""
    q = make_partner(name="Agence Sud", external_ref="Q-partners")
    account = make_account(name="Client Sud", partner=q.id, external_ref="Q-accounts")
    makers = {"contacts": make_contact, "deals": make_deal, "quotes": make_quote,
              "orders": make_order, "contracts": make_contract, "deliveries": make_delivery,
              "invoices": make_invoice, "activities": make_activity}
    records: dict[str, Any] = {"partners": q, "accounts": account}
    for name, make in makers.items():
        records[name] = make(account=account.id, external_ref=f"Q-{name}")
    records["attachments"] = add_attachment(account, "contrat.txt", io.BytesIO(b"Sud"))
    records["attachments"].external_ref = "Q-attachments"
    mine = {"contacts": make_contact(account=world.account.id, external_ref="P-contact"),
            "invoices": make_invoice(account=world.account.id, external_ref="P-invoice"),
            "activities": make_activity(account=world.account.id, external_ref="P-activity")}
    # Activities reach a partner's token only when the tenant shows them to its agents.
    tenant.is_portal_activities_enabled = True
    db.session.commit()
    return SimpleNamespace(q=q, records=records, mine=mine, world=world)


@pytest.fixture
def partner_client(app, make_token, world):
    """A token bound to partner P001, with read and write."""
    return english(bearer(app, make_token(scopes="read,write",
                                          partner_id=world.partner.id)[1]))


@pytest.fixture
def other_client(other_api_client, other_tenant, reach):
    """Tenant B's token; tenant B has a customer C001 of its own, and a contact."""
    with tenant_context(other_tenant.id, SYSTEM):
        account = create_record(ENTITIES["accounts"], {"name": "Beta client",
                                                       "external_ref": "C001"})
        create_record(ENTITIES["contacts"], {"last_name": "Beta", "account": account.id,
                                             "external_ref": "B-contact"})
        db.session.commit()
        other_api_client.beta_account_id = account.id
    return english(other_api_client)


def _out_of_reach(client, entity, record) -> None:
    url = f"/api/v1/{entity}/{record.id}"
    by_ref = f"/api/v1/{entity}/by-ref/{record.external_ref}"
    for response in (client.get(url), client.get(by_ref)):
        problem(response, 404)
    if entity != "attachments":
        for response in (client.patch(url, json={"external_ref": "X"}), client.delete(url),
                         client.patch(by_ref, json={"external_ref": "X"}),
                         client.delete(by_ref)):
            problem(response, 404)
    else:
        problem(client.get(f"{url}/content"), 404)
    since = "2000-01-01T00:00:00Z"
    for query in ("?limit=500", "?limit=500&archived=all", f"?updated_since={since}&limit=500"):
        listed = client.get(f"/api/v1/{entity}{query}").get_json()
        assert record.id not in [r["id"] for r in listed], (entity, query)
    model = ENTITIES[entity].model
    db.session.expire_all()
    assert db.session.scalar(select(model.external_ref).where(model.id == record.id)) \
        == record.external_ref  # neither changed nor deleted


@pytest.mark.parametrize("entity", ALL)
def test_another_tenant_reaches_nothing(other_client, reach, entity):
    _out_of_reach(other_client, entity, reach.records[entity])


@pytest.mark.parametrize("entity", ALL)
def test_a_partner_token_reaches_nothing_of_another_partner(partner_client, reach, entity):
    _out_of_reach(partner_client, entity, reach.records[entity])


@pytest.mark.parametrize("entity", ALL)
def test_a_partner_token_lists_only_its_partners_records(partner_client, reach, entity):
    world = reach.world
    for query in ("?limit=500", "?limit=500&updated_since=2000-01-01T00:00:00Z"):
        rows = partner_client.get(f"/api/v1/{entity}{query}").get_json()
        if entity == "partners":
            assert [r["id"] for r in rows] == [world.partner.id]
        elif entity == "accounts":
            assert [r["id"] for r in rows] == [world.account.id]
        elif entity in ("contacts", "attachments", "activities"):
            assert {r["account_id"] for r in rows} <= {world.account.id}
        else:
            assert {r["partner_id"] for r in rows} <= {world.partner.id}
            assert rows or entity in ("contracts", "deliveries")
        assert not any(str(r.get("external_ref") or "").startswith("Q-") for r in rows)


def test_another_tenants_records_are_unknown_references(other_client, reach):
    world = reach.world
    for body, key in (({"account_id": world.account.id}, "account_id"),
                      ({"account_ref": "Q-accounts"}, "account_ref")):
        response = other_client.post("/api/v1/contacts", json={"last_name": "X", **body})
        assert problem(response, 422)["errors"] == {key: ["Unknown record."]}
    # The same external_ref in tenant B is tenant B's own record.
    own = other_client.post("/api/v1/contacts", json={"last_name": "X", "account_ref": "C001"})
    assert own.status_code == 201
    assert own.get_json()["account_id"] == other_client.beta_account_id
    assert other_client.get("/api/v1/accounts/by-ref/C001").get_json()["id"] == \
        other_client.beta_account_id
    assert other_client.get(f"/api/v1/invoices?account_id={world.account.id}").get_json() == []


def test_a_partner_token_cannot_reference_another_partners_records(partner_client, reach):
    q_account = reach.records["accounts"]
    cases = [({"account_ref": "Q-accounts"}, "account_ref"),
             ({"account_id": q_account.id}, "account_id"),
             ({"account_ref": "C001", "partner_id": reach.q.id}, "partner_id"),
             ({"account_ref": "C001", "partner_ref": "Q-partners"}, "partner_ref"),
             ({"account_ref": "C001", "order_ref": "Q-orders"}, "order_ref")]
    for body, key in cases:
        response = partner_client.post("/api/v1/invoices", json=body)
        assert problem(response, 422)["errors"] == {key: ["Unknown record."]}, body
    assert partner_client.get("/api/v1/invoices?account_ref=Q-accounts").get_json() == []
    assert partner_client.get(f"/api/v1/invoices?account_id={q_account.id}").get_json() == []
    assert partner_client.get(f"/api/v1/invoices?partner_id={reach.q.id}").get_json() == []
    mine = partner_client.patch(f"/api/v1/invoices/{reach.mine['invoices'].id}",
                                json={"account_id": q_account.id})
    assert problem(mine, 422)["errors"] == {"account_id": ["Unknown record."]}


def test_a_partner_token_writes_only_within_its_partner(partner_client, reach, make_user):
    world = reach.world
    created = partner_client.post("/api/v1/accounts", json={"name": "Nouveau client"})
    assert created.status_code == 201
    assert created.get_json()["partner_id"] == world.partner.id  # its partner by default
    url = f"/api/v1/accounts/{created.get_json()['id']}"
    away = partner_client.patch(url, json={"partner_id": None})
    assert problem(away, 422)["errors"] == {
        "partner_id": ["A partner's token can only write records of its partner."]}
    assert partner_client.get(url).get_json()["partner_id"] == world.partner.id
    problem(partner_client.post("/api/v1/partners", json={"name": "Agence pirate"}), 403)
    owner = make_user("sales")
    assert problem(partner_client.patch(url, json={"owner_id": owner.id}), 422)["errors"] == {
        "owner_id": ["Unknown record."]}
    contact = partner_client.post("/api/v1/contacts", json={"last_name": "Durand",
                                                           "account_ref": "C001"})
    assert contact.status_code == 201
    invoice = partner_client.post("/api/v1/invoices", json={"account_ref": "C001"}).get_json()
    assert invoice["partner_id"] == world.partner.id
    assert partner_client.delete(url).status_code == 204


def test_a_read_only_partner_token_cannot_write(app, make_token, world):
    client = bearer(app, make_token(scopes="read", partner_id=world.partner.id)[1])
    assert client.get(f"/api/v1/accounts/{world.account.id}").status_code == 200
    problem(client.patch(f"/api/v1/accounts/{world.account.id}", json={"city": "Lille"}), 403)
    problem(client.post("/api/v1/accounts", json={"name": "X"}), 403)


def test_a_partner_token_sees_only_extranet_custom_fields(partner_client, en_client, reach,
                                                          make_field, make_user):
    make_field("accounts", "secteur", is_portal_visible=True)
    make_field("accounts", "marge", type="decimal")
    account = reach.world.account
    account.custom = {"secteur": "Nord", "marge": "12.5"}
    account.owner_id = make_user("sales").id
    db.session.commit()
    seen = partner_client.get(f"/api/v1/accounts/{account.id}").get_json()
    assert seen["custom"] == {"secteur": "Nord"} and seen["owner_id"] is None
    assert en_client.get(f"/api/v1/accounts/{account.id}").get_json()["custom"] == {
        "secteur": "Nord", "marge": "12.5"}
    hidden = partner_client.patch(f"/api/v1/accounts/{account.id}",
                                  json={"custom": {"marge": "50"}})
    assert problem(hidden, 422)["errors"] == {"custom.marge": ["Unknown custom field “marge”."]}
    # A filter on a field it may not see is refused as unknown: nothing to learn from it.
    assert list(problem(partner_client.get("/api/v1/accounts?cf_marge_min=99"), 400)[
        "errors"]) == ["cf_marge_min"]
    assert partner_client.get("/api/v1/accounts?cf_secteur=Sud").get_json() == []


def test_related_records_out_of_reach_are_not_shown(partner_client, reach, make_invoice):
    # An invoice of partner P for a customer of partner Q: P sees the invoice, not the customer.
    invoice = make_invoice(account=reach.records["accounts"].id, partner=reach.world.partner.id)
    seen = partner_client.get(f"/api/v1/invoices/{invoice.id}").get_json()
    assert seen["partner_id"] == reach.world.partner.id
    assert seen["account_id"] is None and seen["account_ref"] is None


def test_deletions_are_reported_within_reach_only(partner_client, other_client, en_client,
                                                  reach):
    since = datetime.now(UTC).isoformat()
    for record in (reach.records["contacts"], reach.mine["contacts"], reach.records["deals"]):
        delete_record(record)
    db.session.commit()
    query = {"since": since}
    assert [r["external_ref"] for r in partner_client.get(
        "/api/v1/contacts/deleted", query_string=query).get_json()] == ["P-contact"]
    assert partner_client.get("/api/v1/deals/deleted", query_string=query).get_json() == []
    assert [r["external_ref"] for r in en_client.get(
        "/api/v1/contacts/deleted", query_string=query).get_json()] == ["Q-contacts", "P-contact"]
    assert other_client.get("/api/v1/contacts/deleted", query_string=query).get_json() == []
    assert other_client.get("/api/v1/deals/deleted", query_string=query).get_json() == []


def test_a_deleted_draft_is_no_news_to_a_partner_token(partner_client, en_client, reach,
                                                       make_quote):
    world = reach.world
    since = datetime.now(UTC).isoformat()
    draft = make_quote(account=world.account.id, status="draft", external_ref="P-draft")
    sent = make_quote(account=world.account.id, status="sent", external_ref="P-sent")
    for quote in (draft, sent):
        delete_record(quote)
    db.session.commit()
    query = {"since": since}
    assert [r["external_ref"] for r in partner_client.get(
        "/api/v1/quotes/deleted", query_string=query).get_json()] == ["P-sent"]
    assert [r["external_ref"] for r in en_client.get(
        "/api/v1/quotes/deleted", query_string=query).get_json()] == ["P-draft", "P-sent"]


def _bulk(client, entity, items):
    response = client.post(f"/api/v1/{entity}/bulk", json={"items": items})
    assert response.status_code == 200, response.data[:500]
    return response.get_json()["items"]


def test_a_partner_tokens_bulk_upsert_stays_within_its_partner(partner_client, reach,
                                                               make_field):
    make_field("invoices", "marge", type="decimal")
    world, q_account = reach.world, reach.records["accounts"]
    issued = {"account_ref": "C001", "status": "issued"}
    items = [
        {"external_ref": "P-NEW", **issued},
        {"external_ref": "Q-invoices", **issued},
        {"external_ref": "P-2", "account_ref": "Q-accounts"},
        {"external_ref": "P-3", "account_id": q_account.id},
        {"external_ref": "P-4", **issued, "partner_ref": "Q-partners"},
        {"external_ref": "P-5", **issued, "order_ref": "Q-orders"},
        {"external_ref": "P-6", "account_ref": "C001", "status": "draft"},
        {"external_ref": "P-7", **issued, "custom": {"marge": "50"}},
        {"external_ref": "P-invoice", "status": "paid"},
    ]
    results = _bulk(partner_client, "invoices", items)
    assert [r["status"] for r in results] == ["created", "error", "error", "error", "error",
                                              "error", "error", "error", "updated"]
    assert [r.get("errors") for r in results[1:8]] == [
        {"external_ref": ["This reference is already used."]},
        {"account_ref": ["Unknown record."]},
        {"account_id": ["Unknown record."]},
        {"partner_ref": ["Unknown record."]},
        {"order_ref": ["Unknown record."]},
        {"partner_id": ["A partner's token can only write records of its partner."]},
        {"custom.marge": ["Unknown custom field “marge”."]},
    ]
    created = partner_client.get(f"/api/v1/invoices/{results[0]['id']}").get_json()
    assert created["partner_id"] == world.partner.id  # its partner's, as with POST
    db.session.expire_all()
    q_invoice = reach.records["invoices"]
    assert (q_invoice.status, q_invoice.partner_id) != ("issued", world.partner.id)
    assert q_invoice.account_id == q_account.id
    mine = partner_client.get(f"/api/v1/invoices/{reach.mine['invoices'].id}").get_json()
    assert mine["status"] == "paid"
    accounts = _bulk(partner_client, "accounts", [
        {"external_ref": "C001", "city": "Lille"},
        {"external_ref": "Q-accounts", "city": "Lille"},
        {"external_ref": "P-ACC", "name": "Client neuf", "partner_id": None}])
    assert [r["status"] for r in accounts] == ["updated", "error", "error"]
    assert reach.records["accounts"].city != "Lille"


def test_another_tenants_bulk_upsert_reaches_nothing(other_client, reach):
    world = reach.world
    results = _bulk(other_client, "contacts", [
        {"external_ref": "P-contact", "last_name": "Beta", "account_ref": "C001"},
        {"external_ref": "B-2", "last_name": "Beta", "account_id": world.account.id},
        {"external_ref": "B-3", "last_name": "Beta", "account_ref": "Q-accounts"}])
    # Tenant A's P-contact is not tenant B's: B creates its own, attached to its own C001.
    assert [r["status"] for r in results] == ["created", "error", "error"]
    assert other_client.get(f"/api/v1/contacts/{results[0]['id']}").get_json()[
        "account_id"] == other_client.beta_account_id
    db.session.expire_all()
    assert reach.mine["contacts"].last_name != "Beta"
    assert reach.mine["contacts"].account_id == world.account.id
