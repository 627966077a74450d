"""An agent's or subscriber's files at a glance, for the extranet's home page."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.entities import ENTITIES
from app.extensions import db
from app.models import (
    OPEN_INVOICE_STATUSES,
    Account,
    Deal,
    ImportProfile,
    ImportRun,
    Invoice,
    Quote,
    Role,
    User,
)
from app.policies import visible
from app.queries import partner_figures
from app.queries.dashboard import Dashboard, _count_sum, _live, build_dashboard

SHOWN = 5  # records listed per card
CLOSED_DEAL = ("won", "lost")


@dataclass
class PortalHome:
    board: Dashboard
    accounts: int | None  # agents only
    open_deals: int | None
    unpaid_invoices: int
    unpaid_amount: Decimal
    quotes_to_answer: list[Quote]
    overdue: list[Invoice]
    data_as_of: datetime | None


def build_home(user: User, today: date) -> PortalHome:
    board = build_dashboard(user, today)
    accounts = deals = None
    if user.role == Role.AGENT:
        accounts = db.session.scalar(_live(Account, user, func.count()).select_from(Account))
        deals = db.session.scalar(_live(Deal, user, func.count()).select_from(Deal)
                                  .where(Deal.stage.notin_(CLOSED_DEAL)))
    unpaid = unpaid_invoices(user)
    # Their customers in one more statement (not joined: the join would run before the
    # LIMIT, over every late invoice of the agent); the cards name them.
    quotes = db.session.scalars(
        _live(Quote, user).where(Quote.status == "sent").options(selectinload(Quote.account))
        .order_by(Quote.issued_on.desc(), Quote.id.desc()).limit(SHOWN))
    overdue = db.session.scalars(
        _live(Invoice, user).where(Invoice.overdue_on(today)).options(selectinload(Invoice.account))
        .order_by(Invoice.due_on, Invoice.id).limit(SHOWN))
    return PortalHome(board, accounts, deals, *unpaid, list(quotes), list(overdue),
                      data_as_of(user))


def unpaid_invoices(user: User) -> tuple[int, Decimal]:
    """The user's open invoices: how many, and what remains to be paid of them."""
    partner_id = partner_figures.kept_partner(user)
    if partner_id is not None:
        return partner_figures.unpaid(partner_id)
    return _count_sum(_live(Invoice, user).where(Invoice.status.in_(OPEN_INVOICE_STATUSES)),
                      Invoice.total - Invoice.amount_paid)


def data_as_of(user: User) -> datetime | None:
    """When the last successful feed run ended, among the feeds that wrote records this
    user sees: what the extranet shows is as fresh as that.

    The feeds are tried from the most recently finished: the first one that wrote a record
    the user sees gives the answer, usually at the first probe (one indexed lookup each)."""
    ended = (select(ImportRun.profile_id, func.max(ImportRun.finished_at).label("at"))
             .where(ImportRun.status.in_(("succeeded", "partial")),
                    ImportRun.is_dry_run.is_(False), ImportRun.finished_at.is_not(None))
             .group_by(ImportRun.profile_id).subquery())
    feeds = db.session.execute(
        select(ImportProfile.id, ImportProfile.entity, ended.c.at)
        .join(ended, ended.c.profile_id == ImportProfile.id)
        .order_by(ended.c.at.desc(), ImportProfile.id)).all()
    for profile_id, entity_name, at in feeds:
        entity = ENTITIES.get(entity_name)
        if entity is None:
            continue
        model = entity.model
        found = db.session.scalar(visible(select(model.id), model, user)
                                  .where(model.import_profile_id == profile_id).limit(1))
        if found is not None:
            return at
    return None
