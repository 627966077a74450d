"""Signature codes by SMS go through the outbox as mails do: written (encrypted) in the
transaction that makes the code, handed to the gateway by the `send_mails` job once it is
committed, retried through an outage, listed on the outgoing messages page, purged. A
rolled-back request sends nothing; no log gives the code away outside development."""
from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import secret_box
from app.extensions import db
from app.jobs import REGISTRY, function
from app.models import OutgoingMail
from app.services import mail_outbox, signatures
from app.tenancy import all_tenants_unsafe
from tests.backoffice.conftest import fr, text
from tests.selling.subscribe_support import RecordingSms, texts_sent

PHONE = "+33612345678"
GATEWAY = "tests.selling.test_sms_outbox:FlakySms"


class FlakySms:
    """A gateway down for `FlakySms.down` more texts, then up; what it took."""

    down = 0
    sent: list[tuple[str, str]] = []

    def __init__(self, config) -> None:
        self.config = config

    def send(self, phone: str, text: str) -> None:
        if FlakySms.down:
            FlakySms.down -= 1
            raise ConnectionError(f"gateway unreachable while sending {text!r}")
        FlakySms.sent.append((phone, text))


@pytest.fixture
def logs(caplog, monkeypatch):
    """Every record of the app's loggers (the migrations' logging set-up disables the loggers
    that existed before it ran)."""
    for name, found in logging.root.manager.loggerDict.items():
        if name.split(".")[0] in ("app", "portal", "api") and isinstance(found, logging.Logger):
            monkeypatch.setattr(found, "disabled", False)
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def gateway(app, monkeypatch):
    FlakySms.down, FlakySms.sent = 0, []
    monkeypatch.setitem(app.config, "ESIGN_SMS_SENDER", GATEWAY)
    monkeypatch.setitem(app.config, "ESIGN_LOG_CODES", False)
    return FlakySms


def _signature() -> signatures.Signature:
    signature = signatures.start_signature(
        "subscription", 1, name="Hélène Dupré", email="helene@example.com", phone=PHONE,
        consent_text="Je signe.", document=b"%PDF contract", ip=None, agent=None)
    db.session.commit()
    return signature


def _rows() -> list[OutgoingMail]:
    db.session.expire_all()
    with all_tenants_unsafe("test"):
        return list(db.session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))


def _due_now() -> None:
    with all_tenants_unsafe("test"):
        for row in db.session.scalars(select(OutgoingMail)):
            row.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()


def test_the_code_is_queued_sealed_and_sent_after_the_commit(tenant, gateway, queued):
    signature = _signature()
    signatures.send_code(signature, by_sms=True)
    assert gateway.sent == []  # nothing leaves inside the transaction
    db.session.commit()
    assert queued == [("send_mails", ())]  # the commit wakes the sender
    [row] = _rows()
    assert (row.channel, row.recipient, row.purpose, row.status) == \
        ("sms", PHONE, "signature_code", "pending")
    assert row.expires_at is not None
    code = re.search(r"\b(\d{6})\b", secret_box.unseal(row.message_sealed)).group(1)
    assert code not in row.message_sealed  # encrypted while it waits

    assert function(REGISTRY["send_mails"])() == 1
    [(phone, sent)] = gateway.sent
    assert phone == PHONE and code in sent
    [row] = _rows()
    assert (row.status, row.attempts, row.message_sealed) == ("sent", 1, None)
    assert signatures.check_code(signature, code)


def test_an_outage_of_the_gateway_is_retried_without_writing_the_code_down(
        tenant, gateway, queued, logs):
    gateway.down = 2
    signatures.send_code(_signature(), by_sms=True)
    db.session.commit()
    assert mail_outbox.send_due() == 0
    [row] = _rows()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error.startswith("ConnectionError: gateway unreachable")
    assert not re.search(r"\d{6}", row.last_error)  # the gateway's words, not the text
    assert row.next_attempt_at > datetime.now(UTC)  # waits for its next attempt
    assert mail_outbox.send_due() == 0  # not due yet: not tried
    _due_now()
    assert mail_outbox.send_due() == 0
    _due_now()
    assert mail_outbox.send_due() == 1
    [(_phone, sent)] = gateway.sent
    code = re.search(r"\b(\d{6})\b", sent).group(1)
    assert all(code not in event.getMessage() for event in logs.records)
    [row] = _rows()
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    assert code not in logs.text


def test_a_code_expired_before_the_gateway_came_back_is_not_sent(tenant, gateway, queued):
    gateway.down = 1
    signatures.send_code(_signature(), by_sms=True)
    db.session.commit()
    mail_outbox.send_due()
    with all_tenants_unsafe("test"):
        for row in db.session.scalars(select(OutgoingMail)):
            row.expires_at = row.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    assert mail_outbox.send_due() == 0
    [row] = _rows()
    assert (row.status, row.message_sealed) == ("expired", None) and gateway.sent == []


def test_a_rolled_back_request_sends_no_code(app, admin_client, make_account, make_quote,
                                             inbox, monkeypatch):
    from tests.selling.test_quote_signing import _path, _send

    RecordingSms.sent.clear()
    monkeypatch.setitem(app.config, "ESIGN_SMS_SENDER",
                        "tests.selling.subscribe_support:RecordingSms")
    account = make_account(email="helene@example.com", phone="06 12 34 56 78")
    _send(admin_client, make_quote(account=account.id))
    path = _path(inbox)
    real = signatures.send_code

    def then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("the request fails after the code was made")

    monkeypatch.setattr(signatures, "send_code", then_fail)
    customer = app.test_client()
    with pytest.raises(RuntimeError):
        customer.post(path, data={"name": "Hélène Dupré", "consent": "y", "channel": "sms"})
    assert texts_sent(inbox) == []
    assert [row.channel for row in _rows()] == ["email"]  # the link's mail only

    monkeypatch.setattr(signatures, "send_code", real)
    assert customer.post(path, data={"name": "Hélène Dupré", "consent": "y",
                                     "channel": "sms"}).status_code == 302
    [(phone, _text)] = texts_sent(inbox)
    assert phone == PHONE


def test_without_a_gateway_the_code_goes_by_mail_and_never_to_the_log(
        app, tenant, inbox, logs, monkeypatch):
    monkeypatch.setitem(app.config, "ESIGN_SMS_SENDER", "")
    monkeypatch.setitem(app.config, "ESIGN_LOG_CODES", False)
    signature = _signature()
    signatures.send_code(signature, by_sms=True)
    db.session.commit()
    assert signature.events[-1]["channel"] == "email"
    body = inbox.messages[-1].get_body(("plain",)).get_content()
    code = re.search(r"\b(\d{6})\b", body).group(1)
    assert [row.channel for row in _rows()] == ["email"]
    assert code not in logs.text

    # A text queued before the gateway was removed is refused by the console, not logged.
    mail_outbox.queue_sms(PHONE, f"Votre code : {code}", "signature_code")
    db.session.commit()
    inbox.messages  # noqa: B018 - waits for the outbox's first attempt
    row = _rows()[-1]
    assert row.channel == "sms" and row.status == "pending" and row.attempts == 1
    assert "no SMS gateway" in row.last_error and code not in logs.text


def test_in_development_the_console_writes_the_text_to_the_log(app, tenant, queued, logs,
                                                                monkeypatch):
    monkeypatch.setitem(app.config, "ESIGN_SMS_SENDER", "")
    monkeypatch.setitem(app.config, "ESIGN_LOG_CODES", True)
    signatures.send_code(_signature(), by_sms=True)
    db.session.commit()
    assert mail_outbox.send_due() == 1
    assert f"SMS to {PHONE}:" in logs.text


def test_the_outgoing_messages_page_lists_texts_with_their_channel(
        admin_client, tenant, gateway, queued):
    gateway.down = 10
    signatures.send_code(_signature(), by_sms=True)
    db.session.commit()
    mail_outbox.send_due()
    [row] = _rows()
    page = admin_client.get("/alpha/admin/mails")
    assert page.status_code == 200
    shown = text(page)
    assert fr("Outgoing messages") in shown
    assert f"{row.id} {fr('SMS')} {fr('Signing code')} {PHONE}" in shown
    assert "ConnectionError" in shown and fr("Send now") in shown
    # Sent again at once from the page, once the gateway is back.
    gateway.down = 0
    sent = admin_client.post(f"/alpha/admin/mails/{row.id}/retry", follow_redirects=True)
    assert fr("The message will be sent again now.") in text(sent)
    assert mail_outbox.send_due() == 1 and len(gateway.sent) == 1


def test_the_purge_forgets_finished_texts_too(app, tenant, gateway, queued, monkeypatch):
    signatures.send_code(_signature(), by_sms=True)
    db.session.commit()
    assert mail_outbox.send_due() == 1
    monkeypatch.setitem(app.config, "MAIL_OUTBOX_RETENTION_DAYS", 90)
    with all_tenants_unsafe("test"):
        db.session.scalar(select(OutgoingMail)).created_at = \
            datetime.now(UTC) - timedelta(days=91)
    db.session.commit()
    assert function(REGISTRY["purge_mails"])() == 1
    assert _rows() == []


def test_erasing_the_customer_drops_the_texts_waiting_for_his_phone(
        app, admin_client, make_account, make_quote, inbox, gateway):
    from app.services.erasure import anonymise_customer
    from tests.selling.test_quote_signing import _path, _send

    gateway.down = 100  # the texts wait
    account = make_account(kind="person", name="Hélène Dupré", email="helene@example.com",
                           phone="06 12 34 56 78")
    _send(admin_client, make_quote(account=account.id))
    assert app.test_client().post(_path(inbox), data={
        "name": "Hélène Dupré", "consent": "y", "channel": "sms"}).status_code == 302
    inbox.messages  # noqa: B018 - waits for the first attempts
    waiting = [row for row in _rows() if row.channel == "sms"]
    assert [(row.recipient, row.status) for row in waiting] == [(PHONE, "pending")]

    anonymise_customer(db.session.get(type(account), account.id))
    db.session.commit()
    [text_row] = [row for row in _rows() if row.channel == "sms"]
    assert (text_row.recipient, text_row.status, text_row.message_sealed) == \
        ("anonymised", "failed", None)
    assert PHONE not in {row.recipient for row in _rows()}
