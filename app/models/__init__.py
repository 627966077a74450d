"""Every model, imported here so metadata and migrations see them all."""
from app.models.account import ACCOUNT_KINDS, Account, Contact
from app.models.activity import ACTIVITY_KINDS, ACTIVITY_RECORDS, Activity
from app.models.attachment import Attachment
from app.models.audit import AuditEvent
from app.models.base import RecordMixin, TenantScoped
from app.models.contract import CONTRACT_STATUSES, DELIVERY_STATUSES, Contract, Delivery
from app.models.custom_field import FIELD_TYPES, CustomField
from app.models.deal import DEAL_STAGES, Deal
from app.models.document import (
    INVOICE_STATUSES,
    OPEN_INVOICE_STATUSES,
    ORDER_STATUSES,
    QUOTE_STATUSES,
    Invoice,
    InvoiceLine,
    Order,
    OrderLine,
    Quote,
    QuoteLine,
)
from app.models.export import (
    DESTINATION_KINDS,
    EXPORT_FORMATS,
    Export,
    ExportMark,
    ExportRun,
    FeedPull,
    SftpServer,
)
from app.models.feed import (
    RUN_SOURCES,
    RUN_STATUSES,
    ImportProfile,
    ImportProfileVersion,
    ImportRowError,
    ImportRun,
)
from app.models.feed_account import ARRIVAL_STATUSES, FeedAccount, FeedArrival
from app.models.feed_alert import FeedAlert, FeedDigestSubscription, FeedExpectation
from app.models.outgoing_mail import OUTGOING_MAIL_STATUSES, OutgoingMail
from app.models.partner import Partner
from app.models.partner_figures import PartnerInvoiceFigure
from app.models.platform import PlatformEvent, SchedulerLease
from app.models.selling import (
    COLLECTION_STATUSES,
    DEBIT_STATUSES,
    MANDATE_CHANNELS,
    MANDATE_STATUSES,
    RECURRENCES,
    RETURN_REASONS,
    SIGNATURE_STATUSES,
    Collection,
    Debit,
    EsignSeal,
    Mandate,
    Offer,
    QuoteSigningLink,
    RetiredSealCertificate,
    SepaCreditor,
    Signature,
)
from app.models.subscription import SUBSCRIPTION_STATUSES, SUBSCRIPTION_STEPS, Subscription
from app.models.tenant import STAFF_ROLES, Role, Tenant, User, UserSession
from app.models.token import TOKEN_SCOPES, ApiToken
from app.models.webhook import (
    WEBHOOK_DELIVERY_STATUSES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "ARRIVAL_STATUSES", "FeedAccount", "FeedArrival",
    "ACCOUNT_KINDS", "ACTIVITY_KINDS", "ACTIVITY_RECORDS", "CONTRACT_STATUSES", "DEAL_STAGES",
    "DELIVERY_STATUSES", "FIELD_TYPES", "INVOICE_STATUSES", "OPEN_INVOICE_STATUSES",
    "ORDER_STATUSES", "QUOTE_STATUSES", "RUN_SOURCES", "RUN_STATUSES", "STAFF_ROLES",
    "TOKEN_SCOPES",
    "Account", "Activity", "ApiToken", "Attachment", "AuditEvent", "Contact", "Contract",
    "EsignSeal", "RetiredSealCertificate", "OUTGOING_MAIL_STATUSES", "OutgoingMail",
    "PartnerInvoiceFigure",
    "CustomField",
    "Deal", "Delivery", "FeedAlert", "FeedDigestSubscription", "FeedExpectation",
    "ImportProfile", "ImportProfileVersion", "ImportRowError", "ImportRun",
    "DESTINATION_KINDS", "EXPORT_FORMATS", "Export", "ExportMark", "ExportRun", "FeedPull",
    "SftpServer",
    "Invoice", "InvoiceLine", "Order", "OrderLine", "Partner", "PlatformEvent", "Quote",
    "QuoteLine", "SchedulerLease", "SUBSCRIPTION_STATUSES", "SUBSCRIPTION_STEPS", "Subscription",
    "COLLECTION_STATUSES", "DEBIT_STATUSES", "RETURN_REASONS", "Collection", "Debit",
    "MANDATE_CHANNELS", "MANDATE_STATUSES", "RECURRENCES", "Mandate", "Offer", "SepaCreditor",
    "SIGNATURE_STATUSES", "Signature", "QuoteSigningLink",
    "RecordMixin", "Role", "Tenant", "TenantScoped", "User", "UserSession",
    "WEBHOOK_DELIVERY_STATUSES", "WebhookAttempt", "WebhookDelivery", "WebhookEndpoint",
]
