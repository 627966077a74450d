"""/api/v1/quotes/<id>/signing-link: a quote sent to be signed by link (docs/selling.md),
made (its URL given once), read, revoked. Tenant-wide tokens only."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth import current_principal, requires
from api.blueprint import Blueprint
from api.schemas.quote_signing import SigningLinkCreateSchema, SigningLinkSchema
from app.errors import NotFound, ValidationError
from app.mail import MailError
from app.models import Quote, QuoteSigningLink
from app.policies import get_visible_or_404
from app.services.quote_links import active_link, create_link, links_of, now, revoke_link
from app.web.transactions import transaction

blp = Blueprint("quote_signing_api", __name__, url_prefix="/api/v1", tenant_wide=True,
                description="Quotes signed by link: the customer reviews and signs a quote "
                            "without an account (docs/selling.md).")


SHOWN = ("id", "quote_id", "recipient_email", "recipient_phone", "asks_mandate", "expires_at",
         "created_at", "opened_at", "signed_at", "revoked_at")


def _shown(link: QuoteSigningLink, url: str | None = None) -> dict[str, Any]:
    return {**{name: getattr(link, name) for name in SHOWN}, "state": link.state(now()),
            "url": url}


@blp.route("/quotes/<int:quote_id>/signing-link")
class SigningLinkViews(MethodView):
    @requires("read")
    @blp.response(200, SigningLinkSchema)
    def get(self, quote_id: int) -> Any:
        """Get the quote's latest signing link."""
        links = links_of(get_visible_or_404(Quote, quote_id, current_principal()))
        if not links:
            raise NotFound()
        return _shown(links[0])

    @requires("write")
    @blp.arguments(SigningLinkCreateSchema)
    @blp.response(201, SigningLinkSchema)
    def post(self, data: dict[str, Any], quote_id: int) -> Any:
        """Make a signing link (revoking the quote's others), mailed unless told not to."""
        quote = get_visible_or_404(Quote, quote_id, current_principal())
        try:
            with transaction():
                issued = create_link(quote, email=data["email"], days=data["days"],
                                     asks_mandate=data["asks_mandate"],
                                     language=data["language"], send=data["send_email"],
                                     phone=data["phone"])
        except MailError as exc:
            raise ValidationError({"email": str(exc)}) from exc
        return _shown(issued.link, issued.url)

    @requires("write")
    @blp.response(204)
    def delete(self, quote_id: int) -> None:
        """Revoke the quote's working signing link."""
        link = active_link(get_visible_or_404(Quote, quote_id, current_principal()))
        if link is None:
            raise NotFound()
        with transaction():
            revoke_link(link)
