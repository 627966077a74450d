"""Selling online: the offers a tenant publishes and its SEPA creditor settings."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import JSONType, TenantScoped, TimestampMixin

RECURRENCES = ("monthly", "yearly", "one_off")


class Offer(TenantScoped, TimestampMixin, db.Model):
    """What a customer subscribes to online at /<tenant>/subscribe/<code>: its price and
    recurrence, the contract he signs, the custom fields he fills in, what ships at once."""

    __tablename__ = "offers"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),
                      Index("ix_offers_tenant_id_is_published", "tenant_id", "is_published"))

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    recurrence: Mapped[str] = mapped_column(String(10))
    # The contract's text with merge fields ({{ customer.name }}…: app/services/offers.py).
    contract_template: Mapped[str] = mapped_column(Text)
    # Keys of the tenant's custom fields on accounts that the subscription form asks for.
    collected_fields: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    # Shipped as soon as the contract is signed: a delivery of this many items of this SKU.
    fulfilment_sku: Mapped[str | None] = mapped_column(String(60))
    fulfilment_quantity: Mapped[int] = mapped_column(Integer, default=1)
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)

    def __repr__(self) -> str:
        return f"<Offer {self.id} {self.code}>"


class SepaCreditor(TenantScoped, TimestampMixin, db.Model):
    """The tenant as a SEPA Direct Debit creditor (one per tenant): who collects, with
    which identifier, on which account, with a structured address (the SEPA address rules
    of November 2026), and how many days before a debit its customers are notified."""

    __tablename__ = "sepa_creditors"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(70))
    street: Mapped[str] = mapped_column(String(70))
    building_number: Mapped[str] = mapped_column(String(16), default="")
    postal_code: Mapped[str] = mapped_column(String(16))
    town: Mapped[str] = mapped_column(String(35))
    country: Mapped[str] = mapped_column(String(2))
    creditor_identifier: Mapped[str] = mapped_column(String(35))
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str] = mapped_column(String(11), default="")
    prenotification_days: Mapped[int] = mapped_column(Integer, default=14)

    def __repr__(self) -> str:
        return f"<SepaCreditor {self.tenant_id} {self.creditor_identifier}>"
