"""The webhooks pages: an admin registers an endpoint (its secret shown once), changes it,
tests it, reads the delivery log, sends a delivery again, deletes it. Admins only, own tenant
only."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from app.extensions import db
from app.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks.events import all_events
from tests.backoffice.conftest import fr, text
from tests.webhooks.conftest import DELAY, deliveries, wait_until

SECRET = re.compile(r"whsec_[A-Za-z0-9+/]{20,}=*")
GIVEN = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, as a library generates


def _endpoint() -> WebhookEndpoint:
    db.session.expire_all()
    return db.session.scalar(select(WebhookEndpoint))


def test_an_admin_registers_a_webhook_and_sees_its_secret_once(admin_client, receiver):
    assert fr("No webhook yet.") in text(admin_client.get("/alpha/admin/webhooks"))
    form = admin_client.get("/alpha/admin/webhooks/new")
    assert form.status_code == 200 and 'value="invoices.updated"' in form.text

    response = admin_client.post("/alpha/admin/webhooks/new", data={
        "url": receiver.url, "description": "ERP", "events": ["invoices.created",
                                                              "import.finished"]})
    assert response.status_code == 200
    assert fr("Copy this secret now: it will not be shown again.") in text(response)
    secret = SECRET.search(response.text).group(0)
    endpoint = _endpoint()
    assert endpoint.secret == secret and endpoint.secret_prefix == secret[:12]
    assert endpoint.events == ["invoices.created", "import.finished"]
    assert endpoint.is_active and endpoint.description == "ERP"

    listing = admin_client.get("/alpha/admin/webhooks")
    assert receiver.url in text(listing) and "ERP" in text(listing)
    assert secret not in listing.text
    page = admin_client.get(f"/alpha/admin/webhooks/{endpoint.id}")
    assert page.status_code == 200
    assert secret not in page.text and f"{endpoint.secret_prefix}…" in text(page)
    assert 'value="invoices.created" id="event-invoices-created" checked' in page.text


def test_a_secret_may_be_given(admin_client, receiver):
    response = admin_client.post("/alpha/admin/webhooks/new", data={
        "url": receiver.url, "events": ["partners.deleted"], "secret": GIVEN})
    assert GIVEN in response.text
    assert _endpoint().secret == GIVEN


def test_bad_webhooks_are_refused_and_private_addresses_in_production(app, admin_client,
                                                                      monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    cases = [
        ({"url": "https://erp.example.com/hook", "events": []}, "Choose at least one event."),
        ({"url": "https://erp.example.com/hook", "events": ["invoice.paid"]},
         "Unknown event: %(event)s (known: %(known)s)."),
        ({"url": "ftp://erp.example.com/hook"},
         "Enter an address starting with https:// (or http://)."),
        ({"url": "https://user:pw@erp.example.com/hook"},
         "Put no user name or password in the address: deliveries are signed with the "
         "secret."),
        ({"url": "https://erp.example.com/hook", "secret": "le-secret-de-notre-erp"},
         "A secret is whsec_ followed by %(min)d to %(max)d bytes in base64, as Standard "
         "Webhooks libraries generate them; leave it empty to have one generated."),
    ]
    private = ("This address is private or local: webhooks only go to addresses reachable "
               "from the Internet.")
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/hook",
                "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/",
                "http://[::1]/hook", "http://[::ffff:127.0.0.1]/", "http://api.localhost/"):
        cases.append(({"url": url}, private))
    for data, message in cases:
        data = {"events": ["invoices.created"], **data}
        response = admin_client.post("/alpha/admin/webhooks/new", data=data)
        assert response.status_code == 422, data
        expected = fr(message, min=24, max=64, event="invoice.paid",
                      known=", ".join(all_events())) if "%(" in message else fr(message)
        assert expected in text(response), data
    assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


def test_an_admin_changes_the_events_and_renews_the_secret(admin_client, receiver,
                                                           make_endpoint):
    endpoint, secret = make_endpoint(receiver.url, ["invoices.created"])
    page = f"/alpha/admin/webhooks/{endpoint.id}"
    response = admin_client.post(page, data={"url": receiver.url, "description": "Compta",
                                              "events": ["invoices.updated", "deals.created"]})
    assert response.status_code == 302
    endpoint = _endpoint()
    assert endpoint.events == ["deals.created", "invoices.updated"]  # catalogue order
    assert endpoint.secret == secret and endpoint.description == "Compta"
    assert fr("Changes saved.") in text(admin_client.get(page))

    response = admin_client.post(page, data={"url": receiver.url, "renew_secret": "y",
                                             "events": ["invoices.updated"]})
    renewed = SECRET.search(response.text).group(0)
    assert renewed != secret and _endpoint().secret == renewed


def test_a_test_ping_is_signed_and_logged(admin_client, receiver, make_endpoint):
    endpoint, secret = make_endpoint(receiver.url, ["invoices.created"])
    response = admin_client.post(f"/alpha/admin/webhooks/{endpoint.id}/ping")
    assert response.status_code == 302
    [call] = receiver.wait()
    assert call.event == "ping" and call.signed_with(secret)
    assert call.json["data"]["events"] == ["invoices.created"]
    wait_until(lambda: deliveries(status="succeeded"))

    log = admin_client.get(f"/alpha/admin/webhooks/{endpoint.id}/deliveries")
    assert log.status_code == 200
    assert "HTTP 200" in text(log) and fr("Succeeded") in text(log)
    assert fr("Test ping") in text(log)
    detail = admin_client.get(
        f"/alpha/admin/webhooks/{endpoint.id}/deliveries/{call.delivery}")
    assert detail.status_code == 200
    assert "HTTP 200" in text(detail) and "ok" in text(detail)
    assert '"events"' in detail.text  # the payload
    assert "HTTP 200" in text(admin_client.get("/alpha/admin/webhooks"))


def test_a_failed_delivery_is_sent_again_on_request(app, admin_client, receiver,
                                                    make_endpoint, make_partner, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_DELAYS", [DELAY])
    endpoint, _secret = make_endpoint(receiver.url, ["partners.created"])
    receiver.fail = 2
    make_partner()
    [delivery] = wait_until(lambda: deliveries(status="failed"))
    log = admin_client.get(f"/alpha/admin/webhooks/{endpoint.id}/deliveries?status=failed")
    assert "HTTP 500" in text(log) and fr("Failed") in text(log)

    response = admin_client.post(
        f"/alpha/admin/webhooks/{endpoint.id}/deliveries/{delivery.id}/retry")
    assert response.status_code == 302
    receiver.wait()
    [delivery] = wait_until(lambda: deliveries(status="succeeded"))
    assert len(delivery.attempt_log) == 3


def test_deleting_a_webhook_deletes_its_log(admin_client, receiver, make_endpoint):
    endpoint, _secret = make_endpoint(receiver.url, ["invoices.created"])
    admin_client.post(f"/alpha/admin/webhooks/{endpoint.id}/ping")
    receiver.wait()
    wait_until(lambda: deliveries(status="succeeded"))
    response = admin_client.post(f"/alpha/admin/webhooks/{endpoint.id}/delete")
    assert response.status_code == 302
    assert fr("Webhook deleted.") in text(admin_client.get("/alpha/admin/webhooks"))
    for model in (WebhookEndpoint, WebhookDelivery, WebhookAttempt):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0


def test_only_admins_reach_the_webhooks(sales_client, receiver, make_endpoint):
    endpoint, _secret = make_endpoint(receiver.url, ["invoices.created"])
    base = f"/alpha/admin/webhooks/{endpoint.id}"
    for path in ("/alpha/admin/webhooks", "/alpha/admin/webhooks/new", base,
                 f"{base}/deliveries"):
        assert sales_client.get(path).status_code == 403, path
    for path in (f"{base}/ping", f"{base}/enable", f"{base}/delete"):
        assert sales_client.post(path).status_code == 403, path
    assert _endpoint() is not None and deliveries() == []


def test_another_tenants_webhook_is_a_404(admin_client, receiver, make_endpoint,
                                          other_tenant, in_tenant):
    theirs, _secret = in_tenant(other_tenant, make_endpoint, receiver.url, ["deals.created"])
    base = f"/alpha/admin/webhooks/{theirs.id}"
    for path in (base, f"{base}/deliveries", f"{base}/deliveries/1"):
        assert admin_client.get(path).status_code == 404, path
    for path in (f"{base}/ping", f"{base}/enable", f"{base}/delete"):
        assert admin_client.post(path).status_code == 404, path
