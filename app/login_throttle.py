"""Throttling of logins, shared by the back office's and the extranet's login pages.

Three counters, kept in Flask-Limiter's storage (memory or Redis):

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
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask import current_app, request
from limits import RateLimitItem, parse_many
from limits.strategies import FixedWindowRateLimiter

from app.extensions import limiter
from app.tenancy import bound_tenant_id

# The limit's name (kept in the audit event) and the config key of its rules, in the order
# they are counted: the account's ceiling only from attempts the first two let through.
LIMITS = (("account_address", "LOGIN_RATE_LIMIT_ACCOUNT"),
          ("address", "LOGIN_RATE_LIMIT_IP"),
          ("account", "LOGIN_RATE_LIMIT_ACCOUNT_CEILING"))


@dataclass
class Attempt:
    """A login attempt as counted: the limit that refused it (None when let through) and the
    limits its count has just reached (its lockouts, should its password be wrong)."""

    refused_by: str | None = None
    reached: list[str] = field(default_factory=list)
    _counted: list[tuple[str, RateLimitItem, str]] = field(default_factory=list)

    def succeeded(self) -> None:
        """The password was right: forget the account-and-address failures, and take this
        attempt back from the other counters (the fixed windows Flask-Limiter uses by default;
        a refund landing in a new window gives one attempt more, at most)."""
        for name, item, key in self._counted:
            if name == "account_address":
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


def _rules(email: str) -> Iterator[tuple[str, RateLimitItem, str]]:
    account, address = _account(email), address_key(request.remote_addr)
    keys = {"account_address": f"login-failures/{account}/{address}",
            "account": f"login-failures/{account}",
            "address": f"login-failures/{address}"}
    for name, config_key in LIMITS:
        for item in parse_many(current_app.config[config_key]):
            yield name, item, keys[name]


def begin(email: str) -> Attempt:
    """Count a login attempt before its password is checked; see `Attempt`."""
    if not limiter.enabled:
        return Attempt()
    rules = list(_rules(email))
    for name, item, key in rules:  # already reached: refused without counting
        if not limiter.limiter.test(item, key):
            return Attempt(refused_by=name)
    attempt = Attempt()
    for name, item, key in rules:
        # The hit is atomic: of attempts racing to the limit, those past it are refused.
        if not limiter.limiter.hit(item, key):
            return Attempt(refused_by=name)
        attempt._counted.append((name, item, key))
        if limiter.limiter.get_window_stats(item, key).remaining == 0 \
                and name not in attempt.reached:
            attempt.reached.append(name)
    return attempt
