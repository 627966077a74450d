"""Reads for the webhooks pages: endpoints with their latest delivery, a delivery log page."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import WebhookDelivery, WebhookEndpoint
from app.models.base import MAX_ID
from app.policies import visible

LOG_PAGE = 50


@dataclass
class EndpointRow:
    endpoint: WebhookEndpoint
    last: WebhookDelivery | None
    pending: int


def endpoint_rows() -> list[EndpointRow]:
    """Every endpoint of the tenant, its latest delivery and its count of pending ones."""
    endpoints = db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
    latest_ids = select(func.max(WebhookDelivery.id)).group_by(WebhookDelivery.endpoint_id)
    latest = {d.endpoint_id: d for d in db.session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.id.in_(latest_ids)))}
    pending = dict(db.session.execute(
        select(WebhookDelivery.endpoint_id, func.count(WebhookDelivery.id))
        .where(WebhookDelivery.status == "pending").group_by(WebhookDelivery.endpoint_id)).all())
    return [EndpointRow(e, latest.get(e.id), pending.get(e.id, 0)) for e in endpoints]


def endpoints_select(principal: Any) -> Select:
    """The endpoints `principal` may see (the API's list)."""
    return visible(select(WebhookEndpoint), WebhookEndpoint, principal)


def deliveries_select(endpoint: WebhookEndpoint, status: str | None) -> Select:
    """An endpoint's deliveries, maybe of one status (the API's log)."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    return stmt.where(WebhookDelivery.status == status) if status else stmt


def recent_deliveries(endpoint: WebhookEndpoint, limit: int = 10) -> list[WebhookDelivery]:
    return list(db.session.scalars(deliveries_select(endpoint, None)
                                   .order_by(WebhookDelivery.id.desc()).limit(limit)))


def delivery_page(endpoint: WebhookEndpoint, args: Any) -> tuple[list[WebhookDelivery],
                                                                     int | None, str]:
    """Deliveries newest first, LOG_PAGE at a time (`before=<id>`), maybe of one status;
    with the id to continue from, when there is more."""
    status = args.get("status", "")
    if status not in ("pending", "succeeded", "failed", "abandoned"):
        status = ""
    stmt = deliveries_select(endpoint, status or None)
    before = args.get("before", "")
    if before.isdigit() and 0 < int(before) <= MAX_ID:
        stmt = stmt.where(WebhookDelivery.id < int(before))
    rows = list(db.session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(LOG_PAGE + 1)))
    more = rows[LOG_PAGE - 1].id if len(rows) > LOG_PAGE else None
    return rows[:LOG_PAGE], more, status


def delivery_of(endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery | None:
    """A delivery of this endpoint with its attempts."""
    if not 0 < delivery_id <= MAX_ID:
        return None
    return db.session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                      WebhookDelivery.endpoint_id == endpoint.id)
        .options(selectinload(WebhookDelivery.attempt_log)))
