"""Passwords from a mailed link: forgotten password, reset, invitation accepted."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from app.auth import home_url, log_in, rate_limits
from app.services.invitations import (
    INVITATION,
    PASSWORD_RESET,
    LinkError,
    request_password_reset,
    set_password_from_link,
    user_from_token,
)
from app.web.transactions import transaction
from portal import bp


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    submit = SubmitField(_l("Send me a link"))


class NewPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("New password, again"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Save my password"))


# Reset requests are limited per IP address and per e-mail typed (no mail bombing).
reset_rate_limits = rate_limits("reset", "RESET_RATE_LIMIT_IP", "RESET_RATE_LIMIT_ACCOUNT")


@bp.route("/password/forgot", methods=["GET", "POST"])
@reset_rate_limits
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        with transaction(form) as saved:
            request_password_reset(form.email.data)
        if saved:
            # The same page whether the e-mail is known or not: nothing to enumerate.
            return render_template("portal/forgot_password_sent.html")
    return render_template("portal/forgot_password.html", form=form)


def _password_page(token: str, purpose: str):
    try:
        user = user_from_token(token, purpose)
    except LinkError as exc:
        return render_template("portal/link_invalid.html", reason=exc.kind, purpose=purpose), \
            400 if exc.kind == "invalid" else 410
    form = NewPasswordForm()
    if form.validate_on_submit():
        with transaction(form) as saved:
            set_password_from_link(token, purpose, form.password.data)
        if saved:
            if log_in(user.email, form.password.data) is None:
                return redirect(url_for("portal.login"))
            flash(_("Your password is saved. Welcome!"), "success")
            return redirect(home_url(user))
    return render_template("portal/set_password.html", form=form, user=user, purpose=purpose)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _password_page(token, PASSWORD_RESET)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    return _password_page(token, INVITATION)
