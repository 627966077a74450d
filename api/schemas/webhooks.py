"""Webhook endpoints and their deliveries, as the API shows and takes them."""
from __future__ import annotations

import marshmallow as ma

from api.pagination import CursorPageArgsSchema
from app.models.webhook import WEBHOOK_DELIVERY_STATUSES
from app.webhooks.events import all_events

EVENTS = {"items": {"type": "string", "enum": all_events()},
          "description": "`<entity>.created`, `<entity>.updated` (archiving included), "
                         "`<entity>.deleted`, `import.finished`, `import.failed`."}
SECRET = {"description": "A Standard Webhooks secret, `whsec_` and the base64 of 24 to 64 "
                         "bytes; generated (32 bytes) when not given. Deliveries are signed "
                         "as the Standard Webhooks specification says (`webhook-id`, "
                         "`webhook-timestamp`, `webhook-signature`): its official libraries "
                         "verify them with this secret.",
          "example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}


class WebhookEndpointSchema(ma.Schema):
    """An address that receives the events it subscribes to. The secret is shown only in the
    answer that creates or renews it."""

    id = ma.fields.Integer(dump_only=True)
    url = ma.fields.String(required=True, validate=ma.validate.Length(max=2000), metadata={
        "description": "https:// (or http://), reachable from the Internet."})
    description = ma.fields.String(validate=ma.validate.Length(max=200))
    events = ma.fields.List(ma.fields.String(), required=True, metadata=EVENTS)
    secret = ma.fields.String(metadata=SECRET)
    secret_prefix = ma.fields.String(dump_only=True, metadata={
        "description": "The secret's first characters, to tell which one is in use."})
    is_active = ma.fields.Boolean(dump_only=True, metadata={
        "description": "false once disabled (by hand, or after failing for too long)."})
    failure_count = ma.fields.Integer(dump_only=True, metadata={
        "description": "Consecutive failed attempts."})
    failing_since = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    last_success_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    disabled_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    disabled_reason = ma.fields.String(dump_only=True, allow_none=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True)


class WebhookEndpointUpdateSchema(WebhookEndpointSchema):
    """A partial change: the fields given replace the endpoint's."""

    url = ma.fields.String(validate=ma.validate.Length(max=2000))
    events = ma.fields.List(ma.fields.String(), metadata=EVENTS)
    renew_secret = ma.fields.Boolean(load_only=True, metadata={
        "description": "true: a new secret is generated and shown in the answer."})
    is_active = ma.fields.Boolean(metadata={
        "description": "false stops the deliveries (pending ones are abandoned); true sends "
                       "again to a disabled endpoint."})


class WebhookDeliverySchema(ma.Schema):
    """One event for one endpoint, where it stands and its last answer."""

    id = ma.fields.Integer()
    event = ma.fields.String()
    entity = ma.fields.String(allow_none=True)
    record_id = ma.fields.Integer(allow_none=True)
    status = ma.fields.String(metadata={"enum": list(WEBHOOK_DELIVERY_STATUSES)})
    attempts = ma.fields.Integer()
    next_attempt_at = ma.fields.AwareDateTime()
    last_attempt_at = ma.fields.AwareDateTime(allow_none=True)
    last_status_code = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    delivered_at = ma.fields.AwareDateTime(allow_none=True)
    payload = ma.fields.Dict(metadata={"description": "The body sent."})


class WebhookDeliveryQueryArgsSchema(CursorPageArgsSchema):
    """Deliveries of an endpoint, newest first."""

    status = ma.fields.String(validate=ma.validate.OneOf(WEBHOOK_DELIVERY_STATUSES))
