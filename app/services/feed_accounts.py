"""Feed accounts' writes: create, change, enable or disable an SFTP login of the tenant; its
password hashed as users' are, its SSH public keys checked, its routes resolved to profiles.
They flush and audit; the caller commits."""

from __future__ import annotations

import fnmatch
import re
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import FeedAccount, ImportProfile
from app.queries.feeds import find_profile
from app.services import feed_storage
from app.services.audit import record_event
from app.services.tenants import MIN_PASSWORD, hash_password
from app.tenancy import current_actor

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{1,49}$")
MAX_KEYS = 20
MAX_ROUTES = 50
MAX_PATTERN = 200
MAX_KEY_LINE = 16_384
KEY_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
)
MIN_RSA_BITS = 2048
FIELDS = ("name", "password", "public_keys", "routes", "quota_bytes", "max_file_bytes", "is_active")


def login_name(slug: str, account: FeedAccount) -> str:
    """What the client types as its SFTP user: the tenant's slug, a dot, the account's name
    (slugs hold no dot)."""
    return f"{slug}.{account.name}"


def create_account(data: dict[str, Any]) -> FeedAccount:
    values = _clean({**data, "is_active": data.get("is_active", True)}, None)
    account = FeedAccount(
        name=values["name"],
        public_keys=values["public_keys"],
        routes=values["routes"],
        quota_bytes=values["quota_bytes"],
        max_file_bytes=values["max_file_bytes"],
        is_active=values["is_active"],
        created_by=current_actor().label[:254],
    )
    if values.get("password"):
        account.password_hash = hash_password(values["password"])
    db.session.add(account)
    db.session.flush()
    feed_storage.account_root(account.tenant_id, account.id)
    record_event("create", "feed_accounts", account.id, None, shown(account))
    return account


def update_account(account: FeedAccount, data: dict[str, Any]) -> FeedAccount:
    """Change what `data` names (a password left empty keeps the current one)."""
    values = _clean({**shown(account), **data}, account)
    before = shown(account)
    for name in ("name", "public_keys", "routes", "quota_bytes", "max_file_bytes", "is_active"):
        setattr(account, name, values[name])
    changed_password = bool(values.get("password"))
    if changed_password:
        account.password_hash = hash_password(values["password"])
    db.session.flush()
    after = shown(account)
    if after != before or changed_password:
        record_event(
            "update",
            "feed_accounts",
            account.id,
            before,
            {**after, **({"password": "changed"} if changed_password else {})},
        )
    return account


def set_active(account: FeedAccount, active: bool) -> FeedAccount:
    if account.is_active != active:
        account.is_active = active
        db.session.flush()
        record_event(
            "enable" if active else "disable",
            "feed_accounts",
            account.id,
            None,
            {"name": account.name},
        )
    return account


def note_login(account: FeedAccount) -> None:
    account.last_login_at = datetime.now(UTC)
    db.session.flush()


def shown(account: FeedAccount) -> dict[str, Any]:
    """The account as pages, the API and audit events show it (never its password)."""
    return {
        "name": account.name,
        "public_keys": list(account.public_keys or ()),
        "routes": [dict(r) for r in account.routes or ()],
        "quota_bytes": account.quota_bytes,
        "max_file_bytes": account.max_file_bytes,
        "is_active": account.is_active,
        "has_password": bool(account.password_hash),
    }


def quota_bytes(account: FeedAccount) -> int:
    return account.quota_bytes or current_app.config["FEED_QUOTA_BYTES"]


def max_file_bytes(account: FeedAccount) -> int:
    return account.max_file_bytes or current_app.config["IMPORT_MAX_BYTES"]


# -- checking what is given ------------------------------------------------------------------


def _clean(data: dict[str, Any], account: FeedAccount | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"is_active": bool(data.get("is_active", True))}
    name = str(data.get("name") or "").strip().lower()
    if not NAME_PATTERN.match(name):
        errors["name"] = _(
            "Use 2 to 50 lowercase letters, digits, dashes and underscores, "
            "starting with a letter or a digit."
        )
    elif (
        db.session.scalar(
            select(FeedAccount.id).where(
                FeedAccount.name == name,
                FeedAccount.id != (account.id if account is not None else -1),
            )
        )
        is not None
    ):
        errors["name"] = _("A feed account with this name already exists.")
    values["name"] = name
    password = data.get("password") or ""
    if password and not MIN_PASSWORD <= len(password) <= 1024:
        errors["password"] = _("Use %(min)d to %(max)d characters.", min=MIN_PASSWORD, max=1024)
    values["password"] = password
    for field, clean in (("public_keys", clean_public_keys), ("routes", clean_routes)):
        try:
            values[field] = clean(data.get(field))
        except ValidationError as exc:
            errors.update(exc.errors)
    for field in ("quota_bytes", "max_file_bytes"):
        raw = data.get(field)
        if raw in (None, ""):
            values[field] = None
        elif isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw < 2**62:
            values[field] = raw
        else:
            errors[field] = _("Enter a positive number of bytes, or nothing for the default.")
    has_password = bool(password) or (account is not None and account.password_hash)
    if not errors and not has_password and not values["public_keys"]:
        errors["password"] = _("Give the account a password or an SSH public key.")
    if errors:
        raise ValidationError(errors)
    return values


def clean_public_keys(raw: Any) -> list[str]:
    """OpenSSH public key lines (a list, or a text of one a line), each checked: its type,
    its key, an RSA key of at least 2048 bits."""
    lines = raw.splitlines() if isinstance(raw, str) else list(raw or [])
    keys: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not isinstance(line, str):
            raise ValidationError({"public_keys": _("Give each key as a line of text.")})
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key = parse_public_key(line)
        if key is None:
            raise ValidationError(
                {
                    "public_keys": _(
                        "Key %(n)d is not an SSH public key (expected a line such as "
                        "“ssh-ed25519 AAAA… name”, as in a .pub file).",
                        n=number,
                    )
                }
            )
        if key.get_name() == "ssh-rsa" and key.get_bits() < MIN_RSA_BITS:
            raise ValidationError(
                {
                    "public_keys": _(
                        "Key %(n)d is an RSA key of %(bits)d bits: use at least 2048 bits, or an "
                        "Ed25519 key.",
                        n=number,
                        bits=key.get_bits(),
                    )
                }
            )
        parts = line.split(None, 2)
        comment = parts[2][:200] if len(parts) > 2 else ""
        keys.append(f"{key.get_name()} {key.get_base64()} {comment}".strip())
    if len(keys) > MAX_KEYS:
        raise ValidationError({"public_keys": _("At most %(n)d keys.", n=MAX_KEYS)})
    return list(dict.fromkeys(keys))


def parse_public_key(line: str) -> Any:
    """The paramiko key of an OpenSSH public key line, or None."""
    import base64
    import binascii

    from paramiko import PKey
    from paramiko.ssh_exception import SSHException

    parts = line.strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in KEY_TYPES or len(line) > MAX_KEY_LINE:
        return None
    try:
        blob = base64.b64decode(parts[1], validate=True)
        key = PKey.from_type_string(parts[0], blob)
    except (
        binascii.Error,
        SSHException,
        ValueError,
        TypeError,
        IndexError,
        AttributeError,
        UnicodeDecodeError,
    ):
        return None
    return key if key.get_name() == parts[0] else None


def fingerprint(line: str) -> str:
    """SHA256:… as `ssh-keygen -l` prints it; empty for an unreadable line."""
    key = parse_public_key(line)
    return key.fingerprint if key is not None else ""


def clean_routes(raw: Any) -> list[dict[str, Any]]:
    """Routes as [{"pattern", "profile_id"}]: from a list of {"pattern", "profile"} (a name or
    an id) or a text of `PATTERN=PROFILE` lines."""
    if isinstance(raw, str):
        items: list[Any] = []
        for line in raw.splitlines():
            if line.strip():
                pattern, sep, profile = line.partition("=")
                items.append({"pattern": pattern, "profile": profile if sep else ""})
    else:
        items = list(raw or [])
    if len(items) > MAX_ROUTES:
        raise ValidationError({"routes": _("At most %(n)d routes.", n=MAX_ROUTES)})
    routes = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ValidationError({"routes": _("Route %(n)d: write it PATTERN=PROFILE.", n=number)})
        pattern = clean_pattern(str(item.get("pattern") or ""))
        if pattern is None:
            raise ValidationError(
                {
                    "routes": _(
                        "Route %(n)d: the pattern must be a path inside the account's folder, such "
                        "as clients/*.csv or *.zip (no .., not in outbox/).",
                        n=number,
                    )
                }
            )
        wanted = item.get("profile", item.get("profile_id"))
        profile = find_profile(wanted) if wanted not in (None, "") else None
        if profile is None:
            raise ValidationError(
                {
                    "routes": _(
                        "Route %(n)d: no import profile is named “%(profile)s”.",
                        n=number,
                        profile=str(wanted or "")[:100],
                    )
                }
            )
        routes.append({"pattern": pattern, "profile_id": profile.id})
    return routes


def clean_pattern(pattern: str) -> str | None:
    pattern = pattern.strip().strip("/")
    parts = pattern.split("/")
    if (
        not pattern
        or len(pattern) > MAX_PATTERN
        or "\\" in pattern
        or "\x00" in pattern
        or any(part in ("", ".", "..") for part in parts)
        or parts[0] == feed_storage.OUTBOX
    ):
        return None
    return pattern


def route_for(account: FeedAccount, relative: str) -> ImportProfile | None | bool:
    """The profile of the first route whose pattern matches `relative` (a path inside the
    account's folder); False when no route matches, None when the route's profile is gone."""
    for route in account.routes or ():
        if matches(route.get("pattern", ""), relative):
            return db.session.scalar(
                select(ImportProfile).where(ImportProfile.id == route.get("profile_id"))
            )
    return False


def matches(pattern: str, relative: str) -> bool:
    """A pattern without a slash matches the file's name in any folder (`*.zip`); with one,
    the whole path, `*` within a folder and `**` across folders (`clients/*.csv`,
    `exports/**/*.csv`). Letters compare whatever their case (Windows senders)."""
    pattern, relative = pattern.lower(), relative.lower().strip("/")
    if "/" not in pattern:
        return fnmatch.fnmatchcase(relative.rsplit("/", 1)[-1], pattern)
    return _match_parts(pattern.split("/"), relative.split("/"))


def _match_parts(pattern: list[str], parts: list[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match_parts(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return (
        bool(parts)
        and fnmatch.fnmatchcase(parts[0], pattern[0])
        and _match_parts(pattern[1:], parts[1:])
    )


def profile_names(account: FeedAccount) -> dict[int, str]:
    """The names of the profiles the account's routes name, by id."""
    ids = [r.get("profile_id") for r in account.routes or ()]
    if not ids:
        return {}
    return dict(
        db.session.execute(
            select(ImportProfile.id, ImportProfile.name).where(ImportProfile.id.in_(ids))
        )
        .tuples()
        .all()
    )
