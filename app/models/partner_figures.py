"""A partner's invoice figures, kept by the database as invoices are written.

The extranet home shows an agent his partner's invoiced amounts by month, his unpaid and his
overdue invoices (count and amount). Summed from the invoices, those figures cost as much as
the partner has invoices (70,000 after a large import in the contention benchmark); read from
here they cost a few hundred small rows, however many invoices there are.

Each row adds up the partner's live invoices (not archived, neither draft nor cancelled) that
share a month of issue, and, for open ones, a due date and whether they are fully paid: some
ten rows per partner and month (a day of issue would make nearly one row per invoice). Triggers
on `invoices` (migration 20261205_2330) keep the rows in step with every write in the same
transaction: forms, the API, bulk calls, imports (COPY included), reverts, archives,
deletions and the cascades of the foreign keys, so the figures are never staler than the
invoices a reader sees. Nothing in the application writes this table.

On PostgreSQL a transaction's changes wait in rows of its own (`pending_xid`) until its
commit adds them to the figures, in the key's order: two transactions writing invoices of the
same partners in several statements each would otherwise hold each other's rows and deadlock
(tests/portal/test_invoice_figures_concurrency.py). Readers sum a partner's rows, so their
own transaction's pending changes count and nobody else's do.

Amounts are kept in cents, as integers: exact on SQLite too, where a sum of many +/- deltas
in floating point would drift.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Index, Integer, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import TenantScoped

# Dates stand in for "none" so that every key column is NOT NULL (a unique key treats NULLs
# as distinct): no issue date sorts before any month shown; no due date is never past.
NO_ISSUE_DATE = date(1, 1, 1)
NO_DUE_DATE = date(9999, 12, 31)


class PartnerInvoiceFigure(TenantScoped, db.Model):
    __tablename__ = "partner_invoice_figures"
    __table_args__ = (
        UniqueConstraint("tenant_id", "partner_id", "issued_month", "due_on", "is_open",
                         "is_unpaid", "pending_xid", name="uq_partner_invoice_figures_key"),
        # Its key serves the months' read; the unpaid and overdue sums read this one alone
        # (a partner's open rows, one per due date, are thousands after a large import).
        Index("ix_partner_invoice_figures_open", "tenant_id", "partner_id", "is_open",
              "due_on", "is_unpaid", "invoices", "open_cents"),
        Index("ix_partner_invoice_figures_pending", "pending_xid",
              postgresql_where=text("pending_xid <> 0"), sqlite_where=text("pending_xid <> 0")),
    )

    # 64 bits on PostgreSQL: every upsert draws from the sequence, conflicting or not.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    # No foreign key: a partner's deletion sets his invoices' partner to none, which the
    # triggers subtract from rows that must still be there to be subtracted from.
    partner_id: Mapped[int]
    issued_month: Mapped[date] = mapped_column(Date)  # its first day
    due_on: Mapped[date] = mapped_column(Date)  # NO_DUE_DATE unless open
    is_open: Mapped[bool]  # issued or overdue (OPEN_INVOICE_STATUSES)
    is_unpaid: Mapped[bool]  # open and paid less than its total
    invoices: Mapped[int]
    total_cents: Mapped[int] = mapped_column(BigInteger)
    open_cents: Mapped[int] = mapped_column(BigInteger)  # total - amount paid, open ones
    # PostgreSQL: the id of the transaction whose changes the row holds until its commit
    # adds them to the row of the same key with 0 (migration a3c8e5f2d917); always 0 once
    # committed, and on SQLite.
    pending_xid: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<PartnerInvoiceFigure {self.id} partner {self.partner_id} {self.issued_month}>"


def cents(value: int | None) -> Decimal:
    return (Decimal(value or 0) / 100).quantize(Decimal("0.01"))
