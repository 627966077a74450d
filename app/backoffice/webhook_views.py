"""Webhooks for admins: endpoints (the secret shown once), their delivery log, a test ping,
re-enabling a disabled endpoint."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import Length

from app.backoffice import bp
from app.backoffice.forms import MultiCheckboxField, options
from app.models import WebhookEndpoint
from app.policies import get_visible_or_404
from app.queries.webhooks import delivery_of, delivery_page, endpoint_rows, recent_deliveries
from app.services.webhooks import (
    create_endpoint,
    delete_endpoint,
    enable_endpoint,
    retry_delivery,
    send_ping,
    update_endpoint,
)
from app.web.records import audit_trail
from app.web.transactions import transaction
from app.webhooks.events import all_events, event_groups, event_label


class WebhookForm(FlaskForm):
    url = StringField(_l("Address (URL)"), validators=[Length(max=2000)],
                      description=_l("Where the receiving system listens, e.g. "
                                     "https://erp.example.com/relais/webhooks."))
    description = StringField(_l("Description"), validators=[Length(max=200)])
    # The service names an unknown event and lists the known ones, for the API as here.
    events = MultiCheckboxField(_l("Events"), validate_choice=False)
    secret = StringField(_l("Secret (optional)"), validators=[Length(max=200)],
                         render_kw={"autocomplete": "off", "spellcheck": "false"})
    renew_secret = BooleanField(_l("Generate a new secret"))
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.events.choices = options((name, event_label(name)) for name in all_events())


def _data(form: WebhookForm) -> dict:
    return {"url": form.url.data, "description": form.description.data,
            "events": form.events.data or [], "secret": form.secret.data}


def _render_form(form: WebhookForm, endpoint: WebhookEndpoint | None, **extra) -> tuple:  # noqa: ANN003
    return render_template("admin/webhook_form.html", form=form, endpoint=endpoint,
                           groups=event_groups(), **extra), 422 if form.errors else 200


@bp.get("/admin/webhooks")
def admin_webhooks():
    return render_template("admin/webhooks.html", rows=endpoint_rows(), event_label=event_label)


@bp.route("/admin/webhooks/new", methods=["GET", "POST"])
def admin_webhook_new():
    form = WebhookForm()
    del form.renew_secret
    if form.validate_on_submit():
        with transaction(form) as saved:
            endpoint, secret = create_endpoint(_data(form))
        if saved:
            # Shown on the answer to the POST, never stored in the session: a reload cannot.
            return render_template("admin/webhook_secret.html", endpoint=endpoint,
                                   secret=secret)
    return _render_form(form, None)


@bp.route("/admin/webhooks/<int:endpoint_id>", methods=["GET", "POST"])
def admin_webhook_edit(endpoint_id: int):
    endpoint = get_visible_or_404(WebhookEndpoint, endpoint_id, current_user)
    form = WebhookForm(obj=endpoint) if request.method == "GET" else WebhookForm()
    if request.method == "GET":
        form.secret.data = ""
    if form.validate_on_submit():
        with transaction(form) as saved:
            secret = update_endpoint(endpoint, _data(form), renew_secret=form.renew_secret.data)
        if not saved:
            endpoint = get_visible_or_404(WebhookEndpoint, endpoint_id, current_user)
        elif secret:
            return render_template("admin/webhook_secret.html", endpoint=endpoint,
                                   secret=secret)
        else:
            flash(_("Changes saved."), "success")
            return redirect(url_for("backoffice.admin_webhook_edit", endpoint_id=endpoint.id))
    return _render_form(form, endpoint, recent=recent_deliveries(endpoint),
                        event_label=event_label,
                        audit=audit_trail("webhook_endpoints", endpoint.id))


@bp.get("/admin/webhooks/<int:endpoint_id>/deliveries")
def admin_webhook_deliveries(endpoint_id: int):
    endpoint = get_visible_or_404(WebhookEndpoint, endpoint_id, current_user)
    deliveries, more, status = delivery_page(endpoint, request.args)
    return render_template("admin/webhook_deliveries.html", endpoint=endpoint,
                           deliveries=deliveries, more=more, status=status,
                           event_label=event_label)


@bp.get("/admin/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>")
def admin_webhook_delivery(endpoint_id: int, delivery_id: int):
    endpoint = get_visible_or_404(WebhookEndpoint, endpoint_id, current_user)
    delivery = delivery_of(endpoint, delivery_id)
    if delivery is None:
        abort(404)
    return render_template("admin/webhook_delivery.html", endpoint=endpoint,
                           delivery=delivery, event_label=event_label)


def _act(endpoint_id: int, action, done: str, target: str = "edit"):  # noqa: ANN001
    """Run a POST action on an endpoint, flash its outcome, go back to its page."""
    endpoint = get_visible_or_404(WebhookEndpoint, endpoint_id, current_user)
    with transaction(user_errors=True) as saved:
        action(endpoint)
    if saved:
        flash(done, "success")
    if target == "list":
        return redirect(url_for("backoffice.admin_webhooks"))
    return redirect(url_for("backoffice.admin_webhook_edit", endpoint_id=endpoint_id))


@bp.post("/admin/webhooks/<int:endpoint_id>/enable")
def admin_webhook_enable(endpoint_id: int):
    return _act(endpoint_id, enable_endpoint,
                _("The endpoint is enabled again: new events will be sent to it."))


@bp.post("/admin/webhooks/<int:endpoint_id>/ping")
def admin_webhook_ping(endpoint_id: int):
    return _act(endpoint_id, send_ping,
                _("A test event is on its way: its result appears in the delivery log."))


@bp.post("/admin/webhooks/<int:endpoint_id>/delete")
def admin_webhook_delete(endpoint_id: int):
    return _act(endpoint_id, delete_endpoint, _("Webhook deleted."), target="list")


@bp.post("/admin/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/retry")
def admin_webhook_retry(endpoint_id: int, delivery_id: int):
    endpoint = get_visible_or_404(WebhookEndpoint, endpoint_id, current_user)
    delivery = delivery_of(endpoint, delivery_id)
    if delivery is None:
        abort(404)
    with transaction(user_errors=True) as saved:
        retry_delivery(delivery)
    if saved:
        flash(_("The delivery will be sent again."), "success")
    return redirect(url_for("backoffice.admin_webhook_delivery", endpoint_id=endpoint_id,
                            delivery_id=delivery_id))
