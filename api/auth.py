"""Bearer tokens: the token fixes the tenant, the actor and (bound to a partner) what it sees.

A partner's token acts as that partner's agents do; any other token sees what an admin
sees. Scopes (read, write, import, export) gate each operation; a rate limit applies per token.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import current_app, g, request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from app.extensions import db, limiter
from app.i18n import remember_locales
from app.models import ApiToken, Role, Tenant
from app.services.tokens import find_token, note_use
from app.tenancy import Actor, bind, set_actor

REALM = "Relais API"


@dataclass(frozen=True)
class TokenPrincipal:
    """The user-like face of a token for app/policies.py."""

    token_id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    partner_id: int | None
    account_id: None = None
    is_active: bool = True
    is_authenticated: bool = True

    @property
    def role(self) -> str:
        return Role.AGENT.value if self.partner_id is not None else Role.ADMIN.value

    @property
    def is_staff(self) -> bool:
        return self.partner_id is None

    @property
    def is_admin(self) -> bool:
        return self.partner_id is None

    @property
    def label(self) -> str:
        return f"api:{self.name} ({self.prefix})"

    @classmethod
    def of(cls, token: ApiToken) -> TokenPrincipal:
        return cls(token.id, token.name, token.prefix, tuple(token.scopes or ()),
                   token.partner_id)


def current_principal() -> TokenPrincipal:
    return g.api_principal


def _challenge(error: str | None = None, scope: str | None = None) -> WWWAuthenticate:
    parameters = {"realm": REALM}
    if error:
        parameters["error"] = error
    if scope:
        parameters["scope"] = scope
    return WWWAuthenticate("bearer", parameters)


def _bearer_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def peek_token() -> tuple[ApiToken, Tenant] | None:
    """The request's active token and tenant, looked up once per request; binds nothing."""
    if "api_token_lookup" not in g:
        secret = _bearer_secret()
        g.api_token_lookup = find_token(secret) if secret else None
    return g.api_token_lookup


def authenticate() -> None:
    """before_request of every API blueprint: bind the token's tenant and actor, or 401."""
    found = peek_token()
    if found is None:
        secret = _bearer_secret()
        raise Unauthorized(_l("Send a valid API token: Authorization: Bearer <token>."),
                           www_authenticate=_challenge("invalid_token" if secret else None))
    token, tenant = found
    # app/auth.py's reset_context bound nothing at the start of the request and unbinds at its
    # teardown: this binding ends with it. The tenant first: a token expired by a commit since
    # its look-up is read again, which PostgreSQL's row-level security allows in its tenant only.
    bind(tenant.id)
    principal = TokenPrincipal.of(token)
    g.tenant, g.api_principal = tenant, principal
    remember_locales(tenant)
    set_actor(Actor("token", token.id, principal.label, principal, request.remote_addr))
    if note_use(token):
        db.session.commit()


def refuse_partner_tokens() -> None:
    """before_request of tenant-wide resources (imports): a partner's token may not use them."""
    if current_principal().partner_id is not None:
        raise Forbidden(_l("A partner's token cannot use this resource: it is tenant-wide."))


def _token_key() -> str:
    return f"api-token:{current_principal().token_id}"


def _rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


_per_token_limit = limiter.shared_limit(_rate_limit, scope="api", key_func=_token_key)


def requires(*scopes: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate an API operation: the token needs one of `scopes`; it counts against the
    token's rate limit. Put it above flask-smorest's decorators."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if not any(scope in principal.scopes for scope in scopes):
                raise InsufficientScope(scopes)
            return func(*args, **kwargs)

        # A new top-level dict is enough: only "scopes" is added (a deep copy would copy
        # every schema of the operation, a second of every start-up, CLI included).
        wrapper._apidoc = {**getattr(func, "_apidoc", {}),  # type: ignore[attr-defined]
                           "scopes": scopes}
        return _per_token_limit(wrapper)

    return decorator


class InsufficientScope(Forbidden):
    """403 naming the scopes the operation needs (RFC 6750 insufficient_scope)."""

    def __init__(self, scopes: tuple[str, ...]) -> None:
        super().__init__(_l("This token lacks the scope this operation needs: %(scopes)s.",
                            scopes=" or ".join(scopes)))
        self.scopes = scopes

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        challenge = _challenge("insufficient_scope", " ".join(self.scopes))
        return [*super().get_headers(*args, **kwargs), ("WWW-Authenticate", str(challenge))]
