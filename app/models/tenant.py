"""Tenants (companies using Relais) and their users."""
from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import (
    TenantScoped,
    TimestampMixin,
    UTCDateTime,
    optional_reference_index,
    utcnow,
)

if TYPE_CHECKING:
    from app.models.account import Account
    from app.models.partner import Partner


class Tenant(TimestampMixin, db.Model):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_locale: Mapped[str] = mapped_column(String(5), default="fr")
    is_active: Mapped[bool] = mapped_column(default=True)
    # The extranet's look, set by the tenant's admin: a colour (#rrggbb) and a logo (stored
    # as the attachments are, by SHA-256).
    portal_color: Mapped[str | None] = mapped_column(String(7))
    logo_sha256: Mapped[str | None] = mapped_column(String(64))
    logo_media_type: Mapped[str | None] = mapped_column(String(100))
    # What the law asks printed documents (invoices above all) to carry: who issues them
    # (legal name, address, SIREN, VAT number) and the payment terms and late penalties.
    legal_name: Mapped[str | None] = mapped_column(String(200))
    legal_address: Mapped[str | None] = mapped_column(Text)
    siren: Mapped[str | None] = mapped_column(String(9))
    vat_number: Mapped[str | None] = mapped_column(String(20))
    payment_terms: Mapped[str | None] = mapped_column(Text)
    late_penalty_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    # Whether agents see and add activities on their records in the extranet (off: they are
    # the tenant's own notes until its admin decides otherwise).
    is_portal_activities_enabled: Mapped[bool] = mapped_column(default=False)

    def __repr__(self) -> str:
        return f"<Tenant {self.id} {self.slug}>"


class Role(StrEnum):
    ADMIN = "admin"
    SALES = "sales"
    AGENT = "agent"
    SUBSCRIBER = "subscriber"


STAFF_ROLES = {Role.ADMIN, Role.SALES}


class User(UserMixin, TenantScoped, TimestampMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        Index("ix_users_tenant_id_role", "tenant_id", "role"),
        # A customer's logins (subscribers): found when the customer is deleted.
        optional_reference_index("users", "account_id"),
        optional_reference_index("users", "partner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.SALES.value)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    locale: Mapped[str | None] = mapped_column(String(5))
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    partner: Mapped[Partner | None] = relationship(foreign_keys=[partner_id])
    account: Mapped[Account | None] = relationship(foreign_keys=[account_id])

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    def get_id(self) -> str:
        """The session's key: tenant, user and a trace of the password (the session itself
        is a `UserSession`)."""
        return f"{self.tenant_id}:{self.id}:{self.password_trace}"

    @property
    def password_trace(self) -> str:
        return hashlib.sha256((self.password_hash or "").encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class UserSession(TenantScoped, db.Model):
    """A session opened by a login. The session cookie holds a secret whose hash is kept
    here: deleting the row (logout, new password, "sign out everywhere") ends the session
    wherever its cookie was copied."""

    __tablename__ = "user_sessions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "token_hash"),
        Index("ix_user_sessions_tenant_id_user_id", "tenant_id", "user_id"),
        # A login forgets its tenant's expired sessions (app/services/sessions.py).
        Index("ix_user_sessions_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<UserSession {self.id} of user {self.user_id}>"
