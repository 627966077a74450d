"""Webhook fixtures: a real HTTP receiver on loopback that records what it gets and can be told
to fail or to be slow, a real SMTP server, endpoints, and waiting for the dispatcher."""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.extensions import db
from app.models import WebhookDelivery, WebhookEndpoint
from app.services import webhook_outbox
from app.services.webhooks import create_endpoint
from app.webhooks.worker import EXTENSION, stop
from tests.importers import conftest as feeds

DELAY = 0.2  # seconds between attempts in tests

# The feed fixtures, for the import events.
feed_file, make_profile, run_import = feeds.feed_file, feeds.make_profile, feeds.run_import


@dataclass
class Call:
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        return self.headers["X-Relais-Event"]

    @property
    def delivery(self) -> int:
        return int(self.headers["webhook-id"])

    def signed_with(self, secret: str | bytes) -> bool:
        """The check a receiver makes (docs/webhooks.md): the official Standard Webhooks
        library's."""
        try:
            Webhook(secret).verify(self.body, self.headers)
        except WebhookVerificationError:
            return False
        return True

    def legacy_signed_with(self, secret: str) -> bool:
        """The former X-Relais-Signature, checked as receivers written for it do, written
        independently of the app."""
        parts = dict(p.split("=", 1) for p in self.headers["X-Relais-Signature"].split(","))
        expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + self.body,
                            hashlib.sha256).hexdigest()
        return parts["t"] == self.headers["X-Relais-Timestamp"] \
            and hmac.compare_digest(expected, parts["v1"])


@dataclass
class Receiver:
    """What an integrator's server got; `fail` next requests answer 500, each after `delay`;
    while `held` is set and not yet released, every answer waits for it."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    fail: int = 0
    status: int = 500
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    held: threading.Event | None = None

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            status = 200
            if self.fail > 0:
                self.fail -= 1
                status = self.status
            self.calls.append(Call(headers, body, status, time.monotonic()))
        if self.held is not None:
            self.held.wait(timeout=60)
        if self.delay:
            time.sleep(self.delay)
        return status

    def delivered(self, event: str | None = None) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.status == 200 and event in (None, c.event)]

    def wait(self, count: int = 1, event: str | None = None, timeout: float = 15.0
             ) -> list[Call]:
        """The calls answered 200 (of `event`), once there are `count` of them."""
        deadline = time.monotonic() + timeout
        while len(self.delivered(event)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        found = self.delivered(event)
        assert len(found) >= count, f"{len(found)} deliveries, {count} expected: {self.calls}"
        return found


def _serve(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = receiver.answer(dict(self.headers), body)
            reply = b"ok" if status == 200 else b"not now"
            self.send_response(status)
            if status in (301, 302, 307):
                self.send_header("Location", receiver.url + "/elsewhere")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that gave up (the timeout test) is no error here

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/relais"
    return server


def idle(app: Flask, timeout: float = 10.0) -> None:
    """Wait until the dispatcher sends nothing (so a test does not end mid-delivery)."""
    dispatcher = app.extensions.get(EXTENSION)
    deadline = time.monotonic() + timeout
    while dispatcher is not None and sum(dispatcher.in_flight.values()) \
            and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture
def webhooks_on(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """Deliveries sent in the background, with test-sized delays; loopback receivers
    allowed."""
    # Tenant ids restart with each test's empty database: forget earlier tests' endpoints.
    webhook_outbox._subscriptions.clear()
    for key, value in {"WEBHOOK_DISPATCH": True, "WEBHOOK_ALLOW_PRIVATE": True,
                       "WEBHOOK_POLL_SECONDS": DELAY,
                       "WEBHOOK_RETRY_DELAYS": [DELAY] * 4, "WEBHOOK_TIMEOUT": 5.0,
                       "WEBHOOK_DISABLE_AFTER_FAILURES": 100,
                       "WEBHOOK_DISABLE_AFTER_SECONDS": 0}.items():
        monkeypatch.setitem(app.config, key, value)
    yield app
    idle(app)
    stop(app)  # other tests' rows (test_tenancy's generic ones) are not to be sent


@pytest.fixture
def new_receiver(webhooks_on: Flask) -> Iterator[Callable[[], Receiver]]:
    servers: list[ThreadingHTTPServer] = []

    def make() -> Receiver:
        receiver = Receiver()
        servers.append(_serve(receiver))
        return receiver

    yield make
    idle(webhooks_on)
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver(new_receiver: Callable[[], Receiver]) -> Receiver:
    return new_receiver()


@pytest.fixture
def make_endpoint(tenant: Any) -> Callable[..., tuple[WebhookEndpoint, str]]:
    """make_endpoint(url, events, secret=): an endpoint of the current tenant, committed."""

    def make(url: str, events: list[str], **over: Any) -> tuple[WebhookEndpoint, str]:
        endpoint, secret = create_endpoint({"url": url, "events": events, **over})
        db.session.commit()
        return endpoint, secret

    return make


def deliveries(**where: Any) -> list[WebhookDelivery]:
    """The current tenant's deliveries, read fresh, oldest first."""
    db.session.expire_all()
    return list(db.session.scalars(select(WebhookDelivery).filter_by(**where)
                                   .order_by(WebhookDelivery.id)))


def wait_until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        db.session.expire_all()
        result = check()
        if result or time.monotonic() > deadline:
            assert result, "condition not reached in time"
            return result
        db.session.rollback()
        time.sleep(0.05)


class Inbox:
    """What the SMTP server received. Mails of the outbox (app/services/mail_outbox.py) leave
    just after their commit, from the job engine's thread: `messages` first waits until no
    mail queued is still waiting for its first attempt."""

    def __init__(self, app: Flask | None = None) -> None:
        self.app = app
        self.received: list[EmailMessage] = []

    @property
    def messages(self) -> list[EmailMessage]:
        # Only the test waits: the SMTP server's own thread looks at its handler's attributes.
        if self.app is not None and threading.current_thread() is threading.main_thread():
            deadline = time.monotonic() + 15
            while _first_attempts_waiting(self.app) and time.monotonic() < deadline:
                time.sleep(0.02)
        return self.received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"


def _first_attempts_waiting(app: Flask) -> bool:
    """Whether a committed mail of the outbox has not been tried yet (any tenant)."""
    with app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # past row-level security, as the sender is
            conn.exec_driver_sql("SELECT set_config('app.bypass_rls', 'on', true)")
        return bool(conn.exec_driver_sql(
            "SELECT count(*) FROM outgoing_mails WHERE status = 'pending' AND attempts = 0"
            ).scalar())


@pytest.fixture
def inbox(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1; the app sends its mail there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    received = Inbox(app)
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setitem(app.config, "MAIL_FROM", "Relais <no-reply@relais.example>")
    yield received
    controller.stop()
