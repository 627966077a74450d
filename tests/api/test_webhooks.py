"""/api/v1/webhooks: endpoints managed through the API as in the back office, the secret shown
once, deliveries readable, partner tokens and other tenants kept out."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from app.webhooks.events import all_events
from tests.api.conftest import bearer, problem
from tests.api.records_support import english

URL = "https://hooks.example.com/relais"
GIVEN = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, as a library generates


@pytest.fixture(autouse=True)
def _public_addresses(app, monkeypatch):
    """The machine has no DNS: example.com stands for a public host."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)


def test_register_read_change_and_delete_an_endpoint(en_client, make_partner):
    created = en_client.post("/api/v1/webhooks", json={
        "url": URL, "events": ["invoices.created", "partners.updated"],
        "description": "ERP"})
    assert created.status_code == 201, created.data[:500]
    body = created.get_json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and body["secret_prefix"] == secret[:12]
    assert body["is_active"] is True and body["events"] == ["partners.updated",
                                                            "invoices.created"]
    url = created.headers["Location"]
    read = en_client.get(url)
    assert read.status_code == 200 and "secret" not in read.get_json()
    assert secret not in read.get_data(as_text=True)
    listed = en_client.get("/api/v1/webhooks").get_json()
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]

    changed = en_client.patch(url, json={"events": ["partners.created"]},
                              headers={"If-Match": read.headers["ETag"]})
    assert changed.status_code == 200 and "secret" not in changed.get_json()
    assert changed.get_json()["url"] == URL and changed.get_json()["events"] == [
        "partners.created"]
    stale = en_client.patch(url, json={"description": "x"},
                            headers={"If-Match": read.headers["ETag"]})
    problem(stale, 412)
    renewed = en_client.patch(url, json={"renew_secret": True}).get_json()
    assert renewed["secret"] != secret and renewed["secret"].startswith("whsec_")

    make_partner(name="Agence Est")
    db.session.commit()
    (delivery,) = en_client.get(f"{url}/deliveries").get_json()
    assert delivery["event"] == "partners.created" and delivery["status"] == "pending"
    assert delivery["payload"]["data"]["after"]["name"] == "Agence Est"

    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity == "webhook_endpoints").order_by(AuditEvent.id)).all()
    assert actions == ["create", "update", "update"]
    assert en_client.delete(url).status_code == 204
    problem(en_client.get(url), 404)
    assert db.session.scalar(select(WebhookDelivery.id)) is None


def test_disable_enable_and_ping(en_client):
    body = en_client.post("/api/v1/webhooks", json={
        "url": URL, "events": ["import.failed"], "secret": GIVEN}).get_json()
    assert body["secret"] == GIVEN
    url = f"/api/v1/webhooks/{body['id']}"
    off = en_client.patch(url, json={"is_active": False}).get_json()
    assert off["is_active"] is False and off["disabled_reason"] == "Disabled through the API."
    refused = problem(en_client.post(f"{url}/ping"), 422)
    assert "Enable the endpoint" in refused["errors"]["_schema"][0]
    assert en_client.patch(url, json={"is_active": True}).get_json()["is_active"] is True
    ping = en_client.post(f"{url}/ping")
    assert ping.status_code == 202 and ping.get_json()["event"] == "ping"
    pending = en_client.get(f"{url}/deliveries?status=pending").get_json()
    assert [d["event"] for d in pending] == ["ping"]
    assert en_client.get(f"{url}/deliveries?status=failed").get_json() == []


def test_an_endpoint_is_validated_as_in_the_back_office(en_client, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    body = problem(en_client.post("/api/v1/webhooks", json={
        "url": "http://127.0.0.1:8080/hook", "events": ["nothing.happened"],
        "secret": "short"}), 422)
    assert set(body["errors"]) == {"url", "events", "secret"}
    assert body["errors"]["url"] == ["This address is private or local: webhooks only go to "
                                     "addresses reachable from the Internet."]
    assert body["errors"]["events"] == [
        f"Unknown event: nothing.happened (known: {', '.join(all_events())})."]
    french = problem(en_client.post("/api/v1/webhooks", json={
        "url": URL, "events": ["invoices.created", "invoice.paid"]},
        headers={"Accept-Language": "fr"}), 422)
    (message,) = french["errors"]["events"]
    assert message.startswith("Événement inconnu : invoice.paid (connus : partners.created, ")
    problem(en_client.post("/api/v1/webhooks", json={"url": URL}), 422)
    assert db.session.scalar(select(WebhookEndpoint.id)) is None


def test_partner_tokens_read_tokens_and_other_tenants_are_kept_out(
        app, en_client, other_api_client, make_token, world):
    endpoint = en_client.post("/api/v1/webhooks", json={
        "url": URL, "events": ["invoices.created"]}).get_json()
    url = f"/api/v1/webhooks/{endpoint['id']}"
    partner = english(bearer(app, make_token(scopes="read,write",
                                             partner_id=world.partner.id)[1]))
    for response in (partner.get("/api/v1/webhooks"), partner.get(url),
                     partner.post("/api/v1/webhooks", json={"url": URL,
                                                            "events": ["invoices.created"]})):
        problem(response, 403)
    reader = english(bearer(app, make_token(scopes="read")[1]))
    assert reader.get(url).status_code == 200
    problem(reader.patch(url, json={"description": "x"}), 403)
    problem(reader.delete(url), 403)
    for response in (other_api_client.get(url), other_api_client.delete(url),
                     other_api_client.patch(url, json={"is_active": False}),
                     other_api_client.post(f"{url}/ping"),
                     other_api_client.get(f"{url}/deliveries")):
        problem(response, 404)
    assert other_api_client.get("/api/v1/webhooks").get_json() == []
    assert en_client.get(url).get_json()["is_active"] is True


@pytest.mark.parametrize("host", ["64:ff9b:1::a00:1", "2001:0:7f00:1:0:f7ff:f5f7:f7f7",
                                  "::ffff:127.0.0.1"])
def test_an_endpoint_on_an_address_standing_for_a_local_one_is_refused(en_client, app,
                                                                       monkeypatch, host):
    # NAT64 local-use prefix (64:ff9b:1::/48), Teredo (2001::/32, server 127.0.0.1),
    # IPv4-mapped loopback: each judged by the IPv4 address inside it.
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    body = problem(en_client.post("/api/v1/webhooks", json={
        "url": f"https://[{host}]/hook", "events": ["invoices.created"]}), 422)
    assert body["errors"] == {"url": ["This address is private or local: webhooks only go to "
                                      "addresses reachable from the Internet."]}
    assert db.session.scalar(select(WebhookEndpoint.id)) is None
