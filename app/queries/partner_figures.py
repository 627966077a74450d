"""An agent's invoice figures read from those kept per partner (app/models/partner_figures.py):
a few hundred rows whatever the number of his partner's invoices.

They are exactly what the same sums over the invoices he sees would give (an agent sees his
partner's invoices, drafts aside, which the kept figures leave out too); tests/queries/
test_partner_figures.py holds them to that after every kind of write."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Select, and_, func, select

from app.extensions import db
from app.models import PartnerInvoiceFigure, Role, User
from app.models.partner_figures import cents

Figure = PartnerInvoiceFigure


def kept_partner(user: User) -> int | None:
    """The partner whose kept figures are what `user` sees, if any: an active agent's."""
    if user.role == Role.AGENT and getattr(user, "is_active", False):
        return user.partner_id
    return None


def _count_sum(stmt: Select) -> tuple[int, Decimal]:
    count, total = db.session.execute(
        stmt.with_only_columns(func.sum(Figure.invoices), func.sum(Figure.open_cents))).one()
    return int(count or 0), cents(total)


def unpaid(partner_id: int) -> tuple[int, Decimal]:
    """Open invoices (issued or overdue): how many, and what remains to be paid of them."""
    return _count_sum(select(Figure).where(Figure.partner_id == partner_id, Figure.is_open))


def overdue(partner_id: int, today: date) -> tuple[int, Decimal]:
    """Overdue invoices on `today`, by the rule of Invoice.overdue_on (open, due before
    `today`, paid less than their total)."""
    return _count_sum(select(Figure).where(
        Figure.partner_id == partner_id,
        and_(Figure.is_open, Figure.due_on < today, Figure.is_unpaid)))


def invoiced_by_month(partner_id: int, start: date, before: date) -> list[tuple[str, Decimal]]:
    """Invoiced amounts by month ("YYYY-MM") of the months from `start` to `before`, excluded
    (the figures are kept by month: the month under way is read from the invoices, which
    may already hold some issued later in it)."""
    rows = db.session.execute(
        select(Figure.issued_month, func.sum(Figure.total_cents))
        .where(Figure.partner_id == partner_id, Figure.issued_month >= start,
               Figure.issued_month < before)
        .group_by(Figure.issued_month))
    return [(f"{month:%Y-%m}", cents(total)) for month, total in rows]
