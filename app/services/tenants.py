"""Tenants and their users: creation, passwords, roles, logins."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.errors import ValidationError
from app.extensions import db
from app.models import Account, Partner, Role, Tenant, User
from app.models.base import MAX_ID
from app.services.audit import record_event
from app.services.sessions import end_all_sessions
from app.tenancy import current_actor, tenant_context

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$")
RESERVED_SLUGS = {"api", "static", "healthz", "admin", "login", "logout", "portal", "subscribe"}
MIN_PASSWORD = 10
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so both answers take the same time;
    made at the first login, not at import: every CLI command would pay for it."""
    return _hasher.hash("relais-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user and user.password_hash else _dummy_hash(),
                              password) and user is not None and bool(user.password_hash)
    except (VerificationError, InvalidHashError):
        return False


def get_tenant_by_slug(slug: str) -> Tenant | None:
    return db.session.scalar(select(Tenant).where(Tenant.slug == slug, Tenant.is_active.is_(True)))


def create_tenant(slug: str, name: str) -> Tenant:
    slug = (slug or "").strip().lower()
    if not SLUG_PATTERN.match(slug) or slug in RESERVED_SLUGS:
        raise ValidationError({"slug": _("Use 3 to 50 lowercase letters, digits and dashes.")})
    if not (name or "").strip() or len(name) > 200:
        raise ValidationError({"name": _("Enter a name of at most 200 characters.")})
    if db.session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise ValidationError({"slug": _("This tenant already exists.")})
    tenant = Tenant(slug=slug, name=name.strip())
    db.session.add(tenant)
    db.session.flush()
    return tenant


def _clean_email(email: str) -> str:
    try:
        return validate_email((email or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationError({"email": _("Enter a valid e-mail address.")}) from exc


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError({"password": _("Use at least %(n)d characters.", n=MIN_PASSWORD)})
    if len(password) > 1024:
        raise ValidationError({"password": _("At most %(n)d characters.", n=1024)})


def find_user_by_email(email: str) -> User | None:
    wanted = (email or "").strip().lower()
    return db.session.scalar(select(User).where(func.lower(User.email) == wanted))


def _user_state(user: User) -> dict[str, Any]:
    return {"email": user.email, "full_name": user.full_name, "role": user.role,
            "partner_id": user.partner_id, "account_id": user.account_id,
            "locale": user.locale, "is_active": user.is_active}


def _check_role(data: dict[str, Any], errors: dict[str, str]) -> None:
    role = data.get("role")
    if role not in {r.value for r in Role}:
        errors["role"] = _("Choose a role.")
    elif role == Role.AGENT and not data.get("partner_id"):
        errors["partner_id"] = _("An agent belongs to a partner.")
    elif role == Role.SUBSCRIBER and not data.get("account_id"):
        errors["account_id"] = _("A subscriber belongs to a customer account.")
    for key, model in (("partner_id", Partner), ("account_id", Account)):
        if data.get(key) and not _exists(model, data[key]):
            errors[key] = _("Unknown record.")


def _exists(model: type, record_id: Any) -> bool:
    try:
        record_id = int(record_id)
    except (TypeError, ValueError):
        return False
    return 0 < record_id <= MAX_ID and db.session.scalar(
        select(model.id).where(model.id == record_id)) is not None


def create_user(data: dict[str, Any]) -> User:
    """Create a user of the current tenant: email, password, role, partner or account."""
    errors: dict[str, str] = {}
    try:
        email = _clean_email(data.get("email", ""))
        if find_user_by_email(email) is not None:
            errors["email"] = _("A user with this e-mail already exists.")
    except ValidationError as exc:
        errors.update(exc.errors)
        email = ""
    if data.get("password") is not None:
        try:
            _check_password(data["password"])
        except ValidationError as exc:
            errors.update(exc.errors)
    _check_role(data, errors)
    if errors:
        raise ValidationError(errors)
    role = data["role"]
    user = User(
        email=email, full_name=(data.get("full_name") or "").strip()[:200], role=role,
        partner_id=data.get("partner_id") if role == Role.AGENT else None,
        account_id=data.get("account_id") if role == Role.SUBSCRIBER else None,
        locale=data.get("locale") or None, is_active=data.get("is_active", True),
        password_hash=hash_password(data["password"]) if data.get("password") else None,
    )
    db.session.add(user)
    db.session.flush()
    record_event("create", "users", user.id, None, _user_state(user))
    return user


def update_user(user: User, data: dict[str, Any]) -> User:
    """Change a user's name, role, ties, language, activity or password."""
    before = _user_state(user)
    merged = {**before, **{k: v for k, v in data.items() if k != "password"}}
    errors: dict[str, str] = {}
    _check_role(merged, errors)
    if data.get("password"):
        try:
            _check_password(data["password"])
        except ValidationError as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    user.full_name = (merged.get("full_name") or "").strip()[:200]
    user.role = merged["role"]
    user.partner_id = merged.get("partner_id") if user.role == Role.AGENT else None
    user.account_id = merged.get("account_id") if user.role == Role.SUBSCRIBER else None
    user.locale = merged.get("locale") or None
    user.is_active = bool(merged.get("is_active", True))
    if data.get("password"):
        user.password_hash = hash_password(data["password"])
        end_all_sessions(user)  # whoever held a session under the old password loses it
    db.session.flush()
    after = _user_state(user)
    if data.get("password"):
        after["password"] = "changed"
    if before != after:
        record_event("update", "users", user.id, before, after)
    return user


def change_password(user: User, current: str, new: str) -> None:
    """A user's own new password, proved by his current one: hashed, audited (never the
    hash), and every session of his ended; the face opens one again for this browser."""
    if not verify_password(user, current):
        raise ValidationError({"current_password": _("Your current password is wrong.")})
    if new == current:
        raise ValidationError({"password": _("Choose a password other than the current one.")})
    if not new:  # update_user would keep the current one
        raise ValidationError({"password": _("Use at least %(n)d characters.", n=MIN_PASSWORD)})
    update_user(user, {"password": new})
    record_event("password_changed", "users", user.id, None, {"password": "changed"})


def set_locale(user: User, locale: str | None) -> None:
    if locale not in (None, "", "fr", "en"):
        raise ValidationError({"locale": _("Choose French or English.")})
    update_user(user, {"locale": locale or None})


def record_login(user: User | None, email: str, *, success: bool) -> None:
    """Audit a login attempt and stamp the user's last login."""
    if success and user is not None:
        user.last_login_at = datetime.now(UTC)
        record_event("login", "users", user.id)
    else:
        record_event("login_failed", "users", user.id if user else None,
                     None, {"email": (email or "")[:254]})
    db.session.flush()


def record_login_lockout(user: User | None, email: str, limit: str) -> None:
    """Audit the start of a login lockout: which account, from where, by which limit."""
    record_event("login_throttled", "users", user.id if user else None, None,
                 {"email": (email or "").strip()[:254], "ip": current_actor().ip,
                  "limit": limit})


def create_tenant_with_admin(slug: str, name: str, email: str, password: str) -> Tenant:
    tenant = create_tenant(slug, name)
    with tenant_context(tenant.id):
        create_user({"email": email, "password": password, "role": Role.ADMIN.value,
                     "full_name": "Administrateur"})
    return tenant
