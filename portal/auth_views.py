"""Logging in and out of the extranet, its language, and the user's own password."""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_login import current_user

from app.auth import (
    choose_language,
    log_out,
    login_page,
    password_change_page,
    safe_next,
    sign_out_everywhere,
)
from portal import bp


@bp.route("/login", methods=["GET", "POST"])
def login():
    return login_page("portal/login.html", for_staff=False)


@bp.post("/logout")
def logout():
    log_out()
    return redirect(url_for("portal.login"))


@bp.get("/language/<lang>")
def set_language(lang: str):
    choose_language(lang)
    return redirect(safe_next(request.args.get("next"), url_for("portal.login")))


@bp.route("/profile/password", methods=["GET", "POST"])
def profile_password():
    return password_change_page("portal/password.html")


@bp.post("/profile/sessions/end")
def profile_end_sessions():
    sign_out_everywhere(current_user)
    return redirect(url_for("portal.login"))
