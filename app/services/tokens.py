"""API tokens: create (the secret is shown once and stored hashed), revoke, authenticate."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import ApiToken, Partner, Tenant
from app.models.base import MAX_ID
from app.models.token import TOKEN_SCOPES
from app.services.audit import record_event
from app.tenancy import all_tenants_unsafe, current_actor

SECRET_PREFIX = "rls_"
PREFIX_LENGTH = 12  # "rls_" and 8 random characters: enough for a person to tell tokens apart
MAX_SECRET_LENGTH = 200
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    """SHA-256 of a token's secret: secrets are 256 random bits, so a fast hash is right."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _clean_scopes(scopes: Iterable[str] | str) -> list[str]:
    if isinstance(scopes, str):
        scopes = scopes.split(",")
    wanted = {s.strip().lower() for s in scopes if s and s.strip()}
    if not wanted or not wanted <= set(TOKEN_SCOPES):
        raise ValidationError({"scopes": _("Choose scopes among %(scopes)s.",
                                           scopes=", ".join(TOKEN_SCOPES))})
    return [s for s in TOKEN_SCOPES if s in wanted]


def create_token(name: str, scopes: Iterable[str] | str,
                 partner_id: int | None = None) -> tuple[ApiToken, str]:
    """A new token of the current tenant and its secret, which is never stored nor shown again."""
    name = (name or "").strip()
    errors = {}
    if not name or len(name) > 100:
        errors["name"] = _("Enter a name of at most 100 characters.")
    try:
        clean_scopes = _clean_scopes(scopes)
    except ValidationError as exc:
        errors.update(exc.errors)
    if partner_id is not None and (
            not 0 < partner_id <= MAX_ID
            or db.session.scalar(select(Partner.id).where(Partner.id == partner_id)) is None):
        errors["partner"] = _("Unknown partner.")
    if errors:
        raise ValidationError(errors)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, token_hash=hash_secret(secret), prefix=secret[:PREFIX_LENGTH],
                     scopes=clean_scopes, partner_id=partner_id,
                     created_by=current_actor().label[:254])
    db.session.add(token)
    db.session.flush()
    record_event("create", "api_tokens", token.id, None,
                 {"name": name, "prefix": token.prefix, "scopes": clean_scopes,
                  "partner_id": partner_id})
    return token, secret


def revoke_token(token: ApiToken) -> ApiToken:
    """Revoke a token for good; requests with it answer 401 from now on."""
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        db.session.flush()
        record_event("revoke", "api_tokens", token.id, None,
                     {"name": token.name, "prefix": token.prefix})
    return token


def find_token(secret: str) -> tuple[ApiToken, Tenant] | None:
    """The active token with this secret and its active tenant, or None.

    The token names the tenant, so it is looked up before any tenant is bound: the one
    tenant-wide read of a request, by the secret's hash.
    """
    if not secret.startswith(SECRET_PREFIX) or len(secret) > MAX_SECRET_LENGTH:
        return None
    digest = hash_secret(secret)
    with all_tenants_unsafe("api token lookup"):
        found = db.session.execute(
            select(ApiToken, Tenant).join(Tenant, Tenant.id == ApiToken.tenant_id)
            .where(ApiToken.token_hash == digest)).first()
    if found is None:
        return None
    token, tenant = found
    if not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None or not tenant.is_active:
        return None
    return token, tenant


def note_use(token: ApiToken, now: datetime | None = None) -> bool:
    """Record that the token was used; at most once a minute, to spare writes."""
    now = now or datetime.now(UTC)
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_PRECISION:
        return False
    token.last_used_at = now
    db.session.flush()
    return True
