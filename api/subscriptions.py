"""/api/v1/subscriptions: the customers' online subscriptions, their signature's evidence and
their sealed contract. Read only, admin tokens only."""
from __future__ import annotations

from typing import Any

from flask import abort, send_file
from flask.views import MethodView

from api.auth import current_principal, requires
from api.blueprint import Blueprint
from api.pagination import cursor_page
from api.schemas.subscriptions import (
    SubscriptionDetailSchema,
    SubscriptionQueryArgsSchema,
    SubscriptionSchema,
)
from app.models import Subscription
from app.policies import get_visible_or_404
from app.services.subscriptions import contract_pdf_stem, file_of, search

blp = Blueprint("subscriptions", __name__, url_prefix="/api/v1", tenant_wide=True,
                description="Online subscriptions (docs/selling.md): how far each customer "
                            "went, the evidence of his signature, the sealed contract.")


@blp.route("/subscriptions")
class SubscriptionViews(MethodView):
    @requires("admin")
    @blp.arguments(SubscriptionQueryArgsSchema, location="query")
    @blp.response(200, SubscriptionSchema(many=True),
                  headers={"X-Pagination": "CURSOR_PAGINATION"})
    def get(self, args: dict[str, Any]) -> Any:
        """List the subscriptions, newest first (filter by status)."""
        return cursor_page(search(args.get("status")), Subscription.id, Subscription.id, args)


@blp.route("/subscriptions/<int:subscription_id>")
class SubscriptionByIdViews(MethodView):
    @requires("admin")
    @blp.etag
    @blp.response(200, SubscriptionDetailSchema)
    def get(self, subscription_id: int) -> Any:
        """Get a subscription with its signature's evidence."""
        return get_visible_or_404(Subscription, subscription_id, current_principal())


@blp.route("/subscriptions/<int:subscription_id>/contract.pdf")
class SubscriptionContractViews(MethodView):
    @requires("admin")
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf")
    def get(self, subscription_id: int) -> Any:
        """Download the sealed contract (404 before the signature)."""
        subscription = get_visible_or_404(Subscription, subscription_id, current_principal())
        path = file_of(subscription)
        if path is None:
            abort(404)
        return send_file(path, mimetype="application/pdf", as_attachment=True,
                         download_name=f"{contract_pdf_stem(subscription)}.pdf")
