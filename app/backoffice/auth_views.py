"""Login, logout and language choice."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import (
    choose_language,
    log_out,
    login_page,
    password_change_page,
    safe_next,
    sign_out_everywhere,
)
from app.backoffice import bp
from app.forms import LocaleForm
from app.i18n import remember_user_locale
from app.services.tenants import set_locale
from app.web.transactions import transaction


@bp.route("/login", methods=["GET", "POST"])
def login():
    return login_page("login.html", for_staff=True)


@bp.post("/logout")
def logout():
    log_out()
    return redirect(url_for("backoffice.login"))


@bp.get("/language/<lang>")
def set_language(lang: str):
    choose_language(lang)
    return redirect(safe_next(request.args.get("next"), url_for("backoffice.login")))


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    form = LocaleForm(obj=current_user)
    if form.validate_on_submit():
        with transaction(form) as saved:
            set_locale(current_user, form.locale.data)
            remember_user_locale(current_user)  # answer in the language just chosen
        if saved:
            flash(_("Your settings are saved."), "success")
            # The menu's language switch comes back to the page it was used on.
            return redirect(safe_next(request.form.get("next"), url_for("backoffice.profile")))
    return render_template("profile.html", form=form)


@bp.route("/profile/password", methods=["GET", "POST"])
def profile_password():
    return password_change_page("password.html")


@bp.post("/profile/sessions/end")
def profile_end_sessions():
    sign_out_everywhere(current_user)
    return redirect(url_for("backoffice.login"))
