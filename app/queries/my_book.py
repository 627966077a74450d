"""A salesperson's own book, as his home on a phone shows it: the customers he owns and their
overdue invoices (overdue as app/models/document.py defines it), not the company's."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager

from app import models as m
from app.extensions import db
from app.policies import visible

SHOWN = 5


@dataclass
class MyBook:
    customers: list[m.Account] = field(default_factory=list)
    customer_count: int = 0
    overdue: list[m.Invoice] = field(default_factory=list)
    overdue_count: int = 0
    overdue_amount: Decimal = Decimal("0")


def my_book(user: Any, today: date, limit: int = SHOWN) -> MyBook:
    """The customers `user` owns (last changed first) and the invoices of theirs overdue on
    `today` (longest late first), `limit` of each with their totals."""
    mine = visible(select(m.Account), m.Account, user).where(
        m.Account.owner_id == user.id, m.Account.archived_at.is_(None))
    customers = list(db.session.scalars(
        mine.order_by(m.Account.updated_at.desc(), m.Account.id.desc()).limit(limit)))
    customer_count = db.session.scalar(select(func.count()).select_from(mine.subquery()))
    late = (m.Account.owner_id == user.id, m.Invoice.archived_at.is_(None),
            m.Invoice.overdue_on(today))
    overdue = list(db.session.scalars(
        visible(select(m.Invoice), m.Invoice, user).join(m.Invoice.account).where(*late)
        .options(contains_eager(m.Invoice.account))
        .order_by(m.Invoice.due_on, m.Invoice.id).limit(limit)))
    count, amount = db.session.execute(visible(
        select(func.count(m.Invoice.id),
               func.coalesce(func.sum(m.Invoice.total - m.Invoice.amount_paid), 0))
        .select_from(m.Invoice).join(m.Invoice.account).where(*late), m.Invoice, user)).one()
    return MyBook(customers, customer_count, overdue, count, Decimal(amount))
