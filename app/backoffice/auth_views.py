"""Login, logout and language choice."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.backoffice import bp
from app.backoffice.forms import LocaleForm, LoginForm
from app.errors import ValidationError
from app.extensions import db, limiter
from app.services.audit import record_event
from app.services.tenants import find_user_by_email, record_login, set_locale, verify_password
from app.tenancy import Actor, set_actor


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: no scheme, no host, no protocol-relative //."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


def _account_key() -> str:
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"login:{g.get('tenant_slug')}:{email}"


def _failed(response) -> bool:
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_IP"], methods=["POST"],
               deduct_when=_failed)
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"], methods=["POST"],
               key_func=_account_key, deduct_when=_failed)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("backoffice.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        user = find_user_by_email(form.email.data)
        ok = verify_password(user, form.password.data) and user is not None and user.is_active
        if ok:
            set_actor(Actor("user", user.id, user.email, user, request.remote_addr))
        record_login(user if ok else None, form.email.data, success=ok)
        db.session.commit()
        if ok:
            session.clear()
            login_user(user)
            return redirect(safe_next(request.args.get("next"), url_for("backoffice.dashboard")))
        flash(_("Wrong e-mail or password."), "danger")
    return render_template("login.html", form=form), 200


@bp.post("/logout")
def logout():
    record_event("logout", "users", current_user.id)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("backoffice.login"))


@bp.get("/language/<lang>")
def set_language(lang: str):
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return redirect(safe_next(request.args.get("next"), url_for("backoffice.login")))


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    form = LocaleForm(obj=current_user)
    if form.validate_on_submit():
        try:
            set_locale(current_user, form.locale.data)
            db.session.commit()
            flash(_("Your settings are saved."), "success")
            return redirect(url_for("backoffice.profile"))
        except ValidationError as exc:
            db.session.rollback()
            form.locale.errors = list(exc.errors.values())
    return render_template("profile.html", form=form)
