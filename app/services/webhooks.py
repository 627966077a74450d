"""Webhook endpoints, for admins: register (the secret is shown once), change, re-enable,
delete, send a test ping."""
from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import update

from app.errors import ValidationError
from app.extensions import db
from app.models import WebhookDelivery, WebhookEndpoint
from app.services.audit import record_event
from app.services.webhook_outbox import WAKE, forget_subscriptions
from app.tenancy import current_actor, current_tenant_id
from app.webhooks.events import PING, all_events
from app.webhooks.transport import (
    MAX_KEY_BYTES,
    MIN_KEY_BYTES,
    SECRET_PREFIX,
    UnsafeURL,
    check_url,
    standard_key,
)

PREFIX_LENGTH = 12
KEY_BYTES = 32


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and the base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def _url_error(exc: UnsafeURL) -> str:
    return {
        "scheme": _("Enter an address starting with https:// (or http://)."),
        "credentials": _("Put no user name or password in the address: deliveries are "
                         "signed with the secret."),
        "private": _("This address is private or local: webhooks only go to addresses "
                     "reachable from the Internet."),
        "unresolved": _("This host name cannot be found."),
    }.get(exc.kind, _("Enter a valid web address."))


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    url = (data.get("url") or "").strip()
    try:
        check_url(url, allow_private=current_app.config.get("WEBHOOK_ALLOW_PRIVATE", False))
    except UnsafeURL as exc:
        errors["url"] = _url_error(exc)
    description = (data.get("description") or "").strip()
    if len(description) > 200:
        errors["description"] = _("Use at most %(n)d characters.", n=200)
    events = list(dict.fromkeys(data.get("events") or ()))
    known = all_events()
    unknown = [str(event)[:60] for event in events if event not in known]
    if unknown:
        errors["events"] = _("Unknown event: %(event)s (known: %(known)s).",
                             event=", ".join(unknown), known=", ".join(known))
    elif not events:
        errors["events"] = _("Choose at least one event.")
    secret = (data.get("secret") or "").strip()
    if secret and standard_key(secret) is None:
        # Only a standard secret can be given to the Standard Webhooks libraries as it is.
        errors["secret"] = _("A secret is whsec_ followed by %(min)d to %(max)d bytes in "
                             "base64, as Standard Webhooks libraries generate them; leave it "
                             "empty to have one generated.",
                             min=MIN_KEY_BYTES, max=MAX_KEY_BYTES)
    if errors:
        raise ValidationError(errors)
    order = {name: n for n, name in enumerate(all_events())}
    return {"url": url, "description": description,
            "events": sorted(events, key=order.__getitem__), "secret": secret}


def _state(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit trail keeps of an endpoint: never its secret, only its prefix."""
    return {"url": endpoint.url, "description": endpoint.description,
            "events": list(endpoint.events or ()), "secret_prefix": endpoint.secret_prefix,
            "is_active": endpoint.is_active}


def create_endpoint(data: dict[str, Any]) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (given, or generated), shown to the admin this once."""
    clean = _clean(data)
    secret = clean.pop("secret") or new_secret()
    endpoint = WebhookEndpoint(**clean, secret=secret, secret_prefix=secret[:PREFIX_LENGTH],
                               is_active=True, failure_count=0,
                               created_by=current_actor().label[:254])
    db.session.add(endpoint)
    db.session.flush()
    record_event("create", "webhook_endpoints", endpoint.id, None, _state(endpoint))
    forget_subscriptions(current_tenant_id())
    return endpoint, secret


def update_endpoint(endpoint: WebhookEndpoint, data: dict[str, Any], *,
                    renew_secret: bool = False) -> str | None:
    """Change address, description, events; returns the new secret when it changed."""
    clean = _clean(data)
    before = _state(endpoint)
    secret = clean.pop("secret") or (new_secret() if renew_secret else None)
    endpoint.url, endpoint.description, endpoint.events = (
        clean["url"], clean["description"], clean["events"])
    if secret:
        endpoint.secret, endpoint.secret_prefix = secret, secret[:PREFIX_LENGTH]
    db.session.flush()
    after = _state(endpoint)
    if after != before:
        record_event("update", "webhook_endpoints", endpoint.id, before, after)
    forget_subscriptions(current_tenant_id())
    return secret


def enable_endpoint(endpoint: WebhookEndpoint) -> None:
    """Send again to an endpoint that was disabled (its abandoned deliveries stay so)."""
    if endpoint.is_active:
        return
    endpoint.is_active = True
    endpoint.failure_count, endpoint.failing_since, endpoint.paused_until = 0, None, None
    endpoint.disabled_at, endpoint.disabled_reason = None, None
    db.session.flush()
    record_event("enable", "webhook_endpoints", endpoint.id, {"is_active": False},
                 {"is_active": True})
    forget_subscriptions(current_tenant_id())


def disable_endpoint(endpoint: WebhookEndpoint, reason: str) -> int:
    """Stop sending to an endpoint; its pending deliveries are abandoned (their count)."""
    now = datetime.now(UTC)
    endpoint.is_active = False
    endpoint.disabled_at, endpoint.disabled_reason = now, reason[:500]
    endpoint.paused_until = None
    abandoned = db.session.execute(
        update(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id,
                                      WebhookDelivery.status == "pending")
        .values(status="abandoned", locked_until=None)
        .execution_options(synchronize_session=False)).rowcount
    db.session.flush()
    record_event("disable", "webhook_endpoints", endpoint.id, {"is_active": True},
                 {"is_active": False, "reason": reason[:500], "abandoned": abandoned})
    forget_subscriptions(current_tenant_id())
    return abandoned


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint and its delivery log."""
    before = _state(endpoint)
    endpoint_id = endpoint.id
    db.session.delete(endpoint)
    db.session.flush()
    record_event("delete", "webhook_endpoints", endpoint_id, before, None)
    forget_subscriptions(current_tenant_id())


def send_ping(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a test delivery (sent by the dispatcher after the commit, like any other)."""
    if not endpoint.is_active:
        raise ValidationError({"": _("Enable the endpoint before testing it.")})
    now = datetime.now(UTC)
    actor = current_actor()
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id, event=PING, payload={
            "event": PING, "occurred_at": now.isoformat(),
            "actor": {"kind": actor.kind, "id": actor.id, "label": actor.label},
            "data": {"endpoint": endpoint.id, "events": list(endpoint.events or ())}},
        status="pending", attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(delivery)
    db.session.flush()
    db.session.info[WAKE] = True
    return delivery



def retry_delivery(delivery: WebhookDelivery) -> None:
    """Send a failed or abandoned delivery again, with a fresh series of attempts."""
    if delivery.status not in ("failed", "abandoned"):
        raise ValidationError({"": _("Only a failed or abandoned delivery can be sent again.")})
    if not delivery.endpoint.is_active:
        raise ValidationError({"": _("Enable the endpoint before sending again.")})
    delivery.status, delivery.attempts = "pending", 0
    delivery.next_attempt_at, delivery.locked_until = datetime.now(UTC), None
    db.session.flush()
    db.session.info[WAKE] = True
