"""Logging in and out of the extranet, and its language."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import choose_language, home_url, log_in, log_out, login_rate_limits, safe_next
from app.backoffice.forms import LoginForm
from portal import bp


@bp.route("/login", methods=["GET", "POST"])
@login_rate_limits
def login():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = log_in(form.email.data, form.password.data)
        if user is not None:
            default = home_url(user)
            return redirect(default if user.is_staff
                            else safe_next(request.args.get("next"), default))
        flash(_("Wrong e-mail or password."), "danger")
    return render_template("portal/login.html", form=form)


@bp.post("/logout")
def logout():
    log_out()
    return redirect(url_for("portal.login"))


@bp.get("/language/<lang>")
def set_language(lang: str):
    choose_language(lang)
    return redirect(safe_next(request.args.get("next"), url_for("portal.login")))
