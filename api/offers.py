"""/api/v1/offers, /api/v1/sepa-settings, /api/v1/mandates and /api/v1/collections: what
customers subscribe to online, who collects their direct debits, under which mandates, and the
collections' pain.008 files. Admin tokens only."""
from __future__ import annotations

from typing import Any

from flask import send_file, url_for
from flask.views import MethodView
from sqlalchemy import select

from api.auth import current_principal, requires
from api.blueprint import Blueprint
from api.pagination import CursorPageArgsSchema, cursor_page
from api.schemas.offers import (
    CollectionCreateSchema,
    CollectionSchema,
    DebitReturnSchema,
    DebitSchema,
    MandateQueryArgsSchema,
    MandateRevokeSchema,
    MandateSchema,
    MandateUpdateSchema,
    OfferSchema,
    OfferUpdateSchema,
    SepaCreditorSchema,
)
from app.errors import NotFound
from app.models import Account, Collection, Debit, Mandate, Offer
from app.policies import get_visible_or_404
from app.services.collection_builds import queue_job
from app.services.collections import (
    ask_settlement,
    collection_file,
    return_debit,
    start_collection,
)
from app.services.mandates import amend_mandate, create_mandate, revoke_mandate
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


@blp.route("/mandates")
class MandateViews(MethodView):
    @requires("admin")
    @blp.arguments(MandateQueryArgsSchema, location="query")
    @blp.response(200, MandateSchema(many=True), headers={"X-Pagination": "CURSOR_PAGINATION"})
    def get(self, args: dict[str, Any]) -> Any:
        """List the mandates, newest first (filter by customer or status)."""
        stmt = select(Mandate)
        if args.get("account_id"):
            stmt = stmt.where(Mandate.account_id == args["account_id"])
        if args.get("status"):
            stmt = stmt.where(Mandate.status == args["status"])
        return cursor_page(stmt, Mandate.id, Mandate.id, args)

    @requires("admin")
    @blp.arguments(MandateSchema)
    @blp.response(201, MandateSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Register a mandate the customer signed (on paper in a shop, or elsewhere)."""
        account = get_visible_or_404(Account, data.pop("account_id"), current_principal())
        with transaction():
            mandate = create_mandate(account, data, data.pop("channel", "paper"))
        return mandate, {"Location": url_for("offers.MandateByIdViews", mandate_id=mandate.id)}


@blp.route("/mandates/<int:mandate_id>")
class MandateByIdViews(MethodView):
    @requires("admin")
    @blp.etag
    @blp.response(200, MandateSchema)
    def get(self, mandate_id: int) -> Any:
        """Get a mandate."""
        return _mandate_or_404(mandate_id)

    @requires("admin")
    @blp.etag
    @blp.arguments(MandateUpdateSchema)
    @blp.response(200, MandateSchema)
    def patch(self, data: dict[str, Any], mandate_id: int) -> Any:
        """Amend a mandate: the customer's new account or address."""
        mandate = _mandate_or_404(mandate_id)
        blp.check_etag(mandate, MandateSchema)
        with transaction():
            amend_mandate(mandate, data)
        return mandate


@blp.route("/mandates/<int:mandate_id>/revoke")
class MandateRevokeViews(MethodView):
    @requires("admin")
    @blp.arguments(MandateRevokeSchema)
    @blp.response(200, MandateSchema)
    def post(self, data: dict[str, Any], mandate_id: int) -> Any:
        """Revoke a mandate, with how the customer revoked it and from when."""
        mandate = _mandate_or_404(mandate_id)
        with transaction():
            revoke_mandate(mandate, data["reason"], data.get("on"))
        return mandate


def _mandate_or_404(mandate_id: int) -> Mandate:
    return get_visible_or_404(Mandate, mandate_id, current_principal())


@blp.route("/collections")
class CollectionViews(MethodView):
    @requires("admin")
    @blp.arguments(CursorPageArgsSchema, location="query")
    @blp.response(200, CollectionSchema(many=True),
                  headers={"X-Pagination": "CURSOR_PAGINATION"})
    def get(self, args: dict[str, Any]) -> Any:
        """List the collections, newest first."""
        return cursor_page(select(Collection), Collection.id, Collection.id, args)

    @requires("admin")
    @blp.arguments(CollectionCreateSchema)
    @blp.response(202, CollectionSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Ask for the collection of everything due by a date: built by a job."""
        with transaction():
            collection = start_collection(data["collection_date"])
        queue_job(collection)
        return collection, {"Location": url_for("offers.CollectionByIdViews",
                                                collection_id=collection.id)}


@blp.route("/collections/<int:collection_id>")
class CollectionByIdViews(MethodView):
    @requires("admin")
    @blp.response(200, CollectionSchema)
    def get(self, collection_id: int) -> Any:
        """Get a collection."""
        return _collection_or_404(collection_id)


@blp.route("/collections/<int:collection_id>/pain.008.xml")
class CollectionFileViews(MethodView):
    @requires("admin")
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/xml")
    def get(self, collection_id: int) -> Any:
        """The collection's pain.008.001.08 file, for the creditor's bank."""
        collection = _collection_or_404(collection_id)
        if collection.status not in ("built", "settling", "settled"):
            raise NotFound()  # building, or failed: no file
        return send_file(collection_file(collection), mimetype="application/xml",
                         as_attachment=True,
                         download_name=f"{collection.message_id}.pain.008.xml")


@blp.route("/collections/<int:collection_id>/settle")
class CollectionSettleViews(MethodView):
    @requires("admin")
    @blp.response(202, CollectionSchema)
    def post(self, collection_id: int) -> Any:
        """Mark the collection's debits collected: a job pays their invoices."""
        collection = _collection_or_404(collection_id)
        with transaction():
            ask_settlement(collection)
        queue_job(collection)
        return collection, {"Location": url_for("offers.CollectionByIdViews",
                                                collection_id=collection.id)}


@blp.route("/collections/<int:collection_id>/debits")
class CollectionDebitViews(MethodView):
    @requires("admin")
    @blp.arguments(CursorPageArgsSchema, location="query")
    @blp.response(200, DebitSchema(many=True), headers={"X-Pagination": "CURSOR_PAGINATION"})
    def get(self, args: dict[str, Any], collection_id: int) -> Any:
        """List a collection's debits."""
        collection = _collection_or_404(collection_id)
        return cursor_page(select(Debit).where(Debit.collection_id == collection.id),
                           Debit.id, Debit.id, args, descending=False)


@blp.route("/debits/<int:debit_id>/return")
class DebitReturnViews(MethodView):
    @requires("admin")
    @blp.arguments(DebitReturnSchema)
    @blp.response(200, DebitSchema)
    def post(self, data: dict[str, Any], debit_id: int) -> Any:
        """Record a returned debit (an R-transaction): its invoice is open again."""
        debit = get_visible_or_404(Debit, debit_id, current_principal())
        with transaction():
            return_debit(debit, data["reason"], data.get("on"))
        return debit


def _collection_or_404(collection_id: int) -> Collection:
    return get_visible_or_404(Collection, collection_id, current_principal())
