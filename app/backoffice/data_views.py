"""The tenant's data as a whole, for admins: the full export, and erasure of one person."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.backoffice import bp
from app.extensions import db
from app.models import Account, Contact, Role, Tenant, User
from app.policies import get_visible_or_404
from app.services.erasure import (
    anonymise_contact,
    anonymise_customer,
    anonymise_subscriber,
    remove_files,
)
from app.services.tenant_export import export_file_name, export_tenant, record_export
from app.tenancy import current_tenant_id
from app.web.downloads import download
from app.web.transactions import transaction


@bp.get("/admin/data")
def admin_data():
    return render_template("admin/data.html")


@bp.post("/admin/data/export")
def admin_data_export():
    tenant = db.session.get(Tenant, current_tenant_id())
    with transaction():
        record_export(tenant)
    return download(export_tenant(tenant), filename=export_file_name(tenant),
                    mimetype="application/zip")


@bp.post("/admin/contacts/<int:contact_id>/anonymise")
def admin_contact_anonymise(contact_id: int):
    contact = get_visible_or_404(Contact, contact_id, current_user)
    with transaction():
        files = anonymise_contact(contact)
    remove_files(files)
    flash(_("The contact's personal data has been erased; the history is kept without it."),
          "success")
    return redirect(url_for("backoffice.record_detail", entity_name="contacts",
                            record_id=contact_id))


@bp.post("/admin/accounts/<int:account_id>/anonymise")
def admin_account_anonymise(account_id: int):
    account = get_visible_or_404(Account, account_id, current_user)
    with transaction(user_errors=True) as saved:
        files = anonymise_customer(account)
    if saved:
        remove_files(files)
        flash(_("The customer's personal data has been erased; the history is kept without "
                "it."), "success")
    return redirect(url_for("backoffice.account_360", record_id=account_id))


@bp.post("/admin/users/<int:user_id>/anonymise")
def admin_user_anonymise(user_id: int):
    user = get_visible_or_404(User, user_id, current_user)
    if user.role != Role.SUBSCRIBER:
        abort(404)
    with transaction():
        files = anonymise_subscriber(user)
    remove_files(files)
    flash(_("The subscriber's login has been anonymised and closed."), "success")
    return redirect(url_for("backoffice.admin_users"))
