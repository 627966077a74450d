"""A quote sent for signature by link, from its page: the link mailed, its state, revoked."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, EmailField, IntegerField, SelectField, TelField
from wtforms.validators import NumberRange, Optional

from app.backoffice import bp
from app.extensions import db
from app.forms import options
from app.i18n import day
from app.models import Quote, QuoteSigningLink
from app.policies import can_edit, get_visible_or_404
from app.services.quote_links import (
    DEFAULT_DAYS,
    MAX_DAYS,
    SIGNABLE,
    create_link,
    links_of,
    mandate_available,
    revoke_link,
    state_label,
)
from app.web.transactions import transaction


class SigningLinkForm(FlaskForm):
    email = EmailField(_l("Recipient"))
    phone = TelField(_l("Recipient's mobile (optional)"), validators=[Optional()])
    days = IntegerField(_l("Valid for (days)"), default=DEFAULT_DAYS,
                        validators=[Optional(), NumberRange(min=1, max=MAX_DAYS)])
    asks_mandate = BooleanField(_l("Ask for a SEPA Direct Debit mandate"))
    language = SelectField(_l("Language"), choices=options((("fr", "Français"),
                                                            ("en", "English"))))


def signing_panel(entity_name: str, record: Any) -> dict[str, Any] | None:
    """What the quote's page shows of its signing links, for staff who may edit it."""
    if entity_name != "quotes" or not can_edit(current_user, record):
        return None
    form = SigningLinkForm(data={"email": record.account.email or "", "days": DEFAULT_DAYS,
                                 "language": g.tenant.default_locale})
    moment = datetime.now(UTC)
    return {"form": form, "can_send": record.status in SIGNABLE,
            "mandate": mandate_available(),
            "links": [(link, link.state(moment), state_label(link.state(moment)))
                      for link in links_of(record)]}


def _quote(record_id: int) -> Quote:
    quote = get_visible_or_404(Quote, record_id, current_user)
    if not can_edit(current_user, quote):
        abort(403)
    return quote


def _back(record_id: int):
    return redirect(url_for("backoffice.record_detail", entity_name="quotes",
                            record_id=record_id))


@bp.post("/quotes/<int:record_id>/signing-link")
def signing_link_send(record_id: int):
    quote = _quote(record_id)
    form = SigningLinkForm()
    if not form.validate_on_submit():
        flash(_("Enter a number of days between 1 and %(max)d.", max=MAX_DAYS), "danger")
        return _back(record_id)
    with transaction(user_errors=True) as saved:
        issued = create_link(quote, email=form.email.data, days=form.days.data,
                             asks_mandate=form.asks_mandate.data,
                             language=form.language.data, phone=form.phone.data)
    if saved:
        flash(_("Link to sign sent to %(email)s, valid until %(date)s.",
                email=issued.link.recipient_email, date=day(issued.link.expires_at.date())),
              "success")
    return _back(record_id)


@bp.post("/quotes/<int:record_id>/signing-links/<int:link_id>/revoke")
def signing_link_revoke(record_id: int, link_id: int):
    quote = _quote(record_id)
    link = db.session.scalar(select(QuoteSigningLink).where(
        QuoteSigningLink.id == link_id, QuoteSigningLink.quote_id == quote.id))
    if link is None:
        abort(404)
    with transaction(user_errors=True) as saved:
        revoke_link(link)
    if saved:
        flash(_("The link is revoked: it opens nothing any more."), "success")
    return _back(record_id)
