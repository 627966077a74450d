"""Commercial documents with lines: quotes, orders and invoices."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    and_,
    or_,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from app.extensions import db
from app.models.base import (
    ZERO,
    Money,
    RecordMixin,
    Searchable,
    TenantScoped,
    UTCDateTime,
    optional_reference_index,
    reference_index,
    search_index,
)

if TYPE_CHECKING:
    from app.models.account import Account
    from app.models.partner import Partner

QUOTE_STATUSES = ("draft", "sent", "accepted", "refused", "expired")
ORDER_STATUSES = ("draft", "confirmed", "in_progress", "delivered", "cancelled")
INVOICE_STATUSES = ("draft", "issued", "paid", "overdue", "cancelled")
# Issued and not settled. A stored "overdue" is what some feeds send for an issued invoice:
# it is read as "issued", and whether it is late is decided by the rule below, not by them.
OPEN_INVOICE_STATUSES = ("issued", "overdue")


class DocumentMixin(Searchable, RecordMixin):
    """Account, partner, number, totals and currency of a commercial document."""

    number: Mapped[str | None] = mapped_column(String(50))
    total_excl_tax: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    tax_total: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    total: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")

    @declared_attr
    def account_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))

    @declared_attr
    def partner_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("partners.id", ondelete="SET NULL"))

    @declared_attr
    def account(cls) -> Mapped[Account]:
        return relationship("Account")

    @declared_attr
    def partner(cls) -> Mapped[Partner | None]:
        return relationship("Partner")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.number}>"


class LineMixin(TenantScoped):
    """One line of a document: sku, label, quantity, unit price, tax rate (percent)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
    sku: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3), default=Decimal("1"))
    unit_price: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("20.00"))

    @property
    def amount_excl_tax(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(Decimal("0.01"))

    @property
    def tax_amount(self) -> Decimal:
        return (self.amount_excl_tax * self.tax_rate / 100).quantize(Decimal("0.01"))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.label}>"


def _document_indexes(table: str, date_column: str, partner_extra: tuple[str, ...] = ()
                      ) -> tuple:
    """The indexes every document table has; `partner_extra`: columns the partner index also
    carries, so an agent's figures are read from the index alone."""
    return (
        UniqueConstraint("tenant_id", "external_ref"),
        UniqueConstraint("tenant_id", "number"),
        Index(f"ix_{table}_tenant_id_{date_column}", "tenant_id", date_column, "id"),
        Index(f"ix_{table}_tenant_id_status", "tenant_id", "status", date_column, "id"),
        # A customer's documents by date (360° page); deleting a customer (reference_index).
        reference_index(table, "account_id", date_column, "id"),
        reference_index(table, "partner_id", date_column, "id", *partner_extra),
        Index(f"ix_{table}_tenant_id_total", "tenant_id", "total", "id"),
        Index(f"ix_{table}_tenant_id_updated_at", "tenant_id", "updated_at"),
        # Did this feed write a record this agent sees (the extranet's "data as of")?
        Index(f"ix_{table}_tenant_id_import_profile_id", "tenant_id", "import_profile_id",
              "partner_id"),
        search_index(table),
    )


class Quote(DocumentMixin, db.Model):
    __tablename__ = "quotes"
    __table_args__ = _document_indexes("quotes", "issued_on") + (
        optional_reference_index("quotes", "deal_id"),)

    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    issued_on: Mapped[date | None]
    valid_until: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # The customer's answer (in the extranet, or through a partner's token): when, by whom
    # (the user; a token or a feed by its label, kept if the user goes), and his comment.
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    answered_by_label: Mapped[str | None] = mapped_column(String(254))
    answer_comment: Mapped[str | None] = mapped_column(Text)

    deal = relationship("Deal")
    answered_by = relationship("User", foreign_keys=[answered_by_id])
    lines: Mapped[list[QuoteLine]] = relationship(
        back_populates="quote", cascade="all, delete-orphan", order_by="QuoteLine.position"
    )


class QuoteLine(LineMixin, db.Model):
    __tablename__ = "quote_lines"
    __table_args__ = (Index("ix_quote_lines_quote_id", "quote_id"),)

    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"))
    quote: Mapped[Quote] = relationship(back_populates="lines")


class Order(DocumentMixin, db.Model):
    __tablename__ = "orders"
    __table_args__ = _document_indexes("orders", "ordered_on") + (
        optional_reference_index("orders", "quote_id"),)

    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id", ondelete="SET NULL"))
    ordered_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(20), default="confirmed")

    quote = relationship("Quote")
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.position"
    )


class OrderLine(LineMixin, db.Model):
    __tablename__ = "order_lines"
    __table_args__ = (Index("ix_order_lines_order_id", "order_id"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    order: Mapped[Order] = relationship(back_populates="lines")


class Invoice(DocumentMixin, db.Model):
    __tablename__ = "invoices"
    # The extranet home sums an agent's invoices by month (status, total) from the index.
    __table_args__ = _document_indexes("invoices", "issued_on",
                                       ("status", "total", "archived_at")) + (
        Index("ix_invoices_tenant_id_due_on", "tenant_id", "due_on", "id"),
        # A customer's open invoices (360° page amounts) without reading his paid history.
        Index("ix_invoices_tenant_id_account_id_status", "tenant_id", "account_id", "status"),
        # Overdue invoices (derived: open, due before today, not fully paid), counted and
        # summed from the index alone: the dashboard, the "Overdue" and "Issued" lists' counts.
        Index("ix_invoices_tenant_id_status_due_on", "tenant_id", "status", "due_on", "total",
              "amount_paid", "archived_at"),
        # An agent's open and overdue invoices and their amounts (extranet home), likewise.
        Index("ix_invoices_tenant_id_partner_id_status", "tenant_id", "partner_id", "status",
              "due_on", "total", "amount_paid", "archived_at"),
        optional_reference_index("invoices", "order_id"),
    )

    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    issued_on: Mapped[date | None]
    due_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(20), default="issued")
    amount_paid: Mapped[Decimal] = mapped_column(Money, default=ZERO)

    order = relationship("Order")
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.position"
    )

    @property
    def open_amount(self) -> Decimal:
        if self.status in ("draft", "paid", "cancelled"):
            return ZERO
        return max(self.total - (self.amount_paid or ZERO), ZERO)

    # Overdue is derived, never stored: on day `day` an invoice is overdue when it is open
    # (OPEN_INVOICE_STATUSES), its due date is before `day` and less than its total was paid.
    # Always true on the day it is read, with no nightly job to miss. The Python and the SQL
    # forms below are the only statements of the rule: every page, export and the API use them.

    def days_late_on(self, day: date) -> int | None:
        """Days since the due date when overdue on `day`, else None."""
        if (self.status in OPEN_INVOICE_STATUSES and self.due_on is not None
                and self.due_on < day and (self.amount_paid or ZERO) < (self.total or ZERO)):
            return (day - self.due_on).days
        return None

    def is_overdue_on(self, day: date) -> bool:
        return self.days_late_on(day) is not None

    def status_shown_on(self, day: date) -> str:
        """The status people see: "overdue" when late, "issued" for any other open invoice,
        else the stored one."""
        if self.is_overdue_on(day):
            return "overdue"
        return "issued" if self.status in OPEN_INVOICE_STATUSES else self.status

    @classmethod
    def overdue_on(cls, day: date) -> ColumnElement[bool]:
        """SQL: overdue on `day` (the rule above)."""
        return and_(cls.status.in_(OPEN_INVOICE_STATUSES), cls.due_on < day,
                    cls.amount_paid < cls.total)

    @classmethod
    def not_overdue_on(cls, day: date) -> ColumnElement[bool]:
        """SQL: not overdue on `day` (spelled out: NOT over a null due date would be null)."""
        return or_(cls.status.notin_(OPEN_INVOICE_STATUSES), cls.due_on.is_(None),
                   cls.due_on >= day, cls.amount_paid >= cls.total)

    @classmethod
    def not_overdue_open_on(cls, day: date) -> ColumnElement[bool]:
        """SQL: open but not overdue on `day` (shown as issued); no due date is not late."""
        return and_(cls.status.in_(OPEN_INVOICE_STATUSES),
                    or_(cls.due_on.is_(None), cls.due_on >= day, cls.amount_paid >= cls.total))

    @classmethod
    def shown_status_in(cls, statuses: list[str], day: date) -> ColumnElement[bool]:
        """SQL: the invoices whose status as shown on `day` is one of `statuses`."""
        clauses = [cls.overdue_on(day) if status == "overdue" else
                   cls.not_overdue_open_on(day) if status == "issued" else cls.status == status
                   for status in statuses]
        return clauses[0] if len(clauses) == 1 else or_(*clauses)


class InvoiceLine(LineMixin, db.Model):
    __tablename__ = "invoice_lines"
    __table_args__ = (Index("ix_invoice_lines_invoice_id", "invoice_id"),)

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    invoice: Mapped[Invoice] = relationship(back_populates="lines")
