"""Throttling of logins, shared by the back office's and the extranet's login pages.

An attempt from a browser the account was opened in before (a "device cookie", as OWASP
describes them: signed, per account, set at each successful login) is counted on one counter
of its own, per account and browser (`LOGIN_RATE_LIMIT_DEVICE`): the owner's own browser is
never locked out by someone else's guesses, whatever their address or number. Any other
attempt is counted on three counters, kept in Flask-Limiter's storage (memory or Redis):

- per account and client address (`LOGIN_RATE_LIMIT_ACCOUNT`): slows a guesser down without
  locking the owner out, who logs in from his own address, where he has not failed;
- per address, whatever the account (`LOGIN_RATE_LIMIT_IP`): bounds password spraying;
- per account, whatever the address (`LOGIN_RATE_LIMIT_ACCOUNT_CEILING`, higher): bounds a guess
  spread over many addresses; past it the owner waits too, the price of that bound. Only the
  attempts the two others let through count in it, so one address adds at most its own
  account-and-address limit (20 an hour) and cannot lock the owner out alone.

An attempt is counted, atomically, before its password is checked: requests sent at once
cannot all pass the check, only as many as the limits have left. A success then clears its
account-and-address counter (it proves the password) and is taken back from the two others,
so that only failures bound them. A throttled attempt is refused before its password is
checked and, unless it raced another to the limit, counted nowhere; the failure that reaches
a limit is audited once, as the start of a lockout.

An account is the tenant, the e-mail typed (known or not, so the answers tell nothing about
which e-mails exist) and a trace of the user's password: a new password (a reset, an admin's
change) starts the account's counters afresh. An IPv6 address counts by its /64, the block a
single client usually holds whole (and could move around in).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask import Response, current_app, g, request
from itsdangerous import BadData, URLSafeSerializer
from limits import RateLimitItem, parse_many
from limits.strategies import FixedWindowRateLimiter

from app.extensions import limiter
from app.tenancy import bound_tenant_id

# The limit's name (kept in the audit event) and the config key of its rules, in the order
# they are counted: the account's ceiling only from attempts the first two let through.
LIMITS = (("account_address", "LOGIN_RATE_LIMIT_ACCOUNT"),
          ("address", "LOGIN_RATE_LIMIT_IP"),
          ("account", "LOGIN_RATE_LIMIT_ACCOUNT_CEILING"))
DEVICE_LIMIT = ("device", "LOGIN_RATE_LIMIT_DEVICE")
# The counters a success clears (it proves the password from that client).
CLIENT_LIMITS = {"account_address", "device"}

DEVICE_COOKIE = "login_device"
DEVICE_ACCOUNTS = 5  # accounts a browser is known for, the latest opened


@dataclass
class Attempt:
    """A login attempt as counted: its account, the limit that refused it (None when let
    through) and in how many seconds to try again, and the limits its count has just reached
    (its lockouts, should its password be wrong)."""

    account: str = ""
    refused_by: str | None = None
    retry_after: int = 0
    reached: list[str] = field(default_factory=list)
    _counted: list[tuple[str, RateLimitItem, str]] = field(default_factory=list)

    def succeeded(self) -> None:
        """The password was right: forget the failures of this client (address or browser),
        and take this attempt back from the other counters (the fixed windows Flask-Limiter
        uses by default; a refund landing in a new window gives one attempt more, at most)."""
        for name, item, key in self._counted:
            if name in CLIENT_LIMITS:
                limiter.limiter.clear(item, key)
            elif isinstance(limiter.limiter, FixedWindowRateLimiter):
                limiter.limiter.storage.incr(item.key_for(key), item.get_expiry(), amount=-1)


def address_key(address: str | None) -> str:
    """The client address as counted: an IPv6 one by its /64, an IPv4 one (mapped or not) as
    itself."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "-"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def normalize(email: str) -> str:
    return (email or "").strip().lower()[:254]


def _account(email: str) -> str:
    from app.services.tenants import find_user_by_email

    user = find_user_by_email(email)
    trace = user.password_trace if user is not None else ""
    return hashlib.sha256(f"{bound_tenant_id()}:{normalize(email)}:{trace}".encode()
                          ).hexdigest()[:32]


def _rules(account: str) -> Iterator[tuple[str, RateLimitItem, str]]:
    device = _known_device(account)
    if device is not None:
        name, config_key = DEVICE_LIMIT
        for item in parse_many(current_app.config[config_key]):
            yield name, item, f"login-failures/{account}/device/{device}"
        return
    address = address_key(request.remote_addr)
    keys = {"account_address": f"login-failures/{account}/{address}",
            "account": f"login-failures/{account}",
            "address": f"login-failures/{address}"}
    for name, config_key in LIMITS:
        for item in parse_many(current_app.config[config_key]):
            yield name, item, keys[name]


def _seconds_to_wait(rules: list[tuple[str, RateLimitItem, str]]) -> int:
    """Until every spent limit among `rules` has a try again."""
    now, wait = time.time(), 1.0
    for _name, item, key in rules:
        stats = limiter.limiter.get_window_stats(item, key)
        if stats.remaining == 0:
            wait = max(wait, stats.reset_time - now)
    return math.ceil(wait)


def begin(email: str) -> Attempt:
    """Count a login attempt before its password is checked; see `Attempt`."""
    account = _account(email)
    if not limiter.enabled:
        return Attempt(account)
    rules = list(_rules(account))
    for name, item, key in rules:  # already reached: refused without counting
        if not limiter.limiter.test(item, key):
            return Attempt(account, refused_by=name, retry_after=_seconds_to_wait(rules))
    attempt = Attempt(account)
    for name, item, key in rules:
        # The hit is atomic: of attempts racing to the limit, those past it are refused.
        if not limiter.limiter.hit(item, key):
            return Attempt(account, refused_by=name, retry_after=_seconds_to_wait(rules))
        attempt._counted.append((name, item, key))
        if limiter.limiter.get_window_stats(item, key).remaining == 0 \
                and name not in attempt.reached:
            attempt.reached.append(name)
    return attempt


# -- device cookies ------------------------------------------------------------------------------

def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="login-device")


def _known_accounts() -> list[list]:
    """The cookie's [account, device id, issued at] entries, unexpired; none when forged."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        entries = _device_serializer().loads(raw)
    except BadData:
        return []
    if not isinstance(entries, list):
        return []
    oldest = time.time() - current_app.config["LOGIN_DEVICE_MAX_AGE"]
    return [entry for entry in entries
            if isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
            and isinstance(entry[1], str) and isinstance(entry[2], int) and entry[2] > oldest]


def _known_device(account: str) -> str | None:
    """The id this browser holds for `account`, when it was opened in it before."""
    for known, device, _issued in _known_accounts():
        if hmac.compare_digest(known, account):
            return device
    return None


def remember_device(response: Response, attempt: Attempt) -> None:
    """After a successful login: this browser is known for the account from now on (a new
    id, so that failures counted on the old one are left behind)."""
    entries = [[attempt.account, secrets.token_urlsafe(16), int(time.time())]]
    entries += [e for e in _known_accounts() if e[0] != attempt.account]
    max_age = current_app.config["LOGIN_DEVICE_MAX_AGE"]
    response.set_cookie(
        DEVICE_COOKIE, _device_serializer().dumps(entries[:DEVICE_ACCOUNTS]), max_age=max_age,
        path=f"{request.script_root}/{g.tenant_slug}/", httponly=True, samesite="Lax",
        secure=bool(current_app.config["SESSION_COOKIE_SECURE"] or request.is_secure))
