"""The extranet's home page, the user's profile, and the tenant's look."""
from __future__ import annotations

from flask import Response, abort, flash, g, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.clock import local_today
from app.forms import LocaleForm
from app.i18n import remember_user_locale
from app.models import Role
from app.queries.portal_home import build_home
from app.services.attachments import storage_path
from app.services.records import update_record
from app.services.tenant_settings import theme_css
from app.services.tenants import set_locale
from app.web.transactions import transaction
from portal import bp
from portal.forms import ContactForm


@bp.get("/")
def home():
    # A document's customer is named only when the user may see that customer (customers).
    return render_template("portal/home.html", home=build_home(current_user, local_today()))


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    account = current_user.account if current_user.role == Role.SUBSCRIBER else None
    contact = ContactForm(obj=account, prefix="contact") if account is not None else None
    settings = LocaleForm(obj=current_user, prefix="settings")
    if contact is not None and contact.submit.data and contact.validate_on_submit():
        with transaction(user_errors=True, flash_errors=False) as saved:
            update_record(account, {name: getattr(contact, name).data or None
                                    for name in ContactForm.FIELDS})
        if saved:
            flash(_("Your contact details are saved."), "success")
            return redirect(url_for("portal.profile"))
        for name, message in saved.errors.items():
            getattr(contact, name, contact.email).errors = [message]
    elif settings.submit.data and settings.validate_on_submit():
        with transaction(settings) as saved:
            set_locale(current_user, settings.locale.data)
            remember_user_locale(current_user)  # answer in the language just chosen
        if saved:
            flash(_("Your settings are saved."), "success")
            return redirect(url_for("portal.profile"))
    status = 422 if (contact is not None and contact.errors) or settings.errors else 200
    return render_template("portal/profile.html", contact=contact, settings=settings,
                           account=account), status


@bp.get("/theme.css")
def theme():
    """The tenant's colour over Bootstrap's (a stylesheet: the CSP allows no inline style)."""
    return Response(theme_css(g.tenant.portal_color), mimetype="text/css",
                    headers={"Cache-Control": "public, max-age=86400"})


@bp.get("/logo")
def logo():
    tenant = g.tenant
    if not tenant.logo_sha256:
        abort(404)
    path = storage_path(tenant.id, tenant.logo_sha256)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype=tenant.logo_media_type, max_age=86400)
