"""Offers, the SEPA creditor and mandates, as the API shows and takes them."""
from __future__ import annotations

import marshmallow as ma

from api.pagination import CursorPageArgsSchema
from app.models.selling import (
    COLLECTION_STATUSES,
    DEBIT_STATUSES,
    MANDATE_CHANNELS,
    MANDATE_STATUSES,
    RECURRENCES,
    RETURN_REASONS,
)
from app.services.offers import MERGE_FIELDS


class OfferSchema(ma.Schema):
    """What customers subscribe to at /<tenant>/subscribe/<code>."""

    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(required=True, metadata={
        "description": "Lower-case letters, digits and hyphens (at most 60): the end of the "
                       "offer's web address.", "example": "badge-monthly"})
    name = ma.fields.String(required=True)
    description = ma.fields.String()
    price = ma.fields.Decimal(required=True, as_string=True, places=2, metadata={
        "description": "Taxes included, in `currency`.", "example": "12.50"})
    currency = ma.fields.String(metadata={"description": "EUR (SEPA direct debits are in "
                                                         "euros).", "example": "EUR"})
    recurrence = ma.fields.String(required=True, validate=ma.validate.OneOf(RECURRENCES))
    contract_template = ma.fields.String(required=True, metadata={
        "description": "The contract's text; merge fields are written `{{ name }}`, with "
                       "name one of: " + ", ".join(MERGE_FIELDS) + "."})
    collected_fields = ma.fields.List(ma.fields.String(), metadata={
        "description": "Keys of the tenant's custom fields of customers (accounts) that the "
                       "subscription form asks for."})
    fulfilment_sku = ma.fields.String(allow_none=True, metadata={
        "description": "Shipped as soon as the contract is signed (a delivery), or null."})
    fulfilment_quantity = ma.fields.Integer()
    is_published = ma.fields.Boolean(metadata={
        "description": "Customers can subscribe (needs the SEPA creditor settings)."})
    created_at = ma.fields.AwareDateTime(dump_only=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True)


class OfferUpdateSchema(OfferSchema):
    """A partial change: the fields given replace the offer's."""

    code = ma.fields.String()
    name = ma.fields.String()
    price = ma.fields.Decimal(as_string=True, places=2)
    recurrence = ma.fields.String(validate=ma.validate.OneOf(RECURRENCES))
    contract_template = ma.fields.String()


class SepaCreditorSchema(ma.Schema):
    """The tenant as a SEPA Direct Debit creditor."""

    name = ma.fields.String(required=True, metadata={"description": "At most 70 characters "
                                                                    "of the SEPA set."})
    street = ma.fields.String(required=True)
    building_number = ma.fields.String()
    postal_code = ma.fields.String(required=True)
    town = ma.fields.String(required=True)
    country = ma.fields.String(required=True, metadata={"example": "FR"})
    creditor_identifier = ma.fields.String(required=True, metadata={
        "description": "Checked: SEPA country, MOD 97-10 check digits, length.",
        "example": "FR72ZZZ123456"})
    iban = ma.fields.String(required=True, metadata={"example": "FR7630006000011234567890189"})
    bic = ma.fields.String(metadata={
        "description": "Found from the IBAN when its bank is known; required otherwise."})
    prenotification_days = ma.fields.Integer(metadata={
        "description": "Days between the pre-notification e-mail and the debit (1 to 60, "
                       "14 by default)."})
    updated_at = ma.fields.AwareDateTime(dump_only=True)


class MandateSchema(ma.Schema):
    """A SEPA Direct Debit mandate (Core) of a customer."""

    id = ma.fields.Integer(dump_only=True)
    account_id = ma.fields.Integer(required=True, metadata={"description": "The customer."})
    reference = ma.fields.String(metadata={
        "description": "The unique mandate reference (UMR), at most 35 characters of the SEPA "
                       "reference set; generated when not given (a paper mandate keeps the "
                       "one printed on it).", "example": "M20261205-7QK3H2ZD9A"})
    creditor_identifier = ma.fields.String(dump_only=True)
    debtor_name = ma.fields.String(required=True)
    street = ma.fields.String(required=True)
    building_number = ma.fields.String()
    postal_code = ma.fields.String(required=True)
    town = ma.fields.String(required=True)
    country = ma.fields.String(required=True, metadata={"example": "FR"})
    iban = ma.fields.String(required=True)
    bic = ma.fields.String(metadata={"description": "Found from the IBAN when not given and "
                                                    "its bank is known."})
    is_recurrent = ma.fields.Boolean(metadata={"description": "false: a one-off mandate "
                                                              "(OOFF)."})
    channel = ma.fields.String(validate=ma.validate.OneOf(MANDATE_CHANNELS), metadata={
        "description": "How it was signed: online, paper (a shop) or import (default paper)."})
    signed_on = ma.fields.Date()
    status = ma.fields.String(dump_only=True, metadata={"enum": list(MANDATE_STATUSES)})
    next_sequence = ma.fields.String(dump_only=True, metadata={
        "description": "The sequence type of its next debit: FRST, RCUR or OOFF."})
    last_used_on = ma.fields.Date(dump_only=True, allow_none=True)
    original_iban = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "The account before an amendment, reported by the next collection."})
    ended_on = ma.fields.Date(dump_only=True, allow_none=True)
    end_reason = ma.fields.String(dump_only=True, allow_none=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True)


class MandateUpdateSchema(ma.Schema):
    """An amendment: the customer's new account or address."""

    debtor_name = ma.fields.String()
    street = ma.fields.String()
    building_number = ma.fields.String()
    postal_code = ma.fields.String()
    town = ma.fields.String()
    country = ma.fields.String()
    iban = ma.fields.String()
    bic = ma.fields.String()


class MandateRevokeSchema(ma.Schema):
    reason = ma.fields.String(required=True, metadata={
        "description": "How the customer revoked it: the proof kept."})
    on = ma.fields.Date(metadata={"description": "From when (today by default)."})


class MandateQueryArgsSchema(CursorPageArgsSchema):
    account_id = ma.fields.Integer(metadata={"description": "Only this customer's."})
    status = ma.fields.String(validate=ma.validate.OneOf(MANDATE_STATUSES))


class CollectionCreateSchema(ma.Schema):
    collection_date = ma.fields.Date(required=True, metadata={
        "description": "When the debits are taken; at least the creditor's pre-notification "
                       "days (14 by default) from today."})


class DebitSchema(ma.Schema):
    """One debit of a collection."""

    id = ma.fields.Integer(dump_only=True)
    invoice_id = ma.fields.Integer(dump_only=True, allow_none=True)
    account_id = ma.fields.Integer(dump_only=True)
    mandate_id = ma.fields.Integer(dump_only=True)
    amount = ma.fields.Decimal(dump_only=True, as_string=True, places=2)
    sequence_type = ma.fields.String(dump_only=True, metadata={"enum": ["FRST", "RCUR",
                                                                         "OOFF"]})
    end_to_end_id = ma.fields.String(dump_only=True)
    amendment = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "What the file reported of an amended mandate: `account` (a new "
                       "account at the same bank) or `SMNDA` (another bank)."})
    status = ma.fields.String(dump_only=True, metadata={"enum": list(DEBIT_STATUSES)})
    return_reason = ma.fields.String(dump_only=True, allow_none=True)
    returned_on = ma.fields.Date(dump_only=True, allow_none=True)


class CollectionSchema(ma.Schema):
    """A SEPA Direct Debit collection: one pain.008.001.08 file, built by a job."""

    id = ma.fields.Integer(dump_only=True)
    collection_date = ma.fields.Date(dump_only=True)
    status = ma.fields.String(dump_only=True, metadata={
        "enum": list(COLLECTION_STATUSES),
        "description": "building: just asked for, its job under way (count 0, no file yet); "
                       "built: its debits and pain.008 file ready; failed: built no file, "
                       "`message` says why; settled: its debits collected."})
    message = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "Why the build failed (status failed), in the tenant's language."})
    message_id = ma.fields.String(dump_only=True)
    count = ma.fields.Integer(dump_only=True)
    control_sum = ma.fields.Decimal(dump_only=True, as_string=True, places=2)
    file_sha256 = ma.fields.String(dump_only=True)
    built_at = ma.fields.AwareDateTime(dump_only=True)
    built_by = ma.fields.String(dump_only=True)
    settled_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    settled_by = ma.fields.String(dump_only=True, metadata={
        "description": "Who asked for the settlement (empty before); its job's audit events "
                       "name him."})


class DebitReturnSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.OneOf(RETURN_REASONS),
                              metadata={"description": "The R-transaction's ISO reason code "
                                                       "(AM04 insufficient funds, MD06 refund "
                                                       "asked…)."})
    on = ma.fields.Date(metadata={"description": "When (today by default)."})
