"""An agent's or subscriber's files at a glance, for the extranet's home page."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select

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
from app.policies import portal_shown
from app.queries import partner_figures
from app.queries.dashboard import (
    Dashboard,
    Figure,
    _count_sum_select,
    _live,
    _money_pair,
    build_dashboard,
    dashboard_figures,
    read_figures,
)

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
    customers: dict[int, str]  # names of the customers of both lists the user may see
    data_as_of: datetime | None


def build_home(user: User, today: date) -> PortalHome:
    figures = dashboard_figures(user, today) | {"unpaid": unpaid_figure(user)}
    if user.role == Role.AGENT:
        figures["accounts"] = (_live(Account, user, func.count()).select_from(Account),
                               _first)
        figures["deals"] = (_live(Deal, user, func.count()).select_from(Deal)
                            .where(Deal.stage.notin_(CLOSED_DEAL)), _first)
    # Every card's figure in one statement.
    values = read_figures(figures)
    board = build_dashboard(user, today, values=values)
    quotes = list(db.session.scalars(
        _live(Quote, user).where(Quote.status == "sent")
        .order_by(Quote.issued_on.desc(), Quote.id.desc()).limit(SHOWN)))
    overdue = list(db.session.scalars(
        _live(Invoice, user).where(Invoice.overdue_on(today))
        .order_by(Invoice.due_on, Invoice.id).limit(SHOWN)))
    return PortalHome(board, values.get("accounts"), values.get("deals"), *values["unpaid"],
                      quotes, overdue, _customers(user, quotes + overdue), data_as_of(user))


def _customers(user: User, documents: list[Quote | Invoice]) -> dict[int, str]:
    """The names of the documents' customers that `user` may see (the others are not
    named), in one statement: not joined to the lists, where the join would run before
    their LIMIT, over every late invoice of the agent."""
    ids = {document.account_id for document in documents} - {None}
    if not ids:
        return {}
    return dict(db.session.execute(
        _live(Account, user, Account.id, Account.name).where(Account.id.in_(ids))).all())


def _first(row: tuple) -> int:
    return row[0] or 0


def unpaid_invoices(user: User) -> tuple[int, Decimal]:
    """The user's open invoices: how many, and what remains to be paid of them."""
    stmt, make = unpaid_figure(user)
    return make(db.session.execute(stmt).one())


def unpaid_figure(user: User) -> Figure:
    partner_id = partner_figures.kept_partner(user)
    if partner_id is not None:
        return partner_figures.unpaid(partner_id), partner_figures.count_cents
    return (_count_sum_select(_live(Invoice, user).where(
        Invoice.status.in_(OPEN_INVOICE_STATUSES)), Invoice.total - Invoice.amount_paid),
        _money_pair)


def data_as_of(user: User) -> datetime | None:
    """When the last successful feed run ended, not reverted since, among the feeds that
    wrote live records this user's extranet shows: what it shows is as fresh as that (a feed
    of records it does not show, or has since archived, freshened nothing he sees).

    The feeds are tried from the most recently finished: the first one that wrote a record
    the user sees gives the answer, usually at the first probe (one indexed lookup each).
    (One statement with a probe per kind of record, in SQL, took PostgreSQL 14 ms to plan.)"""
    ended = (select(ImportRun.profile_id, func.max(ImportRun.finished_at).label("at"))
             .where(ImportRun.status.in_(("succeeded", "partial")),
                    ImportRun.is_dry_run.is_(False), ImportRun.finished_at.is_not(None),
                    ImportRun.reverted_at.is_(None))  # a run undone since gave nothing
             .group_by(ImportRun.profile_id).subquery())
    feeds = db.session.execute(
        select(ImportProfile.id, ImportProfile.entity, ended.c.at)
        .join(ended, ended.c.profile_id == ImportProfile.id)
        .where(ImportProfile.entity.in_(sorted(portal_shown(user.role))))
        .order_by(ended.c.at.desc(), ImportProfile.id)).all()
    for profile_id, entity_name, at in feeds:
        model = ENTITIES[entity_name].model
        found = db.session.scalar(_live(model, user, model.id)
                                  .where(model.import_profile_id == profile_id).limit(1))
        if found is not None:
            return at
    return None
