"""Sessions: who is logged in, bound with the tenant to the request's context."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user

from app.extensions import limiter, login_manager
from app.i18n import remember_locales, remember_user_locale
from app.login_throttle import Attempt, begin, remember_device
from app.models import Tenant, User
from app.tenancy import Actor, bind, bound_tenant_id, set_actor, unbind
from app.web.transactions import transaction

# The key, in the session cookie, of the secret naming its server-side session
# (app/services/sessions.py).
SESSION_SECRET = "sid"


def install_login_manager(app: Flask) -> None:
    login_manager.login_view = "backoffice.login"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_key: str) -> User | None:
        """A session's user, only for the tenant of the URL it is used on, and only while
        the session is open server-side."""
        from app.services.sessions import session_user

        try:
            tenant_part, user_part, _rest = user_key.split(":", 2)
            tenant_id, user_id = int(tenant_part), int(user_part)
        except (ValueError, AttributeError):
            return None
        secret = session.get(SESSION_SECRET)
        if bound_tenant_id() != tenant_id or not isinstance(secret, str):
            return None
        user = session_user(user_id, secret)
        if user is None or not user.is_active or user.get_id() != user_key:
            # Gone, blocked, or its session ended (logout, new password, "sign out
            # everywhere").
            return None
        return user

    @app.before_request
    def reset_context() -> None:
        # Threads are reused between requests: start each one with nothing bound.
        g.tenancy_tokens = bind(None, None)

    @app.teardown_request
    def release_context(exc: BaseException | None) -> None:
        tokens = g.pop("tenancy_tokens", None)
        if tokens is not None:
            unbind(tokens)


def bind_request_tenant(tenant: Tenant) -> None:
    """The request hook: bind the URL's tenant, then the logged-in user as actor."""
    g.tenant = tenant
    bind(tenant.id, None)
    user = current_user if current_user.is_authenticated else None
    remember_locales(tenant, user)
    if user is not None:
        set_actor(Actor("user", user.id, user.email, user, request.remote_addr))
    else:
        set_actor(Actor("anonymous", None, "anonymous", None, request.remote_addr))


# -- logging in, for the back office and the extranet alike --------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: no scheme, no host, no protocol-relative //, and no control
    character (CR/LF would split the Location header; others have no place in a path)."""
    if not target or _CONTROL.search(target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


def _failed(response: Response) -> bool:
    return response.status_code != 302


def rate_limits(kind: str, ip_limit: str, account_limit: str, *,
                only_failures: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """POSTs of a form limited per IP address and per tenant and e-mail typed, with the
    limits of the config keys `ip_limit` and `account_limit`; `only_failures`: a POST that
    redirects (it succeeded) does not count. Logins have their own: app/login_throttle.py."""
    def key() -> str:
        email = (request.form.get("email") or "").strip().lower()[:254]
        return f"{kind}:{g.get('tenant_slug')}:{email}"

    deduct = _failed if only_failures else None

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        view = limiter.limit(lambda: current_app.config[account_limit], methods=["POST"],
                             key_func=key, deduct_when=deduct)(view)
        return limiter.limit(lambda: current_app.config[ip_limit], methods=["POST"],
                             deduct_when=deduct)(view)

    return decorator


def login_page(template: str, *, for_staff: bool) -> Any:
    """The login view of a space: valid credentials open the session and lead to the user's
    own space (to `next` only when it is this one)."""
    from app.forms import LoginForm

    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        attempt = begin(form.email.data)  # counted before the password is checked
        if attempt.refused_by is not None:
            # So guessing on, even with requests sent at once, gains nothing.
            return too_many_attempts(attempt.retry_after)
        user = log_in(form.email.data, form.password.data, attempt)
        if user is not None:
            default = home_url(user)
            here = user.is_staff == for_staff
            response = redirect(safe_next(request.args.get("next"), default) if here
                                else default)
            remember_device(response, attempt)
            return response
        flash(_("Wrong e-mail or password."), "danger")
    return render_template(template, form=form)


def too_many_attempts(seconds: int) -> tuple[str, int, dict[str, str]]:
    """The 429 page of a throttled login, saying when to try again."""
    minutes = max(1, -(-seconds // 60))
    message = ngettext("Too many attempts. Try again in %(num)d minute.",
                       "Too many attempts. Try again in %(num)d minutes.", minutes)
    return (render_template("error.html", code=429, title=_("Too many attempts"),
                            message=message), 429, {"Retry-After": str(seconds)})


def log_in(email: str, password: str, attempt: Attempt | None = None) -> User | None:
    """Check the credentials, audit the attempt and open the session; None when wrong.
    `attempt`: as counted by the login throttle, told of a success, its lockouts audited
    on a failure."""
    from app.services.sessions import open_session
    from app.services.tenants import (
        find_user_by_email,
        record_login,
        record_login_lockout,
        verify_password,
    )

    with transaction():
        user = find_user_by_email(email)
        ok = verify_password(user, password) and user is not None and user.is_active
        if ok:
            set_actor(Actor("user", user.id, user.email, user, request.remote_addr))
            secret = open_session(user)
        record_login(user if ok else None, email, success=ok)
        if attempt is not None and ok:
            attempt.succeeded()
        elif attempt is not None:
            for limit in attempt.reached:
                record_login_lockout(user, email, limit)
    if not ok:
        return None
    session.clear()
    login_user(user)
    session[SESSION_SECRET] = secret
    remember_user_locale(user)
    return user


def log_out() -> None:
    """End this session server-side (a copy of its cookie with it), audited, and clear it."""
    from app.services.sessions import close_session

    with transaction():
        close_session(current_user, session.get(SESSION_SECRET))
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")


def sign_out_everywhere(user: User) -> bool:
    """End every session of `user`, audited; True when this one was among them (it is then
    cleared, and the user told to log in again)."""
    from app.services.sessions import end_sessions

    with transaction():
        end_sessions(user)
    if user.id != current_user.id:
        return False
    logout_user()
    session.clear()
    flash(_("You are signed out everywhere. Log in again."), "info")
    return True


def password_change_page(template: str) -> Any:
    """A logged-in user's password changed in place: his current one proves him (each wrong
    one counts as a failed login, under the login's limits), his other sessions end and this
    one goes on under a new secret."""
    from app.forms import ChangePasswordForm
    from app.services.sessions import open_session
    from app.services.tenants import MIN_PASSWORD, change_password, record_login_lockout

    form = ChangePasswordForm()
    if form.validate_on_submit():
        attempt = begin(current_user.email)
        if attempt.refused_by is not None:
            return too_many_attempts(attempt.retry_after)
        with transaction(form, flash_errors=False) as saved:
            change_password(current_user, form.current_password.data, form.password.data)
            secret = open_session(current_user)
        if saved:
            attempt.succeeded()
            user = current_user._get_current_object()
            session.clear()  # the session's key holds a trace of the password: a new one
            login_user(user)
            session[SESSION_SECRET] = secret
            remember_user_locale(user)
            flash(_("Your password is changed. Your other sessions are closed."), "success")
            return redirect(request.path)
        if "current_password" in saved.errors and attempt.reached:
            with transaction():
                for limit in attempt.reached:
                    record_login_lockout(current_user, current_user.email, limit)
    return render_template(template, form=form, min_password=MIN_PASSWORD), \
        422 if form.errors else 200


def choose_language(lang: str) -> None:
    """The language picked on a login page, kept in the session."""
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang


def home_url(user: User) -> str:
    """Where a user lands: staff in the back office, agents and subscribers in the extranet."""
    return url_for("backoffice.dashboard") if user.is_staff else url_for("portal.home")


def serve_tenant_space(bp: Blueprint, *, for_staff: bool, public: set[str],
                       any_user: set[str]) -> None:
    """Make `bp` (prefixed with /<tenant>) one of a tenant's two spaces: the URL's tenant is
    bound for each request; without a session only `public` endpoints open (the others lead
    to the space's login page); staff enter the back office (`for_staff`), agents and
    subscribers the extranet, and the others get a page that leads them to theirs (except
    on `any_user` endpoints, logging out for one)."""
    from app.services.tenants import get_tenant_by_slug

    @bp.url_value_preprocessor
    def pull_tenant(endpoint: str | None, values: dict[str, Any] | None) -> None:
        g.tenant_slug = (values or {}).pop("tenant", None)

    @bp.url_defaults
    def add_tenant(endpoint: str, values: dict[str, Any]) -> None:
        if "tenant" not in values and g.get("tenant_slug"):
            values["tenant"] = g.tenant_slug

    @bp.before_request
    def load_tenant_and_user() -> Any:
        tenant = get_tenant_by_slug(g.tenant_slug or "")
        if tenant is None:
            abort(404)
        bind_request_tenant(tenant)
        if request.endpoint in public:
            return None
        if not current_user.is_authenticated:
            return redirect(url_for(f"{bp.name}.login", next=request.full_path.rstrip("?")))
        if current_user.is_staff != for_staff and request.endpoint not in any_user:
            space = "backoffice" if for_staff else "portal"
            return render_template("wrong_space.html", space=space), 403
        return None
