"""Throttling of failed logins, shared by the back office's and the extranet's login pages.

Only failures count, in three counters kept in Flask-Limiter's storage (memory or Redis):

- per account and client address (`LOGIN_RATE_LIMIT_ACCOUNT`): slows a guesser down without
  locking the owner out, who logs in from his own address, where he has not failed;
- per account, whatever the address (`LOGIN_RATE_LIMIT_ACCOUNT_CEILING`, higher): bounds a guess
  spread over many addresses; past it the owner waits too, the price of that bound;
- per address, whatever the account (`LOGIN_RATE_LIMIT_IP`): bounds password spraying.

An account is the tenant and the e-mail typed (known or not, so the answers tell nothing about
which e-mails exist). A throttled attempt is refused before its password is checked and is not
counted; the failure that reaches a limit is audited once, as the start of a lockout.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator

from flask import current_app, request
from limits import RateLimitItem, parse_many

from app.extensions import limiter
from app.tenancy import bound_tenant_id

# The limit's name (kept in the audit event) and the config key of its rules.
LIMITS = (("account_address", "LOGIN_RATE_LIMIT_ACCOUNT"),
          ("account", "LOGIN_RATE_LIMIT_ACCOUNT_CEILING"),
          ("address", "LOGIN_RATE_LIMIT_IP"))


def _key(name: str, email: str) -> str:
    account = hashlib.sha256(f"{bound_tenant_id()}:{normalize(email)}".encode()).hexdigest()[:32]
    address = request.remote_addr or "-"
    return {"account_address": f"login-failures/{account}/{address}",
            "account": f"login-failures/{account}",
            "address": f"login-failures/{address}"}[name]


def _rules(name: str, config_key: str, email: str) -> Iterator[tuple[RateLimitItem, str]]:
    key = _key(name, email)
    for item in parse_many(current_app.config[config_key]):
        yield item, key


def normalize(email: str) -> str:
    return (email or "").strip().lower()[:254]


def throttled_by(email: str) -> str | None:
    """The name of the first limit this account and address have reached, None when free."""
    if not limiter.enabled:
        return None
    for name, config_key in LIMITS:
        if any(not limiter.limiter.test(item, key) for item, key in _rules(name, config_key,
                                                                            email)):
            return name
    return None


def count_failure(email: str) -> list[str]:
    """Count a failed login; the names of the limits it has just reached."""
    if not limiter.enabled:
        return []
    reached = []
    for name, config_key in LIMITS:
        for item, key in _rules(name, config_key, email):
            limiter.limiter.hit(item, key)
            if not limiter.limiter.test(item, key) and name not in reached:
                reached.append(name)
    return reached
