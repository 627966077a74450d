"""The figures a salesperson wants at a glance."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import reduce
from typing import Any

from sqlalchemy import BigInteger, Select, cast, func, null, select, true, union_all

from app.extensions import db
from app.models import Delivery, Invoice, Order, Quote, User
from app.models.partner_figures import cents
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


def _count_sum_select(stmt: Select, amount) -> Select:
    """`stmt`'s rows counted, and `amount` summed over them: one row."""
    return stmt.with_only_columns(func.count(), func.sum(amount))


def _money_pair(row) -> tuple[int, Decimal]:
    count, total = row
    return count or 0, Decimal(total or 0).quantize(Decimal("0.01"))


def _live(model: type, user: User, *columns) -> Select:
    """The user's records of `model`, archived ones aside (a feed no longer sends them)."""
    stmt = select(*columns) if columns else select(model)
    return visible(stmt, model, user).where(model.archived_at.is_(None))


# A figure of a page: a select that returns one row (counts, sums), and what makes its value
# of that row. Several are read in one statement (read_figures): a page's cards cost one
# round trip to the database, not one each.
Figure = tuple[Select, Callable[[Any], Any]]


def read_figures(figures: dict[str, Figure]) -> dict[str, Any]:
    """Each figure's value, all read in one statement (one-row subqueries side by side)."""
    subqueries = {name: stmt.subquery(name) for name, (stmt, _make) in figures.items()}
    joined = reduce(lambda left, right: left.join(right, true()), subqueries.values())
    row = db.session.execute(
        select(*(column for sub in subqueries.values() for column in sub.c))
        .select_from(joined)).one()
    values, at = {}, 0
    for name, (_stmt, make) in figures.items():
        width = len(subqueries[name].c)
        values[name] = make(tuple(row[at:at + width]))
        at += width
    return values


def dashboard_figures(user: User, today: date) -> dict[str, Figure]:
    delivered = select(Delivery.order_id).where(
        Delivery.status == "delivered", Delivery.order_id.isnot(None),
        Delivery.archived_at.is_(None))
    return {
        "quotes": (_count_sum_select(_live(Quote, user).where(Quote.status == "sent"),
                                     Quote.total), _money_pair),
        "orders": (_count_sum_select(
            _live(Order, user).where(
                Order.status.in_(("confirmed", "in_progress")), Order.id.notin_(delivered)),
            Order.total), _money_pair),
        "overdue": overdue_figure(user, today),
        "transit": (visible(select(func.count()).select_from(Delivery), Delivery, user)
                    .where(Delivery.status == "shipped", Delivery.archived_at.is_(None)),
                    lambda row: row[0] or 0),
    }


def build_dashboard(user: User, today: date, months: int = 12,
                    values: dict[str, Any] | None = None) -> Dashboard:
    """The dashboard; `values` when its figures were already read (read_figures)."""
    if values is None:
        values = read_figures(dashboard_figures(user, today))
    return Dashboard(*values["quotes"], *values["orders"], *values["overdue"],
                     values["transit"], monthly_invoiced(user, today, months))


def overdue_invoices(user: User, today: date) -> tuple[int, Decimal]:
    """The user's overdue invoices on `today`: how many, and what remains to be paid."""
    stmt, make = overdue_figure(user, today)
    return make(db.session.execute(stmt).one())


def overdue_figure(user: User, today: date) -> Figure:
    partner_id = partner_figures.kept_partner(user)
    if partner_id is not None:
        return partner_figures.overdue(partner_id, today), partner_figures.count_cents
    return (_count_sum_select(_live(Invoice, user).where(Invoice.overdue_on(today)),
                              Invoice.total - Invoice.amount_paid), _money_pair)


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
    stmt = _live(Invoice, user, month_of, func.sum(Invoice.total),
                 cast(null(), BigInteger)).where(
        Invoice.issued_on >= (start if partner_id is None else this_month),
        Invoice.issued_on <= today,
        Invoice.status.notin_(("draft", "cancelled"))).group_by(month_of)
    if partner_id is not None:  # both in one statement
        stmt = union_all(stmt, partner_figures.invoiced_by_month(
            partner_id, start, this_month, _month_of))
    for month, total, total_cents in db.session.execute(stmt):
        year, mon = (int(p) for p in month.split("-"))
        key = date(year, mon, 1)
        if key in buckets:
            buckets[key] += Decimal(total or 0) if total_cents is None else cents(total_cents)
    return sorted(buckets.items())
