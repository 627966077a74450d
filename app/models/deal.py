"""Deals: opportunities in the sales pipeline."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import Money, RecordMixin, Searchable, reference_index, search_index

if TYPE_CHECKING:
    from app.models.account import Account
    from app.models.partner import Partner

DEAL_STAGES = ("prospect", "qualified", "proposal", "negotiation", "won", "lost")


class Deal(Searchable, RecordMixin, db.Model):
    __tablename__ = "deals"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_ref"),
        Index("ix_deals_tenant_id_stage", "tenant_id", "stage", "expected_close_on"),
        reference_index("deals", "account_id"),
        reference_index("deals", "partner_id"),
        # Did this feed write a deal this agent sees (the extranet's "data as of")?
        Index("ix_deals_tenant_id_import_profile_id", "tenant_id", "import_profile_id",
              "partner_id"),
        # API sync: updated_since reads in (updated_at, id) order.
        Index("ix_deals_tenant_id_updated_at_id", "tenant_id", "updated_at", "id"),
        Index("ix_deals_tenant_id_expected_close_on", "tenant_id", "expected_close_on", "id"),
        search_index("deals"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(20), default="prospect")
    amount: Mapped[Decimal | None] = mapped_column(Money)
    expected_close_on: Mapped[date | None]

    account: Mapped[Account] = relationship()
    partner: Mapped[Partner | None] = relationship()

    def __repr__(self) -> str:
        return f"<Deal {self.id} {self.title}>"
