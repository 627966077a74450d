"""/api/v1/offers and /api/v1/sepa-settings: what customers subscribe to online and who
collects their direct debits, as admins set them in the back office (More → Online offers).
Admin tokens only."""
from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from sqlalchemy import select

from api.auth import current_principal, requires
from api.blueprint import Blueprint
from api.pagination import CursorPageArgsSchema, cursor_page
from api.schemas.offers import OfferSchema, OfferUpdateSchema, SepaCreditorSchema
from app.errors import NotFound
from app.models import Offer
from app.policies import get_visible_or_404
from app.services.offers import create_offer, creditor, delete_offer, set_creditor, update_offer
from app.web.transactions import transaction

blp = Blueprint("offers", __name__, url_prefix="/api/v1", tenant_wide=True,
                description="Selling online: the offers customers subscribe to and the "
                            "tenant's SEPA creditor settings (docs/selling.md).")


def _offer_or_404(offer_id: int) -> Offer:
    return get_visible_or_404(Offer, offer_id, current_principal())


@blp.route("/offers")
class OfferViews(MethodView):
    @requires("admin")
    @blp.arguments(CursorPageArgsSchema, location="query")
    @blp.response(200, OfferSchema(many=True), headers={"X-Pagination": "CURSOR_PAGINATION"})
    def get(self, args: dict[str, Any]) -> Any:
        """List the offers, oldest first."""
        return cursor_page(select(Offer), Offer.id, Offer.id, args, descending=False)

    @requires("admin")
    @blp.arguments(OfferSchema)
    @blp.response(201, OfferSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create an offer."""
        with transaction():
            offer = create_offer(data)
        return offer, {"Location": url_for("offers.OfferByIdViews", offer_id=offer.id)}


@blp.route("/offers/<int:offer_id>")
class OfferByIdViews(MethodView):
    @requires("admin")
    @blp.etag
    @blp.response(200, OfferSchema)
    def get(self, offer_id: int) -> Any:
        """Get an offer."""
        return _offer_or_404(offer_id)

    @requires("admin")
    @blp.etag
    @blp.arguments(OfferUpdateSchema)
    @blp.response(200, OfferSchema)
    def patch(self, data: dict[str, Any], offer_id: int) -> Any:
        """Change an offer (publish it with `is_published`)."""
        offer = _offer_or_404(offer_id)
        blp.check_etag(offer, OfferSchema)
        with transaction():
            update_offer(offer, data)
        return offer

    @requires("admin")
    @blp.etag
    @blp.response(204)
    def delete(self, offer_id: int) -> None:
        """Delete an offer."""
        offer = _offer_or_404(offer_id)
        blp.check_etag(offer, OfferSchema)
        with transaction():
            delete_offer(offer)


@blp.route("/sepa-settings")
class SepaSettingsViews(MethodView):
    @requires("admin")
    @blp.response(200, SepaCreditorSchema)
    def get(self) -> Any:
        """The tenant's SEPA creditor settings (404 until set)."""
        found = creditor()
        if found is None:
            raise NotFound
        return found

    @requires("admin")
    @blp.arguments(SepaCreditorSchema)
    @blp.response(200, SepaCreditorSchema)
    def put(self, data: dict[str, Any]) -> Any:
        """Set the creditor settings, all at once."""
        with transaction():
            return set_creditor(data)
