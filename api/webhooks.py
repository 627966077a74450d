"""/api/v1/webhooks: the tenant's webhook endpoints, as admins manage them in the back office
(More → Webhooks): register, change, renew the secret, disable or enable, delete, test, and
read the deliveries with their answers. Tenant-wide tokens only."""
from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_babel import gettext as _

from api.auth import current_principal, requires
from api.blueprint import Blueprint
from api.pagination import CursorPageArgsSchema, cursor_page
from api.schemas.webhooks import (
    WebhookDeliveryQueryArgsSchema,
    WebhookDeliverySchema,
    WebhookEndpointSchema,
    WebhookEndpointUpdateSchema,
)
from app.models import WebhookDelivery, WebhookEndpoint
from app.policies import get_visible_or_404
from app.queries.webhooks import deliveries_select, endpoints_select
from app.services.webhooks import (
    create_endpoint,
    delete_endpoint,
    disable_endpoint,
    enable_endpoint,
    send_ping,
    update_endpoint,
)
from app.web.transactions import transaction

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks", tenant_wide=True,
                description="Webhooks: addresses that receive signed events when records "
                            "change or imports end (docs/webhooks.md).")


SHOWN = [name for name in WebhookEndpointSchema().fields if name != "secret"]


def _endpoint_or_404(endpoint_id: int) -> WebhookEndpoint:
    return get_visible_or_404(WebhookEndpoint, endpoint_id, current_principal())


def _shown(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    """The endpoint as answered: its secret only when just set."""
    shown = {name: getattr(endpoint, name) for name in SHOWN}
    if secret is not None:
        shown["secret"] = secret
    return shown


@blp.route("")
class WebhookViews(MethodView):
    @requires("read")
    @blp.arguments(CursorPageArgsSchema, location="query")
    @blp.response(200, WebhookEndpointSchema(many=True),
                  headers={"X-Pagination": "CURSOR_PAGINATION"})
    def get(self, args: dict[str, Any]) -> Any:
        """List the webhook endpoints, oldest first."""
        endpoints, headers = cursor_page(endpoints_select(current_principal()),
                                         WebhookEndpoint.id, WebhookEndpoint.id, args,
                                         descending=False)
        return [_shown(e) for e in endpoints], headers

    @requires("write")
    @blp.arguments(WebhookEndpointSchema)
    @blp.response(201, WebhookEndpointSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Register an endpoint; the answer holds its secret, this once."""
        with transaction():
            endpoint, secret = create_endpoint(data)
        return _shown(endpoint, secret), {
            "Location": url_for("webhooks.WebhookByIdViews", endpoint_id=endpoint.id)}


@blp.route("/<int:endpoint_id>")
class WebhookByIdViews(MethodView):
    @requires("read")
    @blp.etag
    @blp.response(200, WebhookEndpointSchema)
    def get(self, endpoint_id: int) -> Any:
        """Get a webhook endpoint."""
        return _shown(_endpoint_or_404(endpoint_id))

    @requires("write")
    @blp.etag
    @blp.arguments(WebhookEndpointUpdateSchema)
    @blp.response(200, WebhookEndpointSchema)
    def patch(self, data: dict[str, Any], endpoint_id: int) -> Any:
        """Change an endpoint, renew its secret, disable or enable it."""
        endpoint = _endpoint_or_404(endpoint_id)
        blp.check_etag(_shown(endpoint), WebhookEndpointSchema)
        active = data.pop("is_active", None)
        renew = data.pop("renew_secret", False)
        secret = None
        with transaction():
            if data or renew:
                current = {"url": endpoint.url, "description": endpoint.description,
                           "events": list(endpoint.events or ())}
                secret = update_endpoint(endpoint, {**current, **data}, renew_secret=renew)
            if active is True:
                enable_endpoint(endpoint)
            elif active is False and endpoint.is_active:
                disable_endpoint(endpoint, _("Disabled through the API."))
        return _shown(endpoint, secret)

    @requires("write")
    @blp.etag
    @blp.response(204)
    def delete(self, endpoint_id: int) -> None:
        """Delete an endpoint and its delivery log."""
        endpoint = _endpoint_or_404(endpoint_id)
        blp.check_etag(_shown(endpoint), WebhookEndpointSchema)
        with transaction():
            delete_endpoint(endpoint)


@blp.route("/<int:endpoint_id>/ping")
class WebhookPingViews(MethodView):
    @requires("write")
    @blp.response(202, WebhookDeliverySchema)
    def post(self, endpoint_id: int) -> Any:
        """Send a test event (`ping`) to the endpoint, after the answer."""
        with transaction():
            delivery = send_ping(_endpoint_or_404(endpoint_id))
        return delivery


@blp.route("/<int:endpoint_id>/deliveries")
class WebhookDeliveryViews(MethodView):
    @requires("read")
    @blp.arguments(WebhookDeliveryQueryArgsSchema, location="query")
    @blp.response(200, WebhookDeliverySchema(many=True),
                  headers={"X-Pagination": "CURSOR_PAGINATION"})
    def get(self, args: dict[str, Any], endpoint_id: int) -> Any:
        """List an endpoint's deliveries, newest first (filter by status)."""
        endpoint = _endpoint_or_404(endpoint_id)
        return cursor_page(deliveries_select(endpoint, args.get("status")), WebhookDelivery.id,
                           WebhookDelivery.id, args)
