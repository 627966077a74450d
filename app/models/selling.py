"""Selling online: the offers a tenant publishes, its SEPA creditor settings, and the
customers' direct-debit mandates."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import (
    JSONType,
    TenantScoped,
    TimestampMixin,
    UTCDateTime,
    optional_reference_index,
    reference_index,
    utcnow,
)

if TYPE_CHECKING:
    from app.models.account import Account

RECURRENCES = ("monthly", "yearly", "one_off")


class Offer(TenantScoped, TimestampMixin, db.Model):
    """What a customer subscribes to online at /<tenant>/subscribe/<code>: its price and
    recurrence, the contract he signs, the custom fields he fills in, what ships at once."""

    __tablename__ = "offers"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),
                      Index("ix_offers_tenant_id_is_published", "tenant_id", "is_published"))

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    recurrence: Mapped[str] = mapped_column(String(10))
    # The contract's text with merge fields ({{ customer.name }}…: app/services/offers.py).
    contract_template: Mapped[str] = mapped_column(Text)
    # Keys of the tenant's custom fields on accounts that the subscription form asks for.
    collected_fields: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    # Shipped as soon as the contract is signed: a delivery of this many items of this SKU.
    fulfilment_sku: Mapped[str | None] = mapped_column(String(60))
    fulfilment_quantity: Mapped[int] = mapped_column(Integer, default=1)
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)

    def __repr__(self) -> str:
        return f"<Offer {self.id} {self.code}>"


class SepaCreditor(TenantScoped, TimestampMixin, db.Model):
    """The tenant as a SEPA Direct Debit creditor (one per tenant): who collects, with
    which identifier, on which account, with a structured address (the SEPA address rules
    of November 2026), and how many days before a debit its customers are notified."""

    __tablename__ = "sepa_creditors"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(70))
    street: Mapped[str] = mapped_column(String(70))
    building_number: Mapped[str] = mapped_column(String(16), default="")
    postal_code: Mapped[str] = mapped_column(String(16))
    town: Mapped[str] = mapped_column(String(35))
    country: Mapped[str] = mapped_column(String(2))
    creditor_identifier: Mapped[str] = mapped_column(String(35))
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str] = mapped_column(String(11), default="")
    prenotification_days: Mapped[int] = mapped_column(Integer, default=14)

    def __repr__(self) -> str:
        return f"<SepaCreditor {self.tenant_id} {self.creditor_identifier}>"


class EsignSeal(TenantScoped, TimestampMixin, db.Model):
    """The tenant's own electronic seal (one per tenant), which seals its signed contracts
    instead of the platform's: the PKCS#12 file and its passphrase encrypted with
    app/secret_box.py (never in clear), and the certificate's public facts to show."""

    __tablename__ = "esign_seals"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pkcs12_sealed: Mapped[str] = mapped_column(Text)
    passphrase_sealed: Mapped[str] = mapped_column(Text)
    certificate_pem: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(500))
    issuer: Mapped[str] = mapped_column(String(500))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    fingerprint: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<EsignSeal {self.tenant_id} {self.fingerprint[:12]}>"


class RetiredSealCertificate(TenantScoped, db.Model):
    """The certificate (never the key) of a seal the tenant replaced or removed, still
    trusted by app/esign.py check_seal for documents sealed while it was in use."""

    __tablename__ = "retired_seal_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_pem: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))
    used_from: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<RetiredSealCertificate {self.id} {self.fingerprint[:12]}>"


def mask_iban(iban: str | None) -> str:
    """FR76 •••• 0189: enough to recognise an account, not to debit it."""
    if not iban:
        return ""
    return f"{iban[:4]} •••• {iban[-4:]}" if len(iban) > 8 else "••••"


MANDATE_STATUSES = ("active", "revoked", "expired")
MANDATE_CHANNELS = ("online", "paper", "import")


class Mandate(TenantScoped, TimestampMixin, db.Model):
    """A SEPA Direct Debit mandate (Core): a customer's authorisation to debit his account,
    under its unique mandate reference (UMR, unique per creditor identifier).

    The debtor's details are kept as signed; an amendment (new account, or the creditor's
    identifier changed) keeps the original ones until the next collection, which reports them
    (SMNDA when the account moved to another bank). Without a collection for 36 months a
    mandate expires (a daily job)."""

    __tablename__ = "sepa_mandates"
    __table_args__ = (
        UniqueConstraint("tenant_id", "creditor_identifier", "reference"),
        reference_index("sepa_mandates", "account_id"),
        Index("ix_sepa_mandates_tenant_id_status_last_used_on", "tenant_id", "status",
              "last_used_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(35))
    creditor_identifier: Mapped[str] = mapped_column(String(35))
    debtor_name: Mapped[str] = mapped_column(String(140))
    street: Mapped[str] = mapped_column(String(70))
    building_number: Mapped[str] = mapped_column(String(16), default="")
    postal_code: Mapped[str] = mapped_column(String(16))
    town: Mapped[str] = mapped_column(String(35))
    country: Mapped[str] = mapped_column(String(2))
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str] = mapped_column(String(11), default="")
    # recurrent, or one_off (OOFF): a one-off mandate serves a single collection.
    is_recurrent: Mapped[bool] = mapped_column(Boolean, default=True)
    channel: Mapped[str] = mapped_column(String(10))
    signed_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="active")
    # The last collection's date (the first one is FRST, then RCUR), null before it.
    last_used_on: Mapped[date | None] = mapped_column(Date)
    # What the next collection reports as amended, then forgets (pain.008 AmdmntInfDtls).
    original_iban: Mapped[str | None] = mapped_column(String(34))
    original_bic: Mapped[str | None] = mapped_column(String(11))
    original_creditor_identifier: Mapped[str | None] = mapped_column(String(35))
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(500))

    account: Mapped[Account] = relationship()

    @property
    def is_amended(self) -> bool:
        return bool(self.original_iban or self.original_creditor_identifier)

    @property
    def masked_iban(self) -> str:
        """The IBAN as shown to those who may not read it whole: country, check digits and
        the last four characters."""
        return mask_iban(self.iban)

    @property
    def next_sequence(self) -> str:
        """The sequence type of its next debit: OOFF, FRST (first), RCUR."""
        return self.sequence_of(self.is_recurrent, self.last_used_on)

    @staticmethod
    def sequence_of(is_recurrent: bool, last_used_on: date | None) -> str:
        """The sequence type of the next debit under a mandate that is (or not) recurrent
        and was last used on `last_used_on` (None: never)."""
        if not is_recurrent:
            return "OOFF"
        return "RCUR" if last_used_on is not None else "FRST"

    def __repr__(self) -> str:
        return f"<Mandate {self.id} {self.reference}>"


# building: its job is under way (app/services/collection_builds.py); failed: it ended
# without a file, its `message` saying why.
COLLECTION_STATUSES = ("building", "built", "failed", "settled")
DEBIT_STATUSES = ("pending", "collected", "returned")
# The R-transactions a debtor's bank sends back, by ISO 20022 reason code (EPC guidance).
RETURN_REASONS = ("AC01", "AC04", "AC06", "AC13", "AG01", "AG02", "AM04", "AM05", "BE05",
                  "CNOR", "DNOR", "FF01", "MD01", "MD02", "MD06", "MD07", "MS02", "MS03",
                  "RC01", "RR01", "RR02", "RR03", "RR04", "SL01")


class Collection(TenantScoped, db.Model):
    """A SEPA Direct Debit collection: the debits of open invoices under active mandates for
    one collection date, as one pain.008.001.08 file for the creditor's bank."""

    __tablename__ = "sepa_collections"
    __table_args__ = (Index("ix_sepa_collections_tenant_id_collection_date", "tenant_id",
                            "collection_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="building")
    message_id: Mapped[str] = mapped_column(String(35))
    # Why a build failed, in the tenant's language, for the admin who asked for it.
    message: Mapped[str | None] = mapped_column(Text)
    # The build job: the process that took it (host:pid), when, and how many times (a
    # build whose process stopped is taken again by the recovery, a few times at most).
    job_worker: Mapped[str | None] = mapped_column(String(120))
    job_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    job_attempts: Mapped[int] = mapped_column(Integer, default=0)
    count: Mapped[int] = mapped_column(Integer, default=0)
    control_sum: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    # The file as sent, under FILES_DIR (collections/<tenant id>/<id>.xml), and its SHA-256.
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    built_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    built_by: Mapped[str] = mapped_column(String(254), default="")
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Who asked for the settlement: its job's audit events name him, as built_by the build's.
    settled_by: Mapped[str] = mapped_column(String(254), default="", server_default="")

    debits: Mapped[list[Debit]] = relationship(back_populates="collection",
                                               passive_deletes=True, order_by="Debit.id")


class Debit(TenantScoped, db.Model):
    """One debit of a collection: an invoice's open amount under its customer's mandate."""

    __tablename__ = "sepa_debits"
    __table_args__ = (Index("ix_sepa_debits_tenant_id_collection_id", "tenant_id",
                            "collection_id"),
                      reference_index("sepa_debits", "invoice_id", "status"),
                      reference_index("sepa_debits", "account_id"),
                      UniqueConstraint("tenant_id", "end_to_end_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("sepa_collections.id", ondelete="CASCADE"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    mandate_id: Mapped[int] = mapped_column(ForeignKey("sepa_mandates.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    sequence_type: Mapped[str] = mapped_column(String(4))
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    # What the file said of an amended mandate: "account" (same bank) or "SMNDA".
    amendment: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    return_reason: Mapped[str | None] = mapped_column(String(4))
    returned_on: Mapped[date | None] = mapped_column(Date)
    # When the customer was told of it (the pre-notification e-mail), null before.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    collection: Mapped[Collection] = relationship(back_populates="debits")
    mandate: Mapped[Mandate] = relationship()


SIGNATURE_STATUSES = ("pending", "signed", "locked", "cancelled")


class Signature(TenantScoped, db.Model):
    """A signature by one-time code, and its evidence: who signed what (the document's SHA-256
    before and after sealing), the consent text he was shown, each code sent and each try,
    with the IP address, the user agent and the UTC time of every step."""

    __tablename__ = "signatures"
    __table_args__ = (Index("ix_signatures_tenant_id_subject", "tenant_id", "subject_type",
                            "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # What is signed: "subscription" or "quote", and its id.
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer)
    signer_name: Mapped[str] = mapped_column(String(200))
    signer_email: Mapped[str] = mapped_column(String(254))
    signer_phone: Mapped[str | None] = mapped_column(String(40))
    consent_text: Mapped[str] = mapped_column(Text)
    document_sha256: Mapped[str] = mapped_column(String(64))
    sealed_sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    # The current code's HMAC (never the code), when it stops being valid, the tries it had.
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    codes_sent: Mapped[int] = mapped_column(Integer, default=0)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    events: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


LINK_STATES = ("sent", "opened", "signed", "expired", "revoked")


class QuoteSigningLink(TenantScoped, db.Model):
    """A quote sent as a link to sign without an account (/<tenant>/q/<token>): only the
    token's SHA-256 is kept; the link works until it expires, is revoked (by staff, or by a
    newer link for the same quote) or is signed, once. When `asks_mandate`, the customer also
    signs a SEPA Direct Debit mandate: his debtor details wait in `mandate_data` between his
    consent and his code."""

    __tablename__ = "quote_signing_links"
    __table_args__ = (UniqueConstraint("tenant_id", "token_hash"),
                      reference_index("quote_signing_links", "quote_id"),
                      optional_reference_index("quote_signing_links", "attachment_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    recipient_email: Mapped[str] = mapped_column(String(254))
    # The recipient's mobile as the tenant knows him (E.164): the code may go by SMS to it.
    recipient_phone: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(5), default="fr")
    asks_mandate: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Who sent it: told when it is signed.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_label: Mapped[str] = mapped_column(String(254), default="")
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The signature under way (or made), the document it signs, the mandate it gave.
    signature_id: Mapped[int | None] = mapped_column(
        ForeignKey("signatures.id", ondelete="SET NULL"))
    mandate_data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    mandate_id: Mapped[int | None] = mapped_column(
        ForeignKey("sepa_mandates.id", ondelete="SET NULL"))
    attachment_id: Mapped[int | None] = mapped_column(
        ForeignKey("attachments.id", ondelete="SET NULL"))

    signature: Mapped[Signature | None] = relationship()

    def state(self, now: datetime) -> str:
        """sent, opened, signed, expired or revoked (LINK_STATES)."""
        if self.signed_at is not None:
            return "signed"
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        return "opened" if self.opened_at is not None else "sent"

    def __repr__(self) -> str:
        return f"<QuoteSigningLink {self.id} quote {self.quote_id}>"
