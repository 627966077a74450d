"""The webhook outbox: deliveries are added in the transaction of the change they announce.

A rolled-back change sends nothing; a committed one wakes the dispatcher
(app/webhooks/worker.py), which sends after the commit, never inside the request. Events come
from the audit rows of every write (`enqueue`: one record or a batch at a time) and, for the
records a feed creates without reading them back, from `enqueue_created`, once per batch.

A tenant without an endpoint pays one dictionary lookup per write: the events its active
endpoints subscribe to are remembered for a few seconds (forgotten at once in this process when
an endpoint changes; other processes see the change within WEBHOOK_CACHE_SECONDS).
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from app.entities import ENTITIES
from app.extensions import db
from app.models import ImportRun, WebhookDelivery, WebhookEndpoint
from app.services.record_rules import chunks, snapshot
from app.tenancy import bound_tenant_id, current_actor
from app.webhooks.events import record_event_name

WAKE = "relais_webhooks_wake"
# The app's sender of deliveries (app/webhooks/worker.py installs it): the outbox only wakes
# it, and so does not import it.
WAKER = "relais.webhooks.wake"
FORGET = "relais_webhooks_forget"

_subscriptions: dict[int, tuple[float, frozenset[str]]] = {}


def forget_subscriptions(tenant_id: int) -> None:
    """An endpoint of the tenant changed: read its subscriptions again (also after commit)."""
    _subscriptions.pop(tenant_id, None)
    db.session.info.setdefault(FORGET, set()).add(tenant_id)


def subscribed_events(tenant_id: int) -> frozenset[str]:
    """The events some active endpoint of the (current) tenant subscribes to."""
    now = time.monotonic()
    known = _subscriptions.get(tenant_id)
    if known is not None and known[0] > now:
        return known[1]
    rows = db.session.scalars(select(WebhookEndpoint.events)
                              .where(WebhookEndpoint.is_active.is_(True))).all()
    events = frozenset(name for row in rows for name in (row or ()))
    _subscriptions[tenant_id] = (now + current_app.config.get("WEBHOOK_CACHE_SECONDS", 5.0),
                                 events)
    return events


def _wanted(names: Iterable[str]) -> frozenset[str]:
    """Those of `names` some endpoint wants; empty when no tenant is bound."""
    tenant_id = bound_tenant_id()
    if tenant_id is None:
        return frozenset()
    return subscribed_events(tenant_id).intersection(names)


def _endpoints(event: str) -> list[int]:
    rows = db.session.execute(select(WebhookEndpoint.id, WebhookEndpoint.events)
                              .where(WebhookEndpoint.is_active.is_(True))
                              .order_by(WebhookEndpoint.id)).all()
    return [endpoint_id for endpoint_id, events in rows if event in (events or ())]


def _actor() -> dict[str, Any]:
    actor = current_actor()
    return {"kind": actor.kind, "id": actor.id, "label": actor.label}


def _rows(event: str, entity: str | None, record_id: int | None, data: dict[str, Any],
          endpoint_ids: list[int], now: datetime, actor: dict[str, Any]) -> list[dict[str, Any]]:
    payload = {"event": event, "occurred_at": now.isoformat(), "actor": actor, "data": data}
    key = f"{entity}:{record_id}" if entity and record_id is not None else None
    return [{"endpoint_id": endpoint_id, "event": event, "entity": entity,
             "record_id": record_id, "ordering_key": key, "payload": payload,
             "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for endpoint_id in endpoint_ids]


def enqueue(audits: list[dict[str, Any]]) -> None:
    """Deliveries for audit rows (app.services.audit.audit_row) of records written, one or a
    batch at a time, and of import runs that end."""
    kinds = {(audit["action"], audit["entity"]) for audit in audits}
    if ("finish", "import_runs") in kinds:
        for audit in audits:
            if audit["action"] == "finish" and audit["entity"] == "import_runs":
                _enqueue_import_end(audit)
    names = {kind: record_event_name(*kind) for kind in kinds}
    wanted = _wanted({name for name in names.values() if name is not None})
    if not wanted:
        return
    endpoints = {name: _endpoints(name) for name in wanted}
    now, actor = datetime.now(UTC), _actor()
    rows = []
    for audit in audits:
        entity, record_id = audit["entity"], audit["record_id"]
        name = names[audit["action"], entity]
        if name in wanted:
            data = {"entity": entity, "id": record_id, "before": audit["before"],
                    "after": audit["after"]}
            rows += _rows(name, entity, record_id, data, endpoints[name], now, actor)
    _insert(rows)


def enqueue_event(name: str, entity: str, record_id: int, data: dict[str, Any]) -> None:
    """Deliveries of an event of its own (not a record's create, update or delete), e.g.
    `subscription.signed`, to the endpoints that subscribe to it."""
    if not _wanted((name,)):
        return
    _insert(_rows(name, entity, record_id, data, _endpoints(name), datetime.now(UTC),
                  _actor()))


def _enqueue_import_end(audit: dict[str, Any]) -> None:
    status = (audit["after"] or {}).get("status")
    name = "import.failed" if status in ("failed", "interrupted") else "import.finished"
    if not _wanted((name,)):
        return
    run = db.session.scalar(select(ImportRun).where(ImportRun.id == audit["record_id"])
                            .options(selectinload(ImportRun.profile)))
    if run is None or run.is_dry_run:  # a dry run changes nothing: nothing to announce
        return
    data = {"entity": "import_runs", "id": run.id,
            "profile": run.profile.name if run.profile else None, "status": run.status,
            "source": run.source, "file_name": run.file_name, "message": run.message,
            "rows": run.rows_total, **run.counts,
            "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at)}
    _insert(_rows(name, "import_runs", run.id, data, _endpoints(name),
                  audit["created_at"], _actor()))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def enqueue_created(entity: str, *, ids: list[int] | None = None, key: str | None = None,
                    keys: list[Any] | None = None) -> None:
    """Deliveries for records the feed engine created in bulk, found by id or by key."""
    name = f"{entity}.created"
    if not _wanted((name,)):
        return
    spec = ENTITIES[entity]
    model = spec.model
    column = model.id if ids is not None else getattr(model, key or "id")
    values = list(ids if ids is not None else keys or ())
    endpoint_ids = _endpoints(name)
    now, actor = datetime.now(UTC), _actor()
    rows = []
    for chunk in chunks(values):
        stmt = select(model).where(column.in_(chunk)).order_by(model.id)
        if spec.line_model is not None:
            stmt = stmt.options(selectinload(model.lines))
        for record in db.session.scalars(stmt):
            data = {"entity": entity, "id": record.id, "before": None,
                    "after": snapshot(spec, record)}
            rows += _rows(name, entity, record.id, data, endpoint_ids, now, actor)
    _insert(rows)


def _insert(rows: list[dict[str, Any]]) -> None:
    for chunk in chunks(rows):
        db.session.execute(insert(WebhookDelivery), chunk)
    if rows:
        db.session.info[WAKE] = True


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for tenant_id in session.info.pop(FORGET, ()):
        _subscriptions.pop(tenant_id, None)
    if session.info.pop(WAKE, False) and has_app_context():
        wake = current_app.extensions.get(WAKER)
        if wake is not None:
            wake()


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(WAKE, None)
