"""Everything about one account, each part a bounded, indexed query."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from app import models as m
from app.extensions import db
from app.policies import visible

SECTION_LIMIT = 10


@dataclass
class Section:
    entity: str
    rows: list[Any]
    total: int


@dataclass
class AccountOverview:
    sections: dict[str, Section] = field(default_factory=dict)
    open_amount: Decimal = Decimal("0")
    overdue_amount: Decimal = Decimal("0")
    invoiced_12_months: Decimal = Decimal("0")


_SECTIONS = (
    ("contracts", m.Contract, m.Contract.starts_on),
    ("quotes", m.Quote, m.Quote.issued_on),
    ("orders", m.Order, m.Order.ordered_on),
    ("deliveries", m.Delivery, m.Delivery.expected_on),
    ("invoices", m.Invoice, m.Invoice.issued_on),
    ("deals", m.Deal, m.Deal.expected_close_on),
)


def account_overview(account: m.Account, user: m.User, today: date) -> AccountOverview:
    overview = AccountOverview()
    for name, model, order_column in _SECTIONS:
        base = visible(select(model).where(model.account_id == account.id), model, user)
        rows = list(db.session.scalars(
            base.order_by(order_column.desc().nulls_last(), model.id.desc()).limit(SECTION_LIMIT)))
        total = db.session.scalar(base.with_only_columns(func.count(model.id))) or 0
        overview.sections[name] = Section(name, rows, total)
    contacts = visible(select(m.Contact).where(m.Contact.account_id == account.id), m.Contact, user)
    overview.sections["contacts"] = Section(
        "contacts", list(db.session.scalars(contacts.order_by(m.Contact.last_name).limit(50))),
        db.session.scalar(contacts.with_only_columns(func.count(m.Contact.id))) or 0)
    files = visible(select(m.Attachment).where(m.Attachment.account_id == account.id),
                    m.Attachment, user)
    overview.sections["attachments"] = Section(
        "attachments", list(db.session.scalars(files.order_by(m.Attachment.id.desc()).limit(20))),
        db.session.scalar(files.with_only_columns(func.count(m.Attachment.id))) or 0)
    invoices = visible(select(m.Invoice).where(m.Invoice.account_id == account.id), m.Invoice, user)
    open_invoices = invoices.where(m.Invoice.status.in_(("issued", "overdue")))
    due = m.Invoice.total - m.Invoice.amount_paid
    overview.open_amount = _sum(open_invoices.with_only_columns(func.sum(due)))
    overview.overdue_amount = _sum(open_invoices.where(m.Invoice.due_on < today)
                                   .with_only_columns(func.sum(due)))
    year_ago = date(today.year - 1, today.month, min(today.day, 28))
    overview.invoiced_12_months = _sum(
        invoices.where(m.Invoice.issued_on >= year_ago,
                       m.Invoice.status.notin_(("draft", "cancelled")))
        .with_only_columns(func.sum(m.Invoice.total)))
    return overview


def _sum(stmt: Any) -> Decimal:
    return Decimal(db.session.scalar(stmt) or 0).quantize(Decimal("0.01"))
