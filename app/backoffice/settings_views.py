"""Admin settings: the extranet's look (colour and logo, also those of printed documents),
whether agents see activities, and the legal mentions printed on documents."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField, SubmitField, TextAreaField
from wtforms.validators import Optional

from app.backoffice import bp
from app.i18n import number
from app.services.tenant_settings import (
    DEFAULT_COLOR,
    LEGAL_FIELDS,
    set_legal_mentions,
    set_portal_activities,
    set_portal_look,
)
from app.web.transactions import transaction


class PortalLookForm(FlaskForm):
    portal_color = StringField(_l("Colour"), validators=[Optional()],
                               render_kw={"type": "color"})
    logo = FileField(_l("Logo (PNG, JPEG, GIF or WebP, up to 512 KB)"))
    remove_logo = BooleanField(_l("Remove the logo"))
    portal_activities = BooleanField(_l("Agents see the activities of their records (never the "
                                        "staff-only ones) and add some"))
    submit = SubmitField(_l("Save"))


@bp.route("/admin/extranet", methods=["GET", "POST"])
def admin_extranet():
    tenant = g.tenant
    form = PortalLookForm(data={"portal_color": tenant.portal_color or DEFAULT_COLOR,
                                "portal_activities": tenant.is_portal_activities_enabled})
    errors: list[str] = []
    if form.validate_on_submit():
        upload = form.logo.data
        with transaction(form, flash_errors=False) as saved:
            set_portal_look(tenant, form.portal_color.data,
                            upload.stream if upload and upload.filename else None,
                            remove_logo=form.remove_logo.data)
            set_portal_activities(tenant, bool(form.portal_activities.data))
        if saved:
            flash(_("The extranet's look is saved."), "success")
            return redirect(url_for("backoffice.admin_extranet"))
        errors = saved.messages
    return render_template("admin/extranet.html", form=form, tenant=tenant,
                           errors=errors), 422 if form.errors or errors else 200


class LegalMentionsForm(FlaskForm):
    legal_name = StringField(_l("Legal name"))
    legal_address = TextAreaField(_l("Registered address"), render_kw={"rows": 3})
    siren = StringField(_l("SIREN"), render_kw={"inputmode": "numeric"})
    vat_number = StringField(_l("VAT number"))
    payment_terms = TextAreaField(_l("Payment terms"), render_kw={"rows": 2})
    late_penalty_rate = StringField(_l("Late-payment penalty rate (% a year)"),
                                    render_kw={"inputmode": "decimal"})
    submit = SubmitField(_l("Save"))


@bp.route("/admin/documents", methods=["GET", "POST"])
def admin_documents():
    tenant = g.tenant
    form = LegalMentionsForm(obj=tenant)
    if not form.is_submitted():  # the rate as the admin's language writes it: 12,5
        form.late_penalty_rate.data = number(tenant.late_penalty_rate)
    failed = False
    if form.validate_on_submit():
        with transaction(form, flash_errors=False) as saved:
            set_legal_mentions(tenant, {name: getattr(form, name).data for name in LEGAL_FIELDS})
        if saved:
            flash(_("The legal mentions are saved."), "success")
            return redirect(url_for("backoffice.admin_documents"))
        failed = True
    return render_template("admin/documents.html", form=form, tenant=tenant), \
        422 if failed or form.errors else 200
