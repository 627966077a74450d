"""Webhook deliveries, outside any request, in either mode of the job engine (app/jobs.py).

Embedded (no broker): the dispatcher, one thread per process, picks due deliveries and hands
them to a small, bounded pool of sending threads. With a broker: the `deliver_webhooks` job
claims the due deliveries and queues one `deliver_webhook` job each, for the workers.

It wakes when a transaction that queued deliveries commits (app/services/webhook_outbox.py),
when a sending thread is done, and otherwise every WEBHOOK_POLL_SECONDS at most (deliveries
queued by another process, retries coming due). A claim in the database (`locked_until`)
keeps two processes from sending the same delivery.
"""
from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app, has_app_context

from app import jobs
from app.extensions import db
from app.services import webhook_deliveries as deliveries
from app.services.webhook_outbox import WAKER
from app.tenancy import SYSTEM, tenant_context
from app.webhooks.transport import post

log = logging.getLogger(__name__)
EXTENSION = "relais_webhooks"


class Dispatcher:
    def __init__(self, app: Flask) -> None:
        config = app.config
        self.app = app
        self.workers = max(1, int(config.get("WEBHOOK_WORKERS", 4)))
        self.per_endpoint = max(1, int(config.get("WEBHOOK_ENDPOINT_CONCURRENCY", 2)))
        self.pool = ThreadPoolExecutor(max_workers=self.workers,
                                       thread_name_prefix="relais-webhook")
        self.signal = threading.Event()
        self.lock = threading.Lock()
        self.in_flight: Counter[int] = Counter()  # endpoint id -> deliveries being sent
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, name="relais-webhooks", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        self.signal.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop looking for deliveries; the ones being sent finish."""
        self.stopped = True
        self.signal.set()
        self.thread.join(timeout)
        self.pool.shutdown(wait=True)

    def _loop(self) -> None:
        while not self.stopped:
            self.signal.clear()
            poll = float(self.app.config.get("WEBHOOK_POLL_SECONDS", 5))
            try:
                wait = self.dispatch(poll)
            except Exception:  # the dispatcher must outlive a database hiccup
                log.exception("webhook dispatch failed")
                wait = poll
            self.signal.wait(wait)

    def dispatch(self, poll: float) -> float:
        """Hand the due deliveries to the pool; seconds to wait before looking again."""
        with self.app.app_context():
            try:
                free = self.workers - sum(self.in_flight.values())
                if free > 0:
                    self._claim_and_submit(free)
                return deliveries.next_due_in(poll)
            finally:
                db.session.rollback()
                db.session.remove()

    def _claim_and_submit(self, free: int) -> None:
        lease = float(self.app.config.get("WEBHOOK_TIMEOUT", 10)) * 3 + 30
        picked: list[tuple[int, int, int]] = []
        with self.lock:
            busy = Counter(self.in_flight)
        while len(picked) < free:
            # Endpoints at their limit are left out, so that one endpoint's backlog does not
            # hide the deliveries of the others.
            full = [e for e, count in busy.items() if count >= self.per_endpoint]
            claimed = 0
            for delivery_id, tenant_id, endpoint_id in deliveries.due(free * 5, full):
                if len(picked) >= free or busy[endpoint_id] >= self.per_endpoint:
                    continue
                if deliveries.claim(delivery_id, lease):
                    busy[endpoint_id] += 1
                    claimed += 1
                    picked.append((delivery_id, tenant_id, endpoint_id))
            if not claimed:
                break
        db.session.commit()
        for delivery_id, tenant_id, endpoint_id in picked:
            with self.lock:
                self.in_flight[endpoint_id] += 1
            self.pool.submit(self._send, delivery_id, tenant_id, endpoint_id)

    def _send(self, delivery_id: int, tenant_id: int, endpoint_id: int) -> None:
        try:
            with self.app.app_context():
                try:
                    send_one(delivery_id, tenant_id)
                finally:
                    db.session.remove()
        except Exception:  # a sending thread must survive any delivery
            log.exception("webhook delivery %s failed", delivery_id)
        finally:
            with self.lock:
                self.in_flight[endpoint_id] -= 1
                if self.in_flight[endpoint_id] <= 0:
                    del self.in_flight[endpoint_id]
            self.wake()


def send_one(delivery_id: int, tenant_id: int) -> None:
    """Send one claimed delivery under its tenant's context and record what came back."""
    config = current_app.config
    with tenant_context(tenant_id, SYSTEM):
        request = deliveries.prepare(delivery_id)
        db.session.commit()  # no transaction stays open during the HTTP request
        if request is None:
            return
        outcome = post(request.url, request.body, request.headers,
                       timeout=float(config.get("WEBHOOK_TIMEOUT", 10)),
                       allow_private=bool(config.get("WEBHOOK_ALLOW_PRIVATE", False)))
        disabled = deliveries.record_outcome(delivery_id, outcome)
        db.session.commit()
        if disabled is not None:
            deliveries.notify_disabled(disabled)


def dispatcher(app: Flask) -> Dispatcher | None:
    """This process's dispatcher for `app`, started on first use; None when turned off or
    when workers send (a broker is set)."""
    if not app.config.get("WEBHOOK_DISPATCH", True) or jobs.uses_broker(app):
        return None
    found = app.extensions.get(EXTENSION)
    if found is None:
        with _start_lock:
            found = app.extensions.get(EXTENSION)
            if found is None:
                found = app.extensions[EXTENSION] = Dispatcher(app)
                found.start()
    return found


_start_lock = threading.Lock()


def wake() -> None:
    """Deliveries were queued and committed: send them now (in the background)."""
    if not has_app_context():
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if jobs.uses_broker(app):
        try:
            jobs.enqueue("deliver_webhooks", app=app)
        except Exception:  # the broker is down: the scheduled pass sends them later
            log.exception("queuing the webhook deliveries failed")
        return
    running = dispatcher(app)
    if running is not None:
        running.wake()


# -- the jobs (app/jobs.py) -------------------------------------------------------------------

def deliver_due() -> int:
    """The `deliver_webhooks` job: with a broker, claim the due deliveries (each endpoint's
    at most WEBHOOK_ENDPOINT_CONCURRENCY at a time, counting those other workers send) and
    queue a `deliver_webhook` job each; embedded, wake this process's dispatcher, which
    does the same on its threads. How many it queued."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not jobs.uses_broker(app):
        running = app.extensions.get(EXTENSION)
        if running is None and deliveries.has_pending():
            running = dispatcher(app)  # retries a stopped process left behind
        if running is not None:
            running.wake()
        return 0
    config = app.config
    lease = float(config.get("WEBHOOK_TIMEOUT", 10)) * 3 + 30
    per_endpoint = max(1, int(config.get("WEBHOOK_ENDPOINT_CONCURRENCY", 2)))
    limit = max(1, int(config.get("WEBHOOK_WORKERS", 4))) * 5
    busy = Counter(deliveries.in_flight())
    picked: list[tuple[int, int]] = []
    full = [endpoint for endpoint, count in busy.items() if count >= per_endpoint]
    for delivery_id, tenant_id, endpoint_id in deliveries.due(limit, full):
        if busy[endpoint_id] < per_endpoint and deliveries.claim(delivery_id, lease):
            busy[endpoint_id] += 1
            picked.append((delivery_id, tenant_id))
    db.session.commit()
    for delivery_id, tenant_id in picked:
        jobs.enqueue("deliver_webhook", delivery_id, tenant_id, app=app)
    return len(picked)


def purge() -> int:
    """The `purge_webhook_deliveries` job: forget the finished deliveries past retention."""
    count = deliveries.purge(float(current_app.config.get("WEBHOOK_RETENTION_DAYS", 30)))
    db.session.commit()
    if count:
        log.info("%d old webhook deliveries purged", count)
    return count


def deliver_one(delivery_id: int, tenant_id: int) -> None:
    """The `deliver_webhook` job: send one claimed delivery, then look for the next ones
    (a delivery waiting behind this one, or for a free slot of its endpoint)."""
    send_one(delivery_id, tenant_id)
    jobs.enqueue("deliver_webhooks")


def stop(app: Flask) -> None:
    """Stop this process's dispatcher, if it runs (the next queued delivery starts another)."""
    with _start_lock:
        running = app.extensions.pop(EXTENSION, None)
    if running is not None:
        running.stop()


def install(app: Flask) -> None:
    """At the first request, start the dispatcher when deliveries wait (retries left by a
    process that stopped); otherwise the first queued delivery starts it."""
    state = {"done": False}
    app.extensions[WAKER] = wake

    @app.before_request
    def start_webhooks_once() -> None:
        if not state["done"]:
            state["done"] = True
            if deliveries.has_pending():
                dispatcher(app)
