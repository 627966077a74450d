"""Deliveries' life: which are due, who sends them, what an attempt changes.

- Per record, in order: a delivery waits while an earlier one of the same record (or import
  run) for the same endpoint is pending, retries included.
- A failed attempt is retried after WEBHOOK_RETRY_DELAYS (1 min, 5 min, 30 min, 2 h, 6 h,
  12 h); after the last one the delivery is "failed". Meanwhile the endpoint is paused: the
  other deliveries wait for the retry rather than hammer an endpoint that is down.
- An endpoint that failed WEBHOOK_DISABLE_AFTER_FAILURES times in a row, for at least
  WEBHOOK_DISABLE_AFTER_SECONDS, is disabled, its pending deliveries abandoned, and the
  tenant's admins are told by mail and on the webhooks page.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import aliased, joinedload

from app import mail
from app.extensions import db
from app.models import Role, Tenant, User, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.services.webhooks import disable_endpoint
from app.tenancy import all_tenants_unsafe
from app.webhooks.events import PING
from app.webhooks.transport import Outcome, signed_headers

log = logging.getLogger(__name__)
DEFAULT_DELAYS = (60, 300, 1800, 7200, 21600, 43200)
FINISHED = ("succeeded", "failed", "abandoned")


@dataclass(frozen=True)
class Request:
    """Everything a sending thread needs, read before the HTTP request (no session held)."""

    delivery_id: int
    tenant_id: int
    endpoint_id: int
    url: str
    body: bytes
    headers: dict[str, str]


def retry_delays() -> list[float]:
    raw = current_app.config.get("WEBHOOK_RETRY_DELAYS", DEFAULT_DELAYS)
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    return [float(value) for value in raw]


def _now() -> datetime:
    return datetime.now(UTC)


# -- the dispatcher's side: across tenants (a platform job) ---------------------------------

def due(limit: int, skip_endpoints: Collection[int] = ()) -> list[tuple[int, int, int]]:
    """(delivery id, tenant id, endpoint id) of deliveries that may go now, oldest first."""
    now = _now()
    earlier = aliased(WebhookDelivery)
    waits_for_earlier = exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.ordering_key == WebhookDelivery.ordering_key,
        earlier.status == "pending", earlier.id < WebhookDelivery.id)
    stmt = (select(WebhookDelivery.id, WebhookDelivery.tenant_id, WebhookDelivery.endpoint_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
                   or_(WebhookDelivery.locked_until.is_(None),
                       WebhookDelivery.locked_until < now),
                   WebhookEndpoint.is_active.is_(True),
                   or_(WebhookEndpoint.paused_until.is_(None),
                       WebhookEndpoint.paused_until <= now, WebhookDelivery.event == PING),
                   ~waits_for_earlier)
            .order_by(WebhookDelivery.id).limit(limit))
    if skip_endpoints:
        stmt = stmt.where(WebhookDelivery.endpoint_id.not_in(list(skip_endpoints)))
    with all_tenants_unsafe("webhook dispatch"):
        return [tuple(row) for row in db.session.execute(stmt)]


def in_flight() -> dict[int, int]:
    """Endpoint id -> deliveries being sent now (claimed, by any process)."""
    now = _now()
    with all_tenants_unsafe("webhook dispatch"):
        return dict(db.session.execute(
            select(WebhookDelivery.endpoint_id, func.count())
            .where(WebhookDelivery.status == "pending", WebhookDelivery.locked_until > now)
            .group_by(WebhookDelivery.endpoint_id)).all())


def has_pending() -> bool:
    with all_tenants_unsafe("webhook dispatch"):
        return db.session.scalar(select(WebhookDelivery.id)
                                 .where(WebhookDelivery.status == "pending").limit(1)) is not None


def next_due_in(default: float) -> float:
    """Seconds until something may become sendable: a retry coming due, a paused endpoint
    resuming, a claim expiring (at most `default`). A delivery waiting behind another one,
    or for a free sending thread, is woken by the end of that sending instead."""
    now = _now()
    pending = WebhookDelivery.status == "pending"
    with all_tenants_unsafe("webhook dispatch"):
        moments = [
            db.session.scalar(select(func.min(WebhookDelivery.next_attempt_at))
                              .where(pending, WebhookDelivery.next_attempt_at > now)),
            db.session.scalar(select(func.min(WebhookDelivery.locked_until))
                              .where(pending, WebhookDelivery.locked_until > now)),
            db.session.scalar(select(func.min(WebhookEndpoint.paused_until))
                              .where(WebhookEndpoint.is_active.is_(True),
                                     WebhookEndpoint.paused_until > now)),
        ]
    waits = [(_aware(moment) - now).total_seconds() for moment in moments if moment is not None]
    return max(0.0, min([default, *waits]))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def claim(delivery_id: int, lease_seconds: float) -> bool:
    """Hold a delivery for this process (another dispatcher process skips it meanwhile)."""
    now = _now()
    with all_tenants_unsafe("webhook dispatch"):
        result = db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
                   or_(WebhookDelivery.locked_until.is_(None),
                       WebhookDelivery.locked_until < now))
            .values(locked_until=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False))
    return result.rowcount == 1


def purge(days: float) -> int:
    """Forget finished deliveries older than `days` (their attempts go with them)."""
    cutoff = _now() - timedelta(days=days)
    with all_tenants_unsafe("webhook dispatch"):
        return db.session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.status.in_(FINISHED),
                                          WebhookDelivery.created_at < cutoff)
            .execution_options(synchronize_session=False)).rowcount


# -- one delivery, under its tenant's context ------------------------------------------------

def prepare(delivery_id: int) -> Request | None:
    """The signed request of a claimed delivery; None when it should no longer go."""
    delivery = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                                 .options(joinedload(WebhookDelivery.endpoint)))
    if delivery is None or delivery.status != "pending":
        return None
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        delivery.status, delivery.locked_until = "abandoned", None
        return None
    tenant = db.session.get(Tenant, delivery.tenant_id)
    payload = dict(delivery.payload or {})
    body = json.dumps({"id": delivery.id, "event": delivery.event,
                       "occurred_at": payload.get("occurred_at"),
                       "tenant": tenant.slug if tenant else None,
                       "actor": payload.get("actor"), "data": payload.get("data")},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    timestamp = int(_now().timestamp())
    # The message id is the delivery's: the same on every attempt, so receivers deduplicate.
    headers = {**signed_headers(endpoint.secret, str(delivery.id), timestamp, body),
               "X-Relais-Event": delivery.event,
               "X-Relais-Attempt": str(delivery.attempts + 1)}
    return Request(delivery.id, delivery.tenant_id, endpoint.id, endpoint.url, body, headers)


def record_outcome(delivery_id: int, outcome: Outcome) -> WebhookEndpoint | None:
    """Log the attempt and move the delivery on; returns the endpoint when this disabled it."""
    delivery = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                                 .options(joinedload(WebhookDelivery.endpoint)))
    if delivery is None:  # the endpoint was deleted meanwhile
        return None
    now = _now()
    db.session.add(WebhookAttempt(
        delivery_id=delivery.id, attempted_at=now, duration_ms=outcome.duration_ms,
        status_code=outcome.status_code, response_body=outcome.body,
        error=outcome.error[:500] if outcome.error else None))
    delivery.attempts += 1
    delivery.last_attempt_at, delivery.locked_until = now, None
    delivery.last_status_code = outcome.status_code
    delivery.last_error = (outcome.error or (None if outcome.ok else _http_error(outcome)))
    endpoint = delivery.endpoint
    if outcome.ok:
        if delivery.status == "pending":
            delivery.status, delivery.delivered_at = "succeeded", now
        endpoint.failure_count, endpoint.failing_since, endpoint.paused_until = 0, None, None
        endpoint.last_success_at = now
        db.session.flush()
        return None
    delays = retry_delays()
    if delivery.status == "pending":
        if delivery.attempts > len(delays):
            delivery.status = "failed"
        else:
            delivery.next_attempt_at = now + timedelta(seconds=delays[delivery.attempts - 1])
    # In SQL: two deliveries of the endpoint may fail at the same time in two threads.
    endpoint.failure_count = WebhookEndpoint.failure_count + 1
    endpoint.failing_since = endpoint.failing_since or now
    wait = delays[min(delivery.attempts, len(delays)) - 1] if delays else 0
    endpoint.paused_until = now + timedelta(seconds=wait)
    db.session.flush()
    if endpoint.is_active and _should_disable(endpoint, now):
        disable_endpoint(endpoint, _disabled_reason(endpoint))
        return endpoint
    return None


def _http_error(outcome: Outcome) -> str:
    return f"HTTP {outcome.status_code}"


def _should_disable(endpoint: WebhookEndpoint, now: datetime) -> bool:
    config = current_app.config
    failing_since = endpoint.failing_since or now
    if failing_since.tzinfo is None:
        failing_since = failing_since.replace(tzinfo=UTC)
    return (endpoint.failure_count >= config.get("WEBHOOK_DISABLE_AFTER_FAILURES", 10)
            and (now - failing_since).total_seconds()
            >= config.get("WEBHOOK_DISABLE_AFTER_SECONDS", 86400))


def _disabled_reason(endpoint: WebhookEndpoint) -> str:
    """Kept in English in the database; pages show their own localized sentence."""
    return f"{endpoint.failure_count} failed attempts in a row since " \
           f"{(endpoint.failing_since or _now()).isoformat(timespec='minutes')}"


def notify_disabled(endpoint: WebhookEndpoint) -> int:
    """Mail the tenant's active admins that the endpoint was disabled; the count of mails."""
    tenant = db.session.get(Tenant, endpoint.tenant_id)
    admins = db.session.scalars(select(User).where(User.role == Role.ADMIN.value,
                                                   User.is_active.is_(True))).all()
    sent = 0
    for admin in admins:
        try:
            with mail.in_language(admin.locale or tenant.default_locale):
                message = mail.compose(admin.email, _("Webhook disabled: %(url)s",
                                                      url=endpoint.url),
                                       "document", sender_name=tenant.name,
                                       **_notice(endpoint, tenant))
            mail.send(message)
            sent += 1
        except mail.MailError as exc:
            log.warning("webhook %s disabled, admin %s not told: %s", endpoint.id, admin.id, exc)
    return sent


def _notice(endpoint: WebhookEndpoint, tenant: Tenant) -> dict[str, Any]:
    base = current_app.config.get("PUBLIC_URL") or ""
    link = None
    if base:  # this runs outside any request: only PUBLIC_URL can make an absolute link
        with current_app.test_request_context("/", base_url=base):
            link = base + url_for("backoffice.admin_webhook_edit", tenant=tenant.slug,
                                  endpoint_id=endpoint.id)
    return {
        "greeting": _("Hello,"),
        "paragraphs": [
            _("Relais stopped sending events to %(url)s: its last %(count)d attempts failed.",
              url=endpoint.url, count=endpoint.failure_count),
            _("The events not sent are kept in the delivery log. Once the receiving system "
              "works again, enable the endpoint again on the webhooks page."),
        ],
        "action_label": _("Open the webhook"), "action_url": link, "signature": tenant.name,
    }
