"""The demo tenant: the sales office of "Stores Dupont", a French blind and shutter maker.

Deterministic (one seeded generator) and dated relative to today, so the dashboard shows
quotes awaiting an answer, orders to deliver, deliveries in transit and overdue invoices.
Writes go through the services (flush and audit, never commit): the caller commits.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.demo.builder import DemoBuilder
from app.demo.data import DEMO_LOGINS
from app.demo.feeds import load_feeds
from app.extensions import db
from app.models import Tenant
from app.services.tenants import create_tenant
from app.tenancy import Actor, tenant_context

__all__ = ["DEMO_LOGINS", "load_demo"]


def load_demo(slug: str = "demo") -> bool:
    """Create the demo tenant `slug`; False, changing nothing, when it already exists."""
    if db.session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        return False
    tenant = create_tenant(slug, "Stores Dupont")
    with tenant_context(tenant.id, Actor("system", None, "demo loader")):
        DemoBuilder(date.today()).run()
        load_feeds(date.today())
    return True
