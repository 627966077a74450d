"""Tenant settings for admins: users and custom fields."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.backoffice import bp
from app.backoffice.forms import CustomFieldForm, UserForm, apply_errors, options, ref_label
from app.backoffice.views_support import audit_trail
from app.entities import ENTITIES
from app.errors import ValidationError
from app.extensions import db
from app.mail import MailError
from app.models import CustomField, User
from app.policies import can_administer, get_visible_or_404
from app.services.custom_field_defs import create_field, update_field
from app.services.invitations import INVITED_ROLES, invite_user, resend_invitation
from app.services.tenants import create_user, end_sessions, update_user


@bp.before_request
def admins_only():
    if request.endpoint and request.endpoint.startswith("backoffice.admin_") \
            and current_user.is_authenticated and not can_administer(current_user):
        abort(403)


@bp.get("/admin/users")
def admin_users():
    users = db.session.scalars(select(User).order_by(User.email))
    return render_template("admin/users.html", users=users)


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
        try:
            create_user(_user_data(form))
            db.session.commit()
            flash(_("User created."), "success")
            return redirect(url_for("backoffice.admin_users"))
        except ValidationError as exc:
            db.session.rollback()
            _user_errors(form, exc)
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/admin/users/invite", methods=["GET", "POST"])
def admin_user_invite():
    form = UserForm()
    del form.password, form.is_active
    form.role.choices = [c for c in form.role.choices if c.value in INVITED_ROLES]
    if form.validate_on_submit():
        try:
            user = invite_user({"email": form.email.data, "full_name": form.full_name.data,
                                "role": form.role.data, "partner_id": form.partner.data,
                                "account_id": form.account.data,
                                "locale": form.locale.data or None})
            db.session.commit()
            flash(_("Invitation sent to %(email)s.", email=user.email), "success")
            return redirect(url_for("backoffice.admin_users"))
        except ValidationError as exc:
            db.session.rollback()
            _user_errors(form, exc)
        except MailError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
    return render_template("admin/user_invite.html", form=form)


@bp.post("/admin/users/<int:user_id>/invitation")
def admin_user_resend_invitation(user_id: int):
    user = get_visible_or_404(User, user_id, current_user)
    try:
        resend_invitation(user)
        db.session.commit()
        flash(_("Invitation sent again to %(email)s.", email=user.email), "success")
    except ValidationError as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(message, "danger")
    except MailError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
    return redirect(url_for("backoffice.admin_users"))


@bp.post("/admin/users/<int:user_id>/sessions/end")
def admin_user_end_sessions(user_id: int):
    user = get_visible_or_404(User, user_id, current_user)
    end_sessions(user)
    db.session.commit()
    flash(_("%(email)s is signed out everywhere.", email=user.email), "success")
    return redirect(url_for("backoffice.admin_user_edit", user_id=user.id))


def _user_errors(form: UserForm, exc: ValidationError) -> None:
    errors = {("partner" if k == "partner_id" else "account" if k == "account_id" else k): v
              for k, v in exc.errors.items()}
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
            try:
                update_user(user, data)
                db.session.commit()
                flash(_("Changes saved."), "success")
                return redirect(url_for("backoffice.admin_users"))
            except ValidationError as exc:
                db.session.rollback()
                _user_errors(form, exc)
    return render_template("admin/user_form.html", form=form, user=user,
                           audit=audit_trail("users", user.id))


@bp.get("/admin/custom-fields")
def admin_custom_fields():
    fields = db.session.scalars(select(CustomField).order_by(
        CustomField.entity, CustomField.position, CustomField.id))
    return render_template("admin/custom_fields.html", fields=fields, entities=ENTITIES)


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
        try:
            create_field(_field_data(form))
            db.session.commit()
            flash(_("Custom field created."), "success")
            return redirect(url_for("backoffice.admin_custom_fields"))
        except ValidationError as exc:
            db.session.rollback()
            for message in apply_errors(form, exc.errors):
                flash(message, "danger")
    return render_template("admin/custom_field_form.html", form=form, field=None)


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
        try:
            update_field(field, data)
            db.session.commit()
            flash(_("Changes saved."), "success")
            return redirect(url_for("backoffice.admin_custom_fields"))
        except ValidationError as exc:
            db.session.rollback()
            field = get_visible_or_404(CustomField, field_id, current_user)
            for message in apply_errors(form, exc.errors):
                flash(message, "danger")
    return render_template("admin/custom_field_form.html", form=form, field=field,
                           audit=audit_trail("custom_fields", field.id))
