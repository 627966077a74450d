"""A quote's signing link, as the API makes and shows it."""
from __future__ import annotations

import marshmallow as ma

from app.models.selling import LINK_STATES
from app.services.quote_links import DEFAULT_DAYS, MAX_DAYS


class SigningLinkCreateSchema(ma.Schema):
    email = ma.fields.Email(load_default=None, allow_none=True, metadata={
        "description": "Who signs: the code goes to this address. The customer's (the "
                       "quote's account) when absent."})
    phone = ma.fields.String(load_default=None, allow_none=True,
                             validate=ma.validate.Length(max=40), metadata={
        "description": "The signer's mobile, to which he may choose to receive his code by SMS "
                       "(national numbers read in the customer's country, stored E.164). When "
                       "absent, the phone the tenant has for `email` (a contact of the "
                       "customer with that e-mail, or the customer's own), if any."})
    days = ma.fields.Integer(load_default=DEFAULT_DAYS,
                             validate=ma.validate.Range(min=1, max=MAX_DAYS), metadata={
        "description": f"How long the link works, in days ({DEFAULT_DAYS} by default, "
                       f"{MAX_DAYS} at most)."})
    asks_mandate = ma.fields.Boolean(load_default=False, metadata={
        "description": "The customer also signs a SEPA Direct Debit mandate (the tenant's "
                       "SEPA creditor settings must exist)."})
    language = ma.fields.String(load_default="fr", validate=ma.validate.OneOf(("fr", "en")),
                                metadata={"description": "The language of the e-mail."})
    send_email = ma.fields.Boolean(load_default=True, metadata={
        "description": "Mail the link to `email`; false to hand the returned `url` over "
                       "yourself."})


class SigningLinkSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    quote_id = ma.fields.Integer(dump_only=True)
    url = ma.fields.String(dump_only=True, metadata={
        "description": "The link, /<tenant>/q/<token>: given once, when it is made (only its "
                       "hash is kept)."})
    recipient_email = ma.fields.String(dump_only=True)
    recipient_phone = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "Where the code may go by SMS (E.164), or null: by e-mail only."})
    asks_mandate = ma.fields.Boolean(dump_only=True)
    state = ma.fields.String(dump_only=True, metadata={"enum": list(LINK_STATES)})
    expires_at = ma.fields.AwareDateTime(dump_only=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)
    opened_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    signed_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    revoked_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
