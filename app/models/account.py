"""Accounts (customers, companies or persons) and their contacts."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import RecordMixin, Searchable, reference_index, search_index

if TYPE_CHECKING:
    from app.models.partner import Partner
    from app.models.tenant import User

ACCOUNT_KINDS = ("company", "person")


class Account(Searchable, RecordMixin, db.Model):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_ref"),
        Index("ix_accounts_tenant_id_name", "tenant_id", "name", "id"),
        Index("ix_accounts_tenant_id_city", "tenant_id", "city"),
        reference_index("accounts", "partner_id", "name"),
        # An agent's count of live customers (extranet home) from the index alone.
        Index("ix_accounts_tenant_id_partner_id_archived_at", "tenant_id", "partner_id",
              "archived_at"),
        # Did this feed write a customer this agent sees (the extranet's "data as of")?
        Index("ix_accounts_tenant_id_import_profile_id", "tenant_id", "import_profile_id",
              "partner_id"),
        # A salesperson's customers, last changed first (his phone home, app/queries/my_book.py).
        Index("ix_accounts_tenant_id_owner_id_updated_at", "tenant_id", "owner_id", "updated_at"),
        Index("ix_accounts_tenant_id_updated_at", "tenant_id", "updated_at"),
        search_index("accounts"),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10), default="company")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    address_line: Mapped[str | None] = mapped_column(String(255))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2), default="FR")
    vat_number: Mapped[str | None] = mapped_column(String(20))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", use_alter=True))
    # Its value before a change is loaded when not yet (active_history): a move to another
    # partner forgets the fingerprints of the customer's documents (app/services/fingerprints.py).
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"),
                                                   active_history=True)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    partner: Mapped[Partner | None] = relationship()

    def __repr__(self) -> str:
        return f"<Account {self.id} {self.name}>"


class Contact(Searchable, RecordMixin, db.Model):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_ref"),
        reference_index("contacts", "account_id"),
        Index("ix_contacts_tenant_id_last_name", "tenant_id", "last_name", "id"),
        # API sync: updated_since reads in (updated_at, id) order.
        Index("ix_contacts_tenant_id_updated_at_id", "tenant_id", "updated_at", "id"),
        search_index("contacts"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    job_title: Mapped[str | None] = mapped_column(String(100))

    account: Mapped[Account] = relationship()

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.name}>"
