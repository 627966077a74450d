"""An agent's invoice figures read from those kept per partner (app/models/partner_figures.py):
a few hundred rows whatever the number of his partner's invoices.

They are exactly what the same sums over the invoices he sees would give (an agent sees his
partner's invoices, drafts aside, which the kept figures leave out too); tests/queries/
test_partner_figures.py holds them to that after every kind of write."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Numeric, Select, and_, cast, func, null, select

from app.models import PartnerInvoiceFigure, Role, User
from app.models.partner_figures import cents

Figure = PartnerInvoiceFigure


def kept_partner(user: User) -> int | None:
    """The partner whose kept figures are what `user` sees, if any: an active agent's."""
    if user.role == Role.AGENT and getattr(user, "is_active", False):
        return user.partner_id
    return None


def count_cents(row: tuple) -> tuple[int, Decimal]:
    """(invoices, cents) summed from the figures: a count and an amount."""
    count, total = row
    return int(count or 0), cents(total)


def _sums(stmt: Select) -> Select:
    return stmt.with_only_columns(func.sum(Figure.invoices), func.sum(Figure.open_cents))


def unpaid(partner_id: int) -> Select:
    """Open invoices (issued or overdue): how many, and what remains to be paid of them (one
    row, made a count and an amount by `count_cents`)."""
    return _sums(select(Figure).where(Figure.partner_id == partner_id, Figure.is_open))


def overdue(partner_id: int, today: date) -> Select:
    """Overdue invoices on `today`, by the rule of Invoice.overdue_on (open, due before
    `today`, paid less than their total), as `unpaid`."""
    return _sums(select(Figure).where(
        Figure.partner_id == partner_id,
        and_(Figure.is_open, Figure.due_on < today, Figure.is_unpaid)))


def invoiced_by_month(partner_id: int, start: date, before: date, month_of) -> Select:
    """Invoiced amounts by month (`month_of`: "YYYY-MM") of the months from `start` to
    `before`, excluded (the figures are kept by month: the month under way is read from the
    invoices, which may already hold some issued later in it): rows of (month, None, cents),
    to be read beside the invoices' (month, amount, None) in one statement."""
    month = month_of(Figure.issued_month)
    return (select(month, cast(null(), Numeric(12, 2)), func.sum(Figure.total_cents))
            .where(Figure.partner_id == partner_id, Figure.issued_month >= start,
                   Figure.issued_month < before)
            .group_by(month))
