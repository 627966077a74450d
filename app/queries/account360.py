"""Everything about one account, each part a bounded, indexed query."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select

from app import models as m
from app.extensions import db
from app.policies import visible
from app.queries.keyset import keyset_page

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
    stats = _stats(account, user, today)
    for name, model, order_column in _SECTIONS:
        # Latest first, undated last, as on the list: keyset segments walk the
        # (tenant, account, date, id) index where "DESC NULLS LAST" sorts every row on PostgreSQL.
        rows = keyset_page(_of_account(model, account, user), order_column, model.id,
                           descending=True, size=SECTION_LIMIT).rows if stats[name] else []
        overview.sections[name] = Section(name, rows, stats[name])
    for name, model, order, limit in (("contacts", m.Contact, m.Contact.last_name, 50),
                                      ("attachments", m.Attachment, m.Attachment.id.desc(), 20)):
        stmt = _of_account(model, account, user).order_by(order).limit(limit)
        rows = list(db.session.scalars(stmt)) if stats[name] else []
        overview.sections[name] = Section(name, rows, stats[name])
    overview.open_amount = _money(stats["open_amount"])
    overview.overdue_amount = _money(stats["overdue_amount"])
    overview.invoiced_12_months = _money(stats["invoiced_12_months"])
    return overview


def _of_account(model: type, account: m.Account, user: m.User) -> Select:
    """The account's records of `model` the user may see, archived ones aside."""
    stmt = select(model).where(model.account_id == account.id, model.archived_at.is_(None))
    return visible(stmt, model, user)


def _stats(account: m.Account, user: m.User, today: date) -> dict[str, Any]:
    """Every count and amount of the page in one round trip, each part on its own index."""
    counted = [*((name, model) for name, model, _ in _SECTIONS),
               ("contacts", m.Contact), ("attachments", m.Attachment)]
    # Model columns in every select, so the tenant criteria reach each subquery.
    parts = [_of_account(model, account, user).with_only_columns(func.count(model.id))
             .scalar_subquery().label(name) for name, model in counted]
    invoices = _of_account(m.Invoice, account, user)
    due = m.Invoice.total - m.Invoice.amount_paid
    amounts = invoices.where(m.Invoice.status.in_(m.OPEN_INVOICE_STATUSES)).with_only_columns(
        func.sum(due).label("open_amount"),
        func.sum(case((m.Invoice.overdue_on(today), due), else_=0)).label("overdue_amount"),
    ).subquery()
    year_ago = date(today.year - 1, today.month, min(today.day, 28))
    invoiced = invoices.where(m.Invoice.issued_on >= year_ago,
                              m.Invoice.status.notin_(("draft", "cancelled")))
    parts.append(invoiced.with_only_columns(func.sum(m.Invoice.total))
                 .scalar_subquery().label("invoiced_12_months"))
    stmt = select(*parts, amounts.c.open_amount, amounts.c.overdue_amount)
    return dict(db.session.execute(stmt).one()._mapping)


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))
