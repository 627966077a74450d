"""API tokens: a tenant's integrations authenticate with them (the secret is stored hashed)."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import (
    JSONType,
    TenantScoped,
    UTCDateTime,
    optional_reference_index,
    utcnow,
)

if TYPE_CHECKING:
    from app.models.partner import Partner

TOKEN_SCOPES = ("read", "write", "import", "export", "admin")


class ApiToken(TenantScoped, db.Model):
    """A named bearer token of one tenant, optionally bound to a partner, with its scopes."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        # Authentication finds a token by its hash before any tenant is known.
        Index("ix_api_tokens_token_hash", "token_hash"),
        Index("ix_api_tokens_tenant_id_id", "tenant_id", "id"),
        optional_reference_index("api_tokens", "partner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # A partner's token sees what the partner's agents see; the partner gone, so is the token.
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(254), default="")
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    partner: Mapped[Partner | None] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, *scopes: str) -> bool:
        """True when the token holds at least one of `scopes`."""
        return any(scope in (self.scopes or ()) for scope in scopes)

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.name} {self.prefix}…>"
