"""Activities: notes, calls, tasks and meetings on a customer or one of its records."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import RecordMixin, Searchable, UTCDateTime, reference_index, search_index

if TYPE_CHECKING:
    from app.models.account import Account, Contact
    from app.models.contract import Contract
    from app.models.deal import Deal
    from app.models.document import Invoice, Order, Quote
    from app.models.tenant import User

ACTIVITY_KINDS = ("note", "call", "task", "meeting")
# The records an activity may be on besides its customer, most specific last but one: an
# activity names its customer always (the 360° page reads them by it) and at most one of these.
ACTIVITY_RECORDS = ("contact", "deal", "quote", "order", "contract", "invoice")


class Activity(Searchable, RecordMixin, db.Model):
    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_ref"),
        # A customer's timeline (360° page), newest first.
        reference_index("activities", "account_id", "created_at"),
        # "My activities": a user's open ones by due time.
        Index("ix_activities_tenant_id_owner_id_done_at_due_at", "tenant_id", "owner_id",
              "done_at", "due_at"),
        Index("ix_activities_tenant_id_due_at_id", "tenant_id", "due_at", "id"),
        # API sync: updated_since reads in (updated_at, id) order.
        Index("ix_activities_tenant_id_updated_at_id", "tenant_id", "updated_at", "id"),
        # Its record's activities (the record's page); deleting the record.
        *(reference_index("activities", f"{name}_id") for name in ACTIVITY_RECORDS),
        # The lists' and the API's `q=`: subject and reference, accents and capitals ignored.
        search_index("activities"),
    )

    kind: Mapped[str] = mapped_column(String(10), default="note")
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_staff_only: Mapped[bool] = mapped_column(default=False)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    # Deleting a customer deletes its activities (app/services/records.py audits each);
    # deleting another record leaves them on the customer.
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    contract_id: Mapped[int | None] = mapped_column(
        ForeignKey("contracts.id", ondelete="SET NULL"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"))

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    account: Mapped[Account] = relationship()
    contact: Mapped[Contact | None] = relationship()
    deal: Mapped[Deal | None] = relationship()
    quote: Mapped[Quote | None] = relationship()
    order: Mapped[Order | None] = relationship()
    contract: Mapped[Contract | None] = relationship()
    invoice: Mapped[Invoice | None] = relationship()

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    def __repr__(self) -> str:
        return f"<Activity {self.id} {self.kind} {self.subject}>"
