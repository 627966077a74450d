"""Per-tenant custom field definitions."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import JSONType, TenantScoped, TimestampMixin

FIELD_TYPES = (
    "text", "long_text", "integer", "decimal", "money", "date", "boolean",
    "choice", "multi_choice", "email", "url",
)


class CustomField(TenantScoped, TimestampMixin, db.Model):
    __tablename__ = "custom_fields"
    __table_args__ = (
        UniqueConstraint("tenant_id", "entity", "key"),
        Index("ix_custom_fields_tenant_id_entity", "tenant_id", "entity", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(50))
    label_fr: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20), default="text")
    is_required: Mapped[bool] = mapped_column(default=False)
    choices: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    is_portal_visible: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)

    def label(self, locale: str) -> str:
        """The label in `locale`; the other language's when that one was left empty."""
        first, second = ((self.label_en, self.label_fr) if locale.startswith("en")
                         else (self.label_fr, self.label_en))
        return first or second or self.key

    def __repr__(self) -> str:
        return f"<CustomField {self.id} {self.entity}.{self.key}>"
