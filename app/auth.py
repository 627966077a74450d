"""Sessions: who is logged in, bound with the tenant to the request's context."""
from __future__ import annotations

from flask import Flask, g, request
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db, login_manager
from app.models import Tenant, User
from app.tenancy import Actor, bind, bound_tenant_id, set_actor, unbind


def install_login_manager(app: Flask) -> None:
    login_manager.login_view = "backoffice.login"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_key: str) -> User | None:
        """A session's user, only for the tenant of the URL it is used on."""
        try:
            tenant_id, user_id = (int(part) for part in user_key.split(":"))
        except (ValueError, AttributeError):
            return None
        if bound_tenant_id() != tenant_id:
            return None
        user = db.session.scalar(select(User).where(User.id == user_id))
        return user if user is not None and user.is_active else None

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
    if user is not None:
        set_actor(Actor("user", user.id, user.email, user, request.remote_addr))
    else:
        set_actor(Actor("anonymous", None, "anonymous", None, request.remote_addr))
