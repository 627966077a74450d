"""The public subscription pages under /<tenant>/subscribe/: the tenant's published offers,
then for one of them the details, the review of the contract and mandate, the one-time code,
and the thanks. No login: the browser's session names the customer's subscription (the
resume link mailed to him names it too, on another device). POSTs are limited per IP address
and per e-mail; the code is never in a page."""
from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.exceptions import TooManyRequests

from app import sms
from app.auth import serve_tenant_space
from app.documents.subscription import recurrence_label
from app.errors import NotAllowed
from app.extensions import db, limiter
from app.login_throttle import address_key
from app.models import Offer, Subscription
from app.services import subscriptions as service
from app.tenancy import Actor, current_actor, set_actor
from app.web.transactions import transaction

bp = Blueprint("subscribe", __name__, url_prefix="/<tenant>/subscribe",
               template_folder="templates")
ENDPOINTS = {f"subscribe.{name}" for name in (
    "offers", "details", "resume", "review", "contract", "code", "done", "signed_contract")}
serve_tenant_space(bp, for_staff=False, public=ENDPOINTS, any_user=set())


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {"recurrence_label": recurrence_label, "sms_available": sms.available}


@bp.before_request
def name_the_actor() -> None:
    """Records written here are audited as the online subscription, with the client's IP."""
    set_actor(Actor("anonymous", None, "online subscription", None, current_actor().ip))


def _throttle_key() -> str:
    email = (request.form.get("email") or "").strip().lower()[:254]
    if not email:
        found = _current(None)
        email = found.email if found is not None else ""
    return f"subscribe:{g.get('tenant_slug')}:{email}"


def _ip_key() -> str:
    return f"subscribe:{address_key(request.remote_addr)}"


def throttled(view: Any) -> Any:
    view = limiter.limit(lambda: current_app.config["SUBSCRIBE_RATE_LIMIT_EMAIL"],
                         methods=["POST"], key_func=_throttle_key)(view)
    return limiter.limit(lambda: current_app.config["SUBSCRIBE_RATE_LIMIT_IP"],
                         methods=["POST"], key_func=_ip_key)(view)


@bp.errorhandler(TooManyRequests)
def too_many(error: TooManyRequests) -> Any:
    limit = getattr(error, "limit", None)
    seconds = 60
    if limit is not None:
        seconds = max(60, int(limit.limit.get_expiry()))
    minutes = -(-seconds // 60)
    message = ngettext("You have sent this form too many times. Try again in %(num)d minute.",
                       "You have sent this form too many times. Try again in %(num)d minutes.",
                       minutes)
    return render_template("subscribe/too_many.html", message=message), 429, \
        {"Retry-After": str(seconds)}


@bp.errorhandler(NotAllowed)
def closed(error: NotAllowed) -> Any:
    """A step refused (signed already, too many codes…): said on a page of these ones."""
    db.session.rollback()
    return render_template("subscribe/message.html", code=403, title=_("Not possible"),
                           message=error.message), 403


@bp.errorhandler(404)
def not_found(error: Exception) -> Any:
    return render_template("subscribe/message.html", code=404, title=_("Page not found"),
                           message=_("This offer does not exist or is no longer open to "
                                     "subscription.")), 404


# -- the browser's subscription -----------------------------------------------------------------

def _session_key() -> str:
    return f"subscribe.{g.tenant.id}"


def _current(offer: Offer | None) -> Subscription | None:
    """The subscription this browser is on (for `offer` when given)."""
    kept = session.get(_session_key()) if g.get("tenant") else None
    if not isinstance(kept, dict):
        return None
    found = service.by_token(str(kept.get("token") or ""))
    if found is None or (offer is not None and found.offer_id != offer.id):
        return None
    return found


def _remember(offer: Offer, token: str) -> None:
    session[_session_key()] = {"code": offer.code, "token": token}


def _offer_or_404(code: str) -> Offer:
    offer = service.published_offer(code)
    if offer is None:
        abort(404)
    return offer


def _language() -> str:
    return str(get_locale() or "fr")[:2]


def _client() -> dict[str, Any]:
    return {"ip": request.remote_addr, "agent": request.headers.get("User-Agent", "")}


# -- pages --------------------------------------------------------------------------------------

@bp.get("/")
def offers():
    return render_template("subscribe/offers.html", offers=service.published_offers())


def _form_data(offer: Offer) -> dict[str, Any]:
    data: dict[str, Any] = {name: request.form.get(name, "") for name in service.DETAIL_FIELDS}
    data["custom"] = {}
    for field in service.collected_fields(offer):
        name = f"custom.{field.key}"
        data["custom"][field.key] = request.form.getlist(name) \
            if field.type == "multi_choice" else request.form.get(name, "")
    return data


@bp.route("/<code>", methods=["GET", "POST"])
@throttled
def details(code: str):
    offer = _offer_or_404(code)
    current = _current(offer)
    if current is not None and current.status == "signed":
        return redirect(url_for("subscribe.done", code=offer.code))
    form = FlaskForm()  # the CSRF token; the service checks every field
    errors: dict[str, str] = {}
    if request.method == "POST" and form.validate_on_submit():
        data = _form_data(offer)
        with transaction(user_errors=True, flash_errors=False) as saved:
            if current is None:
                current, token = service.start_subscription(offer, data,
                                                            language=_language(), **_client())
            else:
                service.update_details(current, offer, data)
                token = None
        if saved:
            if token:
                _remember(offer, token)
            return redirect(url_for("subscribe.review", code=offer.code))
        errors = saved.errors
        values = data
    else:
        values = _values_of(current)
        if request.method == "POST":  # the CSRF token expired: keep what was typed
            values, errors = _form_data(offer), {"": _form_expired()}
    return render_template("subscribe/details.html", offer=offer, form=form, values=values,
                           errors=errors, fields=service.collected_fields(offer),
                           locale=_language()), 422 if errors else 200


def _form_expired() -> str:
    return _("The form has expired: check your details and send them again.")


def _values_of(subscription: Subscription | None) -> dict[str, Any]:
    if subscription is None:
        return {"country": "FR", "custom": {}}
    values = {name: getattr(subscription, name) for name in service.DETAIL_FIELDS}
    values["custom"] = dict(subscription.custom or {})
    return values


@bp.get("/<code>/resume/<token>")
def resume(code: str, token: str):
    offer = _offer_or_404(code)
    found = service.by_token(token)
    if found is None or found.offer_id != offer.id:
        return render_template("subscribe/link_invalid.html", offer=offer), 410
    _remember(offer, token)
    if found.status == "signed":
        return redirect(url_for("subscribe.done", code=offer.code))
    return redirect(url_for("subscribe.review", code=offer.code))


def _started(offer: Offer) -> Subscription:
    current = _current(offer)
    if current is None:
        abort(redirect(url_for("subscribe.details", code=offer.code)))
    if current.status == "signed":
        abort(redirect(url_for("subscribe.done", code=offer.code)))
    return current


@bp.route("/<code>/review", methods=["GET", "POST"])
@throttled
def review(code: str):
    offer = _offer_or_404(code)
    current = _started(offer)
    form = FlaskForm()
    errors: dict[str, str] = {}
    if request.method == "POST" and form.validate_on_submit():
        if request.form.get("consent") != "yes":
            errors["consent"] = _msg_consent()
        else:
            by_sms = request.form.get("channel") == "sms" and bool(current.phone)
            with transaction(user_errors=True, flash_errors=False) as saved:
                service.consent(current, offer, by_sms=by_sms, **_client())
            if saved:
                return redirect(url_for("subscribe.code", code=offer.code))
            errors = saved.errors
    else:
        with transaction():
            service.review(current, _language())
    return render_template("subscribe/review.html", offer=offer, subscription=current,
                           form=form, errors=errors, consent=service.consent_text(offer),
                           fields=service.collected_fields(offer), locale=_language()), \
        422 if errors else 200


def _msg_consent() -> str:
    return _("Tick this box to sign the contract and the mandate.")


@bp.get("/<code>/contract.pdf")
def contract(code: str):
    offer = _offer_or_404(code)
    current = _started(offer)
    if current.mandate_reference is None:
        with transaction():
            service.review(current)
    pdf = service.contract_pdf(current, offer)
    response = current_app.response_class(pdf.content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{pdf.filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<code>/code", methods=["GET", "POST"])
@throttled
def code(code: str):
    offer = _offer_or_404(code)
    current = _started(offer)
    if current.signature is None or current.signature.status != "pending":
        return redirect(url_for("subscribe.review", code=offer.code))
    form = FlaskForm()
    errors: dict[str, str] = {}
    sent_again = False
    if request.method == "POST" and form.validate_on_submit():
        if request.form.get("action") == "resend":
            with transaction(user_errors=True, flash_errors=False) as saved:
                refused = service.resend_code(
                    current, by_sms=request.form.get("channel") == "sms", **_client())
            if refused:  # the signature is locked now, and committed so
                return render_template("subscribe/message.html", code=403,
                                       title=_("Not possible"), message=refused), 403
            sent_again, errors = bool(saved), saved.errors
        else:
            errors = _enter_code(offer, current)
            if not errors:
                return redirect(url_for("subscribe.done", code=offer.code))
    return render_template("subscribe/code.html", offer=offer, subscription=current, form=form,
                           errors=errors, sent_again=sent_again), 422 if errors else 200


def _enter_code(offer: Offer, current: Subscription) -> dict[str, str]:
    """The try counted and committed first: whatever happens next, it stays counted. Then
    the code checked; signed and fulfilled in one transaction, or all of it rolled back."""
    try:
        with transaction():
            refused = service.take_try(current, **_client())
        if refused:
            return {"code": refused}
        outcome = service.enter_code(current, offer, request.form.get("code", ""),
                                     **_client(), tried=True)
        db.session.commit()
    except NotAllowed as exc:
        db.session.rollback()
        return {"code": exc.message or _("This signature is closed.")}
    except Exception:
        db.session.rollback()
        current_app.logger.exception("subscription fulfilment failed")
        return {"": _("We could not record your subscription: nothing was signed or "
                      "charged. Please enter your code again in a moment.")}
    return outcome.errors


@bp.get("/<code>/done")
def done(code: str):
    offer = _offer_or_404(code)
    current = _current(offer)
    if current is None or current.status != "signed":
        return redirect(url_for("subscribe.details", code=offer.code))
    return render_template("subscribe/done.html", offer=offer, subscription=current)


@bp.get("/<code>/signed.pdf")
def signed_contract(code: str):
    offer = _offer_or_404(code)
    current = _current(offer)
    path = service.file_of(current) if current is not None else None
    if path is None:
        abort(404)
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=f"{service.contract_pdf_stem(current)}.pdf")
