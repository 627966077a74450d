"""Deliveries to a real HTTP receiver on loopback: signed, retried, in order per record, only
for committed changes, never inside the request, never across tenants; a failing endpoint is
disabled and its admins told."""
from __future__ import annotations

import threading
import time

from sqlalchemy import event

from app.entities import ENTITIES
from app.extensions import db
from app.models import AuditEvent, WebhookAttempt, WebhookEndpoint
from app.services.records import create_record, update_record
from app.services.webhook_outbox import subscribed_events
from app.services.webhooks import new_secret
from tests.backoffice.conftest import text
from tests.conftest import login
from tests.webhooks.conftest import DELAY, deliveries, wait_until


def test_a_delivery_is_signed_with_the_endpoints_secret(receiver, make_endpoint, make_partner):
    endpoint, secret = make_endpoint(receiver.url, ["partners.created"])
    partner = make_partner(name="Agence Sud", email="sud@agence.example")

    call = receiver.wait()[0]
    assert call.event == "partners.created"
    assert call.signed_with(secret)
    assert not call.signed_with(new_secret())
    assert abs(int(call.headers["webhook-timestamp"]) - time.time()) < 60
    body = call.json
    assert body["event"] == "partners.created" and body["tenant"] == "alpha"
    assert body["data"]["entity"] == "partners" and body["data"]["id"] == partner.id
    assert body["data"]["before"] is None
    assert body["data"]["after"]["name"] == "Agence Sud"
    assert body["data"]["after"]["email"] == "sud@agence.example"
    assert call.headers["Content-Type"] == "application/json"

    delivery = wait_until(lambda: deliveries(status="succeeded"))[0]
    assert body["id"] == delivery.id == call.delivery
    assert delivery.attempts == 1 and delivery.last_status_code == 200
    assert delivery.endpoint_id == endpoint.id and delivery.record_id == partner.id
    attempt = db.session.scalar(db.select(WebhookAttempt))
    assert attempt.status_code == 200 and attempt.response_body == "ok"


def test_only_subscribed_events_are_sent(receiver, make_endpoint, make_partner, make_account):
    make_endpoint(receiver.url, ["accounts.updated"])
    account = make_account(name="Dupont")
    make_partner()
    update_record(account, {"city": "Nantes"})
    db.session.commit()

    call = receiver.wait()[0]
    assert call.event == "accounts.updated"
    data = call.json["data"]
    assert data["before"] == {"city": "Lyon"} and data["after"] == {"city": "Nantes"}
    time.sleep(3 * DELAY)
    assert len(receiver.calls) == 1 and len(deliveries()) == 1


def test_a_failing_delivery_is_retried_with_backoff_until_it_succeeds(
        receiver, make_endpoint, make_partner):
    make_endpoint(receiver.url, ["partners.created"])
    receiver.fail = 2
    make_partner(name="Agence Ouest")

    receiver.wait()
    calls = receiver.calls
    assert [c.status for c in calls] == [500, 500, 200]
    assert len({c.delivery for c in calls}) == 1  # the same delivery, sent three times
    assert [c.headers["X-Relais-Attempt"] for c in calls] == ["1", "2", "3"]
    gaps = [later.at - earlier.at for earlier, later in zip(calls, calls[1:], strict=False)]
    assert min(gaps) >= DELAY * 0.9

    delivery = wait_until(lambda: deliveries(status="succeeded"))[0]
    assert delivery.attempts == 3
    assert [a.status_code for a in delivery.attempt_log] == [500, 500, 200]
    assert delivery.attempt_log[0].response_body == "not now"
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    assert endpoint.failure_count == 0 and endpoint.is_active


def test_a_delivery_gives_up_after_the_last_retry(app, receiver, make_endpoint, make_partner,
                                                  monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_DELAYS", [DELAY, DELAY])
    make_endpoint(receiver.url, ["partners.created"])
    receiver.fail = 10
    make_partner()

    delivery = wait_until(lambda: deliveries(status="failed"))[0]
    assert delivery.attempts == 3 and delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500"


def test_updates_of_one_record_go_out_in_order_even_when_the_first_is_retried(
        receiver, make_endpoint, make_partner):
    make_endpoint(receiver.url, ["partners.updated"])
    partner = make_partner(name="A")
    receiver.fail = 2
    for name in ("B", "C", "D"):
        update_record(partner, {"name": name})
        db.session.commit()

    receiver.wait(3)
    sent = [(c.json["data"]["after"]["name"], c.status) for c in receiver.calls]
    assert sent == [("B", 500), ("B", 500), ("B", 200), ("C", 200), ("D", 200)]


def test_a_bulk_upsert_announces_each_record_created_or_changed(app, receiver, make_endpoint,
                                                                make_partner):
    from app.services.tokens import create_token
    from tests.api.conftest import bearer

    make_endpoint(receiver.url, ["partners.created", "partners.updated"])
    make_partner(name="Agence Nord", external_ref="P1")
    client = bearer(app, create_token("ERP", "read,write")[1])
    db.session.commit()
    answer = client.post("/api/v1/partners/bulk", json={"items": [
        {"external_ref": "P1", "name": "Agence Nord"},  # unchanged: nothing to announce
        {"external_ref": "P2", "name": "Agence Sud"},
        {"external_ref": "P1", "name": "Agence du Nord"},  # repeated: refused
        {"external_ref": "P3", "name": "Agence Est", "email": "est@agence.example"}]})
    assert answer.status_code == 200
    client.post("/api/v1/partners/bulk", json={"items": [
        {"external_ref": "P2", "phone": "0491000000"}]})

    receiver.wait(4)
    time.sleep(3 * DELAY)
    sent = sorted((c.event, c.json["data"]["after"].get("name"), c.json["actor"]["kind"])
                  for c in receiver.calls)
    assert sent == [("partners.created", "Agence Est", "token"),
                    ("partners.created", "Agence Nord", "system"),
                    ("partners.created", "Agence Sud", "token"),
                    ("partners.updated", None, "token")]
    update = next(c for c in receiver.calls if c.event == "partners.updated")
    assert update.json["data"]["after"] == {"phone": "0491000000"}
    assert update.json["data"]["before"] == {"phone": None}


def test_a_rolled_back_change_sends_nothing(receiver, make_endpoint):
    make_endpoint(receiver.url, ["partners.created"])
    create_record(ENTITIES["partners"], {"name": "Jamais"})
    db.session.rollback()
    kept = create_record(ENTITIES["partners"], {"name": "Gardée"})
    db.session.commit()

    receiver.wait()
    time.sleep(3 * DELAY)
    assert [c.json["data"]["id"] for c in receiver.calls] == [kept.id]
    assert len(deliveries()) == 1


def test_the_request_answers_before_the_delivery_is_made(app, receiver, make_endpoint, admin):
    make_endpoint(receiver.url, ["partners.created"])
    receiver.held = threading.Event()  # the receiver answers nothing until released
    client = login(app.test_client(), admin)

    response = client.post("/alpha/partners/new", data={"name": "Agence Pressée"})
    assert response.status_code == 302
    # The page came back while the receiver still holds its answer: no attempt is recorded yet.
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(WebhookAttempt)) == 0
    receiver.held.set()

    call = receiver.wait(timeout=10)[0]
    assert call.json["data"]["after"]["name"] == "Agence Pressée"
    assert call.json["actor"]["label"] == admin.email
    assert wait_until(lambda: deliveries(status="succeeded"))


def test_a_tenant_never_receives_another_tenants_events(
        new_receiver, make_endpoint, make_partner, other_tenant, in_tenant):
    mine, theirs = new_receiver(), new_receiver()
    _endpoint, my_secret = make_endpoint(mine.url, ["partners.created"])
    _other, their_secret = in_tenant(other_tenant, make_endpoint, theirs.url,
                                     ["partners.created"])
    make_partner(name="Chez Alpha")
    in_tenant(other_tenant, create_record, ENTITIES["partners"], {"name": "Chez Beta"})

    [got] = mine.wait()
    [their_call] = theirs.wait()
    time.sleep(3 * DELAY)
    assert len(mine.calls) == len(theirs.calls) == 1
    assert got.json["tenant"] == "alpha" and got.json["data"]["after"]["name"] == "Chez Alpha"
    assert their_call.json["tenant"] == "beta"
    assert their_call.json["data"]["after"]["name"] == "Chez Beta"
    assert got.signed_with(my_secret) and not got.signed_with(their_secret)


def test_a_tenant_without_endpoint_pays_no_query_per_write(app, make_partner, make_endpoint,
                                                          receiver, tenant):
    assert subscribed_events(tenant.id) == frozenset()
    make_partner()  # warm the remembered answer
    statements: list[str] = []

    def note(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        if threading.current_thread() is threading.main_thread():  # not the dispatcher's
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        make_partner()
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert statements and not any("webhook" in s for s in statements), statements
    make_endpoint(receiver.url, ["invoices.created"])  # forgotten at once in this process
    assert subscribed_events(tenant.id) == frozenset({"invoices.created"})


def test_an_endpoint_that_keeps_failing_is_disabled_and_its_admins_are_told(
        app, receiver, make_endpoint, make_partner, make_user, inbox, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_DISABLE_AFTER_FAILURES", 3)
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_DELAYS", [DELAY] * 10)
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://crm.example.com")
    admin = make_user("admin", locale="en", email="chef@alpha.example")
    make_user("sales")
    endpoint, _secret = make_endpoint(receiver.url, ["partners.created", "partners.updated"])
    receiver.fail = 1000
    partner = make_partner()
    update_record(partner, {"name": "Encore"})
    db.session.commit()

    disabled = wait_until(lambda: not db.session.get(WebhookEndpoint, endpoint.id).is_active)
    assert disabled
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert endpoint.disabled_at is not None and endpoint.failure_count == 3
    assert {d.status for d in deliveries()} == {"abandoned"}
    calls = len(receiver.calls)
    wait_until(lambda: inbox.messages, timeout=10)
    [message] = inbox.messages  # the one admin, not the sales user
    assert message["To"] == admin.email
    assert endpoint.url in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert f"https://crm.example.com/alpha/admin/webhooks/{endpoint.id}" in body
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "disable"))

    time.sleep(3 * DELAY)
    assert len(receiver.calls) == calls  # nothing more is sent to it
    make_partner()
    time.sleep(3 * DELAY)
    assert len(receiver.calls) == calls and len(deliveries()) == 2

    client = login(app.test_client(), admin)
    page = client.get("/alpha/admin/webhooks")
    assert "after 3 failed attempts in a row" in text(page)
    receiver.fail = 0
    client.post(f"/alpha/admin/webhooks/{endpoint.id}/enable")
    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert endpoint.is_active and endpoint.failure_count == 0
    make_partner(name="De retour")
    assert receiver.wait()[0].json["data"]["after"]["name"] == "De retour"


def test_a_slow_endpoint_holds_up_neither_the_others_nor_the_dispatcher(
        app, new_receiver, make_endpoint, make_partner):
    slow, fast = new_receiver(), new_receiver()
    slow.held = threading.Event()  # the slow receiver answers nothing until released
    slow_endpoint, _secret = make_endpoint(slow.url, ["partners.created"])
    make_endpoint(fast.url, ["partners.created"])
    for _n in range(4):
        make_partner()
    fast.wait(4, timeout=15)
    # All four reached the fast receiver while the slow one still holds its first answer.
    assert [d.attempts for d in deliveries(endpoint_id=slow_endpoint.id)] == [0, 0, 0, 0]

    statements: list[str] = []

    def note(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        time.sleep(1.0)  # the slow receiver still answering: the dispatcher waits, no spin
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert len(statements) < 100, len(statements)
    slow.held.set()
    slow.wait(4, timeout=15)
