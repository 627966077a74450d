"""Files attached to any record, stored by content hash under FILES_DIR."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import RecordMixin, Searchable, reference_index, search_index


class Attachment(Searchable, RecordMixin, db.Model):
    __tablename__ = "attachments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_ref"),
        Index("ix_attachments_tenant_id_record", "tenant_id", "record_type", "record_id"),
        # API sync: updated_since reads in (updated_at, id) order.
        Index("ix_attachments_tenant_id_updated_at_id", "tenant_id", "updated_at", "id"),
        reference_index("attachments", "account_id"),
        Index("ix_attachments_tenant_id_created_at", "tenant_id", "created_at", "id"),
        # Its name and extracted text, folded (app/search_text.py): found by the search box.
        search_index("attachments"),
    )

    record_type: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[int]
    # The account the record belongs to, so the 360° page lists every file in one query.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    extracted_text: Mapped[str | None] = mapped_column(Text)

    account = relationship("Account")

    def __repr__(self) -> str:
        return f"<Attachment {self.id} {self.file_name}>"
