"""Partners: the agencies or agents ("mandataires") a tenant works through."""
from __future__ import annotations

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import RecordMixin, Searchable, search_index


class Partner(Searchable, RecordMixin, db.Model):
    __tablename__ = "partners"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_ref"),
        Index("ix_partners_tenant_id_name", "tenant_id", "name"),
        # API sync: updated_since reads in (updated_at, id) order.
        Index("ix_partners_tenant_id_updated_at_id", "tenant_id", "updated_at", "id"),
        search_index("partners"),
    )

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))

    def __repr__(self) -> str:
        return f"<Partner {self.id} {self.name}>"
