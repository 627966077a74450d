"""Deliveries follow the Standard Webhooks specification: a receiver verifies them with the
official `standardwebhooks` library, given the secret as Relais showed it; endpoints
registered before keep their former signature, and verify with their secret as a raw key."""
from __future__ import annotations

import base64
import json
import secrets
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.extensions import db
from app.services.webhooks import new_secret
from app.webhooks.transport import signature


def test_a_delivery_verifies_with_the_standard_webhooks_library(receiver, make_endpoint,
                                                                make_partner):
    _endpoint, secret = make_endpoint(receiver.url, ["partners.created"])
    make_partner(name="Agence Sud")

    call = receiver.wait()[0]
    event = Webhook(secret).verify(call.body, call.headers)
    assert event["event"] == "partners.created"
    assert event["data"]["after"]["name"] == "Agence Sud"
    headers = {k.lower(): v for k, v in call.headers.items()}
    assert headers["webhook-id"] == str(event["id"])
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert headers["webhook-signature"].startswith("v1,")

    tampered = call.body.replace(b"Agence Sud", b"Agence Nord")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, call.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(call.body, call.headers)


def test_the_message_id_is_the_same_on_every_attempt(receiver, make_endpoint, make_partner):
    _endpoint, secret = make_endpoint(receiver.url, ["partners.created"])
    receiver.fail = 2
    make_partner(name="Agence Ouest")

    receiver.wait()
    calls = receiver.calls
    assert [c.status for c in calls] == [500, 500, 200]
    assert len({c.headers["webhook-id"] for c in calls}) == 1
    for call in calls:  # each attempt is signed afresh, with its own timestamp
        Webhook(secret).verify(call.body, call.headers)


def test_generated_secrets_are_standard_ones():
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_an_endpoint_registered_before_keeps_working(receiver, make_endpoint, make_partner):
    endpoint, _secret = make_endpoint(receiver.url, ["partners.created"])
    # The former generated secrets: URL-safe base64 text, not the standard's encoding.
    legacy = "whsec_" + secrets.token_urlsafe(32)
    endpoint.secret = legacy
    db.session.commit()
    make_partner(name="Agence Est")

    call = receiver.wait()[0]
    assert call.legacy_signed_with(legacy)  # the former signature, as receivers check it
    assert Webhook(legacy.encode()).verify(call.body, call.headers)["event"] == \
        "partners.created"


def test_several_secrets_sign_side_by_side():
    body = json.dumps({"id": 7}).encode()
    old, new = new_secret(), new_secret()
    header = signature([old, new], "7", int(time.time()), body)
    assert header.count("v1,") == 2 and " " in header
    headers = {"webhook-id": "7", "webhook-timestamp": str(int(time.time())),
               "webhook-signature": header}
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"id": 7}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
