"""Contracts (subscriptions, mandates) and deliveries."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import Money, RecordMixin, Searchable, reference_index, search_index

CONTRACT_STATUSES = ("draft", "pending_signature", "active", "terminated")
DELIVERY_STATUSES = ("planned", "shipped", "delivered", "returned")


class Contract(Searchable, RecordMixin, db.Model):
    __tablename__ = "contracts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_ref"),
        UniqueConstraint("tenant_id", "number"),
        Index("ix_contracts_tenant_id_starts_on", "tenant_id", "starts_on", "id"),
        Index("ix_contracts_tenant_id_status", "tenant_id", "status", "starts_on", "id"),
        reference_index("contracts", "account_id"),
        # API sync: updated_since reads in (updated_at, id) order.
        Index("ix_contracts_tenant_id_updated_at_id", "tenant_id", "updated_at", "id"),
        reference_index("contracts", "partner_id", "starts_on", "id"),
        # Did this feed write a contract this agent sees (the extranet's "data as of")?
        Index("ix_contracts_tenant_id_import_profile_id", "tenant_id", "import_profile_id",
              "partner_id"),
        search_index("contracts"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"))
    number: Mapped[str | None] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(20), default="draft")
    signed_on: Mapped[date | None]
    recurring_amount: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")

    account = relationship("Account")
    partner = relationship("Partner")

    def __repr__(self) -> str:
        return f"<Contract {self.id} {self.number}>"


class Delivery(Searchable, RecordMixin, db.Model):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_ref"),
        UniqueConstraint("tenant_id", "number"),
        Index("ix_deliveries_tenant_id_expected_on", "tenant_id", "expected_on", "id"),
        Index("ix_deliveries_tenant_id_status", "tenant_id", "status", "expected_on", "id"),
        reference_index("deliveries", "account_id"),
        reference_index("deliveries", "partner_id", "expected_on", "id"),
        reference_index("deliveries", "order_id"),
        # Did this feed write a delivery this agent sees (the extranet's "data as of")?
        Index("ix_deliveries_tenant_id_import_profile_id", "tenant_id", "import_profile_id",
              "partner_id"),
        # API sync: updated_since reads in (updated_at, id) order.
        Index("ix_deliveries_tenant_id_updated_at_id", "tenant_id", "updated_at", "id"),
        search_index("deliveries"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    number: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="planned")
    shipped_on: Mapped[date | None]
    expected_on: Mapped[date | None]
    delivered_on: Mapped[date | None]
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100))

    account = relationship("Account")
    partner = relationship("Partner")
    order = relationship("Order")

    def __repr__(self) -> str:
        return f"<Delivery {self.id} {self.number}>"
