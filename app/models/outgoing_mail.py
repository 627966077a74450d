"""Mails and SMS written in the transaction of what they announce, sent once it is committed."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import TenantScoped, UTCDateTime, utcnow

OUTGOING_MAIL_STATUSES = ("pending", "sent", "failed", "expired")


class OutgoingMail(TenantScoped, db.Model):
    """One message for one recipient: composed in the request, kept encrypted until it is
    handed to the SMTP server or the SMS gateway (app/services/mail_outbox.py), forgotten
    then; a failed one is kept, to be sent again from the outgoing messages page, until it is
    purged."""

    __tablename__ = "outgoing_mails"
    __table_args__ = (
        # The sender's poll, across tenants.
        Index("ix_outgoing_mails_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40))
    # "email" (an RFC 5322 message to an address) or "sms" (a text to an E.164 phone).
    channel: Mapped[str] = mapped_column(String(8), default="email", server_default="email")
    recipient: Mapped[str] = mapped_column(String(254))
    # The RFC 5322 message (an SMS: its text), encrypted (app/secret_box.py); None once sent
    # or expired (or its recipient erased); a failed one keeps it until purged.
    message_sealed: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A sender holds the mail until then (several processes may send).
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A one-time code's mail is worth nothing once the code has expired.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<OutgoingMail {self.id} {self.purpose} {self.status}>"
