"""The figures a salesperson wants at a glance."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import Delivery, Invoice, Order, Quote, User
from app.policies import visible
from app.queries import partner_figures


@dataclass
class Dashboard:
    open_quotes: int
    open_quotes_amount: Decimal
    orders_to_deliver: int
    orders_to_deliver_amount: Decimal
    overdue_invoices: int
    overdue_amount: Decimal
    deliveries_in_transit: int
    monthly: list[tuple[date, Decimal]]


def _count_sum(stmt, amount) -> tuple[int, Decimal]:
    count, total = db.session.execute(stmt.with_only_columns(func.count(), func.sum(amount))).one()
    return count or 0, Decimal(total or 0).quantize(Decimal("0.01"))


def _live(model: type, user: User, *columns) -> Select:
    """The user's records of `model`, archived ones aside (a feed no longer sends them)."""
    stmt = select(*columns) if columns else select(model)
    return visible(stmt, model, user).where(model.archived_at.is_(None))


def build_dashboard(user: User, today: date, months: int = 12) -> Dashboard:
    quotes = _count_sum(_live(Quote, user).where(Quote.status == "sent"), Quote.total)
    delivered = select(Delivery.order_id).where(
        Delivery.status == "delivered", Delivery.order_id.isnot(None),
        Delivery.archived_at.is_(None))
    orders = _count_sum(
        _live(Order, user).where(
            Order.status.in_(("confirmed", "in_progress")), Order.id.notin_(delivered)),
        Order.total)
    overdue = overdue_invoices(user, today)
    transit = db.session.scalar(visible(select(func.count()).select_from(Delivery), Delivery, user)
                                .where(Delivery.status == "shipped",
                                       Delivery.archived_at.is_(None))) or 0
    return Dashboard(*quotes, *orders, *overdue, transit, monthly_invoiced(user, today, months))


def overdue_invoices(user: User, today: date) -> tuple[int, Decimal]:
    """The user's overdue invoices on `today`: how many, and what remains to be paid."""
    partner_id = partner_figures.kept_partner(user)
    if partner_id is not None:
        return partner_figures.overdue(partner_id, today)
    return _count_sum(_live(Invoice, user).where(Invoice.overdue_on(today)),
                      Invoice.total - Invoice.amount_paid)


def _month_of(column):
    """The "YYYY-MM" of a date column: spelled differently by SQLite and PostgreSQL."""
    if db.engine.dialect.name == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def _month_start(day: date, back: int) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def monthly_invoiced(user: User, today: date, months: int = 12) -> list[tuple[date, Decimal]]:
    """Invoiced amounts (excl. cancelled and drafts) for each of the last `months` months."""
    start = _month_start(today, months - 1)
    buckets = {_month_start(today, back): Decimal("0") for back in range(months)}
    # An agent's past months from his partner's kept figures, the month under way (and
    # anyone else's months) from the invoices.
    partner_id = partner_figures.kept_partner(user)
    this_month = _month_start(today, 0)
    month_of = _month_of(Invoice.issued_on)
    grouped = db.session.execute(
        _live(Invoice, user, month_of, func.sum(Invoice.total)).where(
            Invoice.issued_on >= (start if partner_id is None else this_month),
            Invoice.issued_on <= today,
            Invoice.status.notin_(("draft", "cancelled"))).group_by(month_of)).all()
    if partner_id is not None:
        grouped += partner_figures.invoiced_by_month(partner_id, start, this_month)
    for month, total in grouped:
        year, mon = (int(p) for p in month.split("-"))
        key = date(year, mon, 1)
        if key in buckets:
            buckets[key] += Decimal(total or 0)
    return sorted(buckets.items())
