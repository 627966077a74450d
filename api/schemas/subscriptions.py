"""Online subscriptions as the API shows them (read only: customers make them on the web)."""
from __future__ import annotations

import marshmallow as ma

from api.pagination import CursorPageArgsSchema
from app.models.subscription import SUBSCRIPTION_STATUSES, SUBSCRIPTION_STEPS


class SubscriptionSchema(ma.Schema):
    """A customer's online subscription: how far he went, what he typed, what it created."""

    id = ma.fields.Integer(dump_only=True)
    offer_id = ma.fields.Integer(dump_only=True, allow_none=True)
    offer_code = ma.fields.String(dump_only=True)
    status = ma.fields.String(dump_only=True, metadata={"enum": list(SUBSCRIPTION_STATUSES)})
    step = ma.fields.String(dump_only=True, metadata={
        "enum": list(SUBSCRIPTION_STEPS), "description": "The furthest step reached."})
    details_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    review_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    signature_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    done_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    abandoned_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    first_name = ma.fields.String(dump_only=True)
    last_name = ma.fields.String(dump_only=True)
    street = ma.fields.String(dump_only=True)
    building_number = ma.fields.String(dump_only=True)
    postal_code = ma.fields.String(dump_only=True)
    town = ma.fields.String(dump_only=True)
    country = ma.fields.String(dump_only=True)
    email = ma.fields.String(dump_only=True)
    phone = ma.fields.String(dump_only=True)
    custom = ma.fields.Dict(dump_only=True)
    iban = ma.fields.String(dump_only=True)
    bic = ma.fields.String(dump_only=True)
    language = ma.fields.String(dump_only=True)
    mandate_reference = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "The UMR reserved at review, the mandate's once signed."})
    ip = ma.fields.String(dump_only=True)
    user_agent = ma.fields.String(dump_only=True)
    account_id = ma.fields.Integer(dump_only=True, allow_none=True)
    contact_id = ma.fields.Integer(dump_only=True, allow_none=True)
    contract_id = ma.fields.Integer(dump_only=True, allow_none=True)
    mandate_id = ma.fields.Integer(dump_only=True, allow_none=True)
    order_id = ma.fields.Integer(dump_only=True, allow_none=True)
    delivery_id = ma.fields.Integer(dump_only=True, allow_none=True)
    reviewed_sha256 = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "SHA-256 of the contract as the customer consented to it."})
    sealed_sha256 = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "SHA-256 of the sealed PDF (`contract.pdf`)."})
    signed_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True)


class EvidenceEventSchema(ma.Schema):
    at = ma.fields.String(dump_only=True)
    event = ma.fields.String(dump_only=True, metadata={
        "description": "consented, code_sent, code_wrong, code_expired, code_refused, "
                       "signed, locked, sealed"})
    ip = ma.fields.String(dump_only=True)
    user_agent = ma.fields.String(dump_only=True)
    channel = ma.fields.String(dump_only=True)


class EvidenceSchema(ma.Schema):
    """The signature's evidence: who, what he consented to, the document's hashes, each
    step with its UTC time, IP address and user agent."""

    signer_name = ma.fields.String(dump_only=True)
    signer_email = ma.fields.String(dump_only=True)
    signer_phone = ma.fields.String(dump_only=True, allow_none=True)
    consent_text = ma.fields.String(dump_only=True)
    document_sha256 = ma.fields.String(dump_only=True)
    sealed_sha256 = ma.fields.String(dump_only=True, allow_none=True)
    status = ma.fields.String(dump_only=True)
    codes_sent = ma.fields.Integer(dump_only=True)
    signed_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    events = ma.fields.List(ma.fields.Nested(EvidenceEventSchema), dump_only=True)


class SubscriptionDetailSchema(SubscriptionSchema):
    evidence = ma.fields.Nested(EvidenceSchema, dump_only=True, allow_none=True,
                                attribute="signature")


class SubscriptionQueryArgsSchema(CursorPageArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(SUBSCRIPTION_STATUSES))
