"""A quote to sign through its link, /<tenant>/q/<token>: no account, the URL's tenant bound.

The customer reviews the quote (and its PDF), gives his name — and his mandate's details when
one is asked — ticks his consent, receives a code at the link's address and enters it. A link
that does not work (unknown here, expired, revoked, signed, or its quote no longer awaiting an
answer) answers a page that says so and nothing of the quote. Pages are limited per IP
address, and the forms of one link per link (app/config.py QUOTE_SIGNING_RATE_LIMIT_*).
"""
from __future__ import annotations

import io
from typing import Any

from flask import (
    Blueprint,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Optional

from app import sms
from app.auth import serve_tenant_space
from app.documents import MEDIA_TYPE, document_pdf
from app.documents.subscription import mandate_text
from app.extensions import limiter
from app.models import Quote, QuoteSigningLink
from app.services import quote_signature
from app.services.offers import creditor
from app.services.quote_links import LinkError, link_for_token, mark_opened, token_hash
from app.web.transactions import transaction

bp = Blueprint("quote_signing", __name__, url_prefix="/<tenant>/q",
               template_folder="templates")
ENDPOINTS = {"quote_signing.review", "quote_signing.code", "quote_signing.new_code",
             "quote_signing.quote_pdf", "quote_signing.document_pdf"}
serve_tenant_space(bp, for_staff=False, public=ENDPOINTS, any_user=set())


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {"code_channel": quote_signature.code_channel, "masked_phone": masked_phone,
            "sms_available": sms.available}


def masked_phone(phone: str | None) -> str:
    """Enough of the phone for its owner to recognise it, not to learn it from the link."""
    return f"•• {phone[-4:]}" if phone else ""


def _link_key() -> str:
    token = (request.view_args or {}).get("token") or ""
    return f"quote-link:{g.get('tenant_slug')}:{token_hash(token)}"


def throttled(view: Any) -> Any:
    """One count for all of the link's pages (shared limits), not one per page."""
    view = limiter.shared_limit(lambda: current_app.config["QUOTE_SIGNING_RATE_LIMIT_LINK"],
                                scope="quote-signing-link", methods=["POST"],
                                key_func=_link_key)(view)
    return limiter.shared_limit(lambda: current_app.config["QUOTE_SIGNING_RATE_LIMIT_IP"],
                                scope="quote-signing-ip")(view)


def _text(n: int) -> list:
    """Optional: the services check every value, and say what is wrong in their words."""
    return [Optional()]


class SigningForm(FlaskForm):
    name = StringField(_l("Your first and last name"), validators=_text(200),
                       render_kw={"autocomplete": "name"})
    debtor_name = StringField(_l("Account holder"), validators=_text(140),
                              render_kw={"autocomplete": "name"})
    street = StringField(_l("Street"), validators=_text(70),
                         render_kw={"autocomplete": "address-line1"})
    building_number = StringField(_l("Number"), validators=_text(16))
    postal_code = StringField(_l("Postal code"), validators=_text(16),
                              render_kw={"autocomplete": "postal-code"})
    town = StringField(_l("Town"), validators=_text(35),
                       render_kw={"autocomplete": "address-level2"})
    country = StringField(_l("Country (2 letters)"), validators=_text(2), default="FR",
                          render_kw={"autocomplete": "country"})
    iban = StringField(_l("IBAN"), validators=_text(50), render_kw={"autocomplete": "off"})
    bic = StringField(_l("BIC (only when asked)"), validators=_text(11),
                      render_kw={"autocomplete": "off"})
    consent = BooleanField()


class CodeForm(FlaskForm):
    code = StringField(_l("Code received by e-mail"), validators=_text(20),
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


def _closed(error: LinkError) -> tuple[str, int]:
    status = {"invalid": 404, "signed": 200}.get(error.kind, 410)
    return render_template("quote_signing/closed.html", reason=error.kind,
                           link=error.link), status


def _open(token: str, *, lock: bool = False) -> tuple[QuoteSigningLink, Quote]:
    link = link_for_token(token, lock=lock)
    return link, quote_signature.quote_of(link)


def _by_sms() -> bool:
    return request.form.get("channel") == "sms"


def _client() -> dict[str, Any]:
    return {"ip": request.remote_addr, "agent": request.headers.get("User-Agent", "")}


@bp.route("/<token>", methods=["GET", "POST"])
@throttled
def review(token: str):
    try:
        link, quote = _open(token, lock=request.method == "POST")
    except LinkError as exc:
        return _closed(exc)
    form = SigningForm()
    messages: list[str] = []
    if request.method == "GET" and not getattr(current_user, "is_staff", False):
        with transaction():  # staff checking the page do not count as the customer
            mark_opened(link)
    elif form.validate_on_submit():
        with transaction(form, flash_errors=False) as saved:
            quote_signature.begin_signing(link, {**form.data, "consent": form.consent.data},
                                          language=str(get_locale()), by_sms=_by_sms(),
                                          **_client())
        if saved:
            return redirect(url_for(".code", token=token))
        messages = saved.messages
        link, quote = _open(token)
    found = creditor() if link.asks_mandate else None
    return render_template(
        "quote_signing/review.html", link=link, quote=quote, form=form, token=token,
        creditor=found, mandate_text=mandate_text(found) if found else [], messages=messages,
        pending=quote_signature.pending_signature(link)), \
        422 if form.errors or messages else 200


@bp.route("/<token>/code", methods=["GET", "POST"])
@throttled
def code(token: str):
    try:
        link, quote = _open(token, lock=request.method == "POST")
    except LinkError as exc:
        return _closed(exc)
    if quote_signature.pending_signature(link) is None:
        return redirect(url_for(".review", token=token))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        with transaction():  # the try stays counted, whatever happens next
            error = quote_signature.take_try(link, **_client())
        if error is None:
            try:
                link, quote = _open(token, lock=True)
            except LinkError as exc:
                return _closed(exc)
            with transaction():
                error = quote_signature.sign(link, form.code.data or "", **_client(),
                                             language=str(get_locale()), tried=True)
        if error is None:
            return redirect(url_for(".review", token=token))
        link, quote = _open(token)
    return render_template("quote_signing/code.html", link=link, quote=quote, form=form,
                           token=token, error=error), 422 if error else 200


@bp.post("/<token>/code/new")
@throttled
def new_code(token: str):
    try:
        link, quote = _open(token, lock=True)
    except LinkError as exc:
        return _closed(exc)
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        with transaction(user_errors=True, flash_errors=False) as saved:
            error = quote_signature.resend_code(link, by_sms=_by_sms(), **_client())
        error = error or (saved.messages[0] if saved.messages else None)
        if error is None:
            return redirect(url_for(".code", token=token, sent=1))
        link, quote = _open(token)
    return render_template("quote_signing/code.html", link=link, quote=quote, form=CodeForm(),
                           token=token, error=error), 422


@bp.get("/<token>/quote.pdf")
@throttled
def quote_pdf(token: str):
    try:
        link, quote = _open(token)
    except LinkError as exc:
        return _closed(exc)
    pdf = document_pdf("quotes", quote, g.tenant, str(get_locale()))
    return _pdf(pdf.content, pdf.filename)


@bp.get("/<token>/document.pdf", endpoint="document_pdf")
@throttled
def document_to_sign(token: str):
    """The document the pending signature is for, as it will be sealed."""
    try:
        link, quote = _open(token)
    except LinkError as exc:
        return _closed(exc)
    signature = quote_signature.pending_signature(link)
    if signature is None:
        return redirect(url_for(".review", token=token))
    return _pdf(quote_signature.document_signed(signature), f"{quote.number or quote.id}.pdf")


def _pdf(content: bytes, filename: str):
    return send_file(io.BytesIO(content), mimetype=MEDIA_TYPE, download_name=filename,
                     as_attachment=False)
