"""The tenant's data as a whole, for admins: the full export, and erasure of one person."""
from __future__ import annotations

from collections.abc import Iterator

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from app.backoffice import bp
from app.extensions import db
from app.models import Contact, Role, Tenant, User
from app.policies import get_visible_or_404
from app.services.erasure import anonymise_contact, anonymise_subscriber, remove_files
from app.services.tenant_export import export_file_name, export_tenant, record_export
from app.tenancy import current_actor, current_tenant_id, tenant_context


@bp.get("/admin/data")
def admin_data():
    return render_template("admin/data.html")


@bp.post("/admin/data/export")
def admin_data_export():
    tenant = db.session.get(Tenant, current_tenant_id())
    record_export(tenant)
    db.session.commit()
    tenant_id, actor, file_name = tenant.id, current_actor(), export_file_name(tenant)

    def chunks() -> Iterator[bytes]:
        # The response streams after the view returns: the request's context is kept
        # (stream_with_context) and the tenant bound again while it does.
        with tenant_context(tenant_id, actor):
            yield from export_tenant(db.session.get(Tenant, tenant_id))

    return Response(stream_with_context(chunks()), mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{file_name}"'})


@bp.post("/admin/contacts/<int:contact_id>/anonymise")
def admin_contact_anonymise(contact_id: int):
    contact = get_visible_or_404(Contact, contact_id, current_user)
    files = anonymise_contact(contact)
    db.session.commit()
    remove_files(files)
    flash(_("The contact's personal data has been erased; the history is kept without it."),
          "success")
    return redirect(url_for("backoffice.record_detail", entity_name="contacts",
                            record_id=contact_id))


@bp.post("/admin/users/<int:user_id>/anonymise")
def admin_user_anonymise(user_id: int):
    user = get_visible_or_404(User, user_id, current_user)
    if user.role != Role.SUBSCRIBER:
        abort(404)
    anonymise_subscriber(user)
    db.session.commit()
    flash(_("The subscriber's login has been anonymised and closed."), "success")
    return redirect(url_for("backoffice.admin_users"))
