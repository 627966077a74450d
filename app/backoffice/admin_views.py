"""Tenant settings for admins: users and custom fields."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import sign_out_everywhere
from app.backoffice import bp
from app.backoffice.forms import CustomFieldForm, UserForm, apply_errors, options, ref_label
from app.entities import ENTITIES
from app.models import CustomField, User
from app.policies import can_administer, get_visible_or_404
from app.queries import administration
from app.services.custom_field_defs import (
    changed_field_errors,
    create_field,
    new_field_errors,
    update_field,
)
from app.services.invitations import INVITED_ROLES, invite_user, resend_invitation
from app.services.tenants import create_user, update_user
from app.web.records import audit_trail
from app.web.transactions import transaction


@bp.before_request
def admins_only():
    if request.endpoint and request.endpoint.startswith("backoffice.admin_") \
            and current_user.is_authenticated and not can_administer(current_user):
        abort(403)


@bp.get("/admin/users")
def admin_users():
    return render_template("admin/users.html", users=administration.users())


def _user_data(form: UserForm) -> dict:
    return {"email": form.email.data if "email" in form else None,
            "full_name": form.full_name.data, "role": form.role.data,
            "partner_id": form.partner.data, "account_id": form.account.data,
            "locale": form.locale.data or None, "is_active": form.is_active.data,
            "password": form.password.data or None}


@bp.route("/admin/users/new", methods=["GET", "POST"])
def admin_user_new():
    form = UserForm()
    if form.validate_on_submit():
        with transaction(user_errors=True, flash_errors=False) as saved:
            create_user(_user_data(form))
        if saved:
            flash(_("User created."), "success")
            return redirect(url_for("backoffice.admin_users"))
        _user_errors(form, saved.errors)
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/admin/users/invite", methods=["GET", "POST"])
def admin_user_invite():
    form = UserForm()
    del form.password, form.is_active
    form.role.choices = [c for c in form.role.choices if c.value in INVITED_ROLES]
    if form.validate_on_submit():
        with transaction(user_errors=True, flash_errors=False) as saved:
            user = invite_user({"email": form.email.data, "full_name": form.full_name.data,
                                "role": form.role.data, "partner_id": form.partner.data,
                                "account_id": form.account.data,
                                "locale": form.locale.data or None})
        if saved:
            flash(_("Invitation sent to %(email)s.", email=user.email), "success")
            return redirect(url_for("backoffice.admin_users"))
        _user_errors(form, saved.errors)
    return render_template("admin/user_invite.html", form=form)


@bp.post("/admin/users/<int:user_id>/invitation")
def admin_user_resend_invitation(user_id: int):
    user = get_visible_or_404(User, user_id, current_user)
    with transaction(user_errors=True) as saved:
        resend_invitation(user)
    if saved:
        flash(_("Invitation sent again to %(email)s.", email=user.email), "success")
    return redirect(url_for("backoffice.admin_users"))


@bp.post("/admin/users/<int:user_id>/sessions/end")
def admin_user_end_sessions(user_id: int):
    user = get_visible_or_404(User, user_id, current_user)
    if sign_out_everywhere(user):  # his own account
        return redirect(url_for("backoffice.login"))
    flash(_("%(email)s is signed out everywhere.", email=user.email), "success")
    return redirect(url_for("backoffice.admin_user_edit", user_id=user.id))


def _user_errors(form: UserForm, errors: dict[str, str]) -> None:
    """The service's messages on the form's fields (it names partner_id and account_id),
    the others flashed."""
    errors = {("partner" if k == "partner_id" else "account" if k == "account_id" else k): v
              for k, v in errors.items()}
    for message in apply_errors(form, errors):
        flash(message, "danger")


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
def admin_user_edit(user_id: int):
    user = get_visible_or_404(User, user_id, current_user)
    form = UserForm(obj=user) if request.method == "GET" else UserForm()
    del form.email
    if request.method == "GET":
        form.partner.label_text = ref_label("partners", user.partner)
        form.account.label_text = ref_label("accounts", user.account)
        form.locale.data = user.locale or ""
    if form.validate_on_submit():
        data = _user_data(form)
        data.pop("email")
        if user.id == current_user.id and (data["role"] != "admin" or not data["is_active"]):
            flash(_("You cannot remove your own administrator access."), "danger")
        else:
            with transaction(user_errors=True, flash_errors=False) as saved:
                update_user(user, data)
            if saved:
                flash(_("Changes saved."), "success")
                return redirect(url_for("backoffice.admin_users"))
            _user_errors(form, saved.errors)
    return render_template("admin/user_form.html", form=form, user=user,
                           audit=audit_trail("users", user.id))


@bp.get("/admin/custom-fields")
def admin_custom_fields():
    return render_template("admin/custom_fields.html", fields=administration.custom_fields(),
                           entities=ENTITIES)


def _entity_choices() -> list:
    return options((name, entity.label) for name, entity in ENTITIES.items())


def _field_data(form: CustomFieldForm) -> dict:
    return {"entity": form.entity.data if "entity" in form else None,
            "key": form.key.data if "key" in form else None, "label_fr": form.label_fr.data,
            "label_en": form.label_en.data, "type": form.type.data, "choices": form.choices.data,
            "is_required": form.is_required.data, "is_portal_visible": form.is_portal_visible.data,
            "position": form.position.data or 0, "is_active": form.is_active.data}


@bp.route("/admin/custom-fields/new", methods=["GET", "POST"])
def admin_custom_field_new():
    form = CustomFieldForm()
    form.entity.choices = _entity_choices()
    if form.validate_on_submit():
        with transaction(form) as saved:
            create_field(_field_data(form))
        if saved:
            flash(_("Custom field created."), "success")
            return redirect(url_for("backoffice.admin_custom_fields"))
    elif form.is_submitted() and "csrf_token" not in form.errors:
        _all_errors(form, new_field_errors(_field_data(form)))
    return render_template("admin/custom_field_form.html", form=form, field=None)


def _all_errors(form: CustomFieldForm, errors: dict[str, str]) -> None:
    """Beside the form's own errors, the service's: every mistake shows on the first submit."""
    for message in apply_errors(form, {name: message for name, message in errors.items()
                                       if name not in form or not form[name].errors}):
        flash(message, "danger")


@bp.route("/admin/custom-fields/<int:field_id>", methods=["GET", "POST"])
def admin_custom_field_edit(field_id: int):
    field = get_visible_or_404(CustomField, field_id, current_user)
    form = CustomFieldForm(obj=field) if request.method == "GET" else CustomFieldForm()
    del form.entity, form.key
    if request.method == "GET":
        form.choices.data = "\n".join(field.choices or [])
    if form.validate_on_submit():
        data = _field_data(form)
        data.pop("entity"), data.pop("key")
        with transaction(form) as saved:
            update_field(field, data)
        if saved:
            flash(_("Changes saved."), "success")
            return redirect(url_for("backoffice.admin_custom_fields"))
        field = get_visible_or_404(CustomField, field_id, current_user)
    elif form.is_submitted() and "csrf_token" not in form.errors:
        _all_errors(form, changed_field_errors(field, {
            k: v for k, v in _field_data(form).items() if k not in ("entity", "key")}))
    return render_template("admin/custom_field_form.html", form=form, field=field,
                           audit=audit_trail("custom_fields", field.id))
