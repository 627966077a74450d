"""An online subscription: one customer's way through /<tenant>/subscribe/<offer>, from the
details he typed to the records his signature created."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import (
    JSONType,
    TenantScoped,
    TimestampMixin,
    UTCDateTime,
    optional_reference_index,
)

if TYPE_CHECKING:
    from app.models.selling import Offer, Signature

SUBSCRIPTION_STATUSES = ("started", "signed", "abandoned")
# The steps in their order; the furthest reached is kept, with the time of each.
SUBSCRIPTION_STEPS = ("details", "review", "signature", "done")
SUBSCRIPTION_RECORDS = ("account_id", "contact_id", "contract_id", "order_id", "delivery_id")


class Subscription(TenantScoped, TimestampMixin, db.Model):
    """What the customer typed (a structured address, as the SEPA rules of November 2026
    want it), the mandate reference reserved for him at review, a resume link (only its
    SHA-256 kept), the signature and, once signed, the records it created and the sealed
    contract (under FILES_DIR, with its SHA-256)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "resume_token_hash"),
        Index("ix_subscriptions_tenant_id_status_updated_at", "tenant_id", "status",
              "updated_at"),
        Index("ix_subscriptions_tenant_id_created_at", "tenant_id", "created_at"),
        # The records a signature created, found when one of them is deleted.
        *(optional_reference_index("subscriptions", column) for column in SUBSCRIPTION_RECORDS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id", ondelete="SET NULL"))
    offer_code: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(10), default="started")
    step: Mapped[str] = mapped_column(String(10), default="details")
    details_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signature_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    street: Mapped[str] = mapped_column(String(70), default="")
    building_number: Mapped[str] = mapped_column(String(16), default="")
    postal_code: Mapped[str] = mapped_column(String(16), default="")
    town: Mapped[str] = mapped_column(String(35), default="")
    country: Mapped[str] = mapped_column(String(2), default="FR")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    custom: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    iban: Mapped[str] = mapped_column(String(34), default="")
    bic: Mapped[str] = mapped_column(String(11), default="")
    language: Mapped[str] = mapped_column(String(5), default="fr")
    mandate_reference: Mapped[str | None] = mapped_column(String(35))

    resume_token_hash: Mapped[str] = mapped_column(String(64))
    resume_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")

    signature_id: Mapped[int | None] = mapped_column(
        ForeignKey("signatures.id", ondelete="SET NULL"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    contract_id: Mapped[int | None] = mapped_column(
        ForeignKey("contracts.id", ondelete="SET NULL"))
    mandate_id: Mapped[int | None] = mapped_column(
        ForeignKey("sepa_mandates.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"))
    # The contract as consented to (sealed as is once signed), then the sealed file.
    reviewed_sha256: Mapped[str | None] = mapped_column(String(64))
    sealed_sha256: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    offer: Mapped[Offer | None] = relationship()
    signature: Mapped[Signature | None] = relationship()

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def __repr__(self) -> str:
        return f"<Subscription {self.id} {self.offer_code} {self.status}>"
