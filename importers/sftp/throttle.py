"""Failed SFTP logins, counted as the web's are (app/login_throttle.py): per login and client
address (LOGIN_RATE_LIMIT_ACCOUNT), per address (LOGIN_RATE_LIMIT_IP), per login from every
address (LOGIN_RATE_LIMIT_ACCOUNT_CEILING), in the rate limiter's storage (memory, or Redis
shared by every node). A login past a limit is refused before its password or key is
checked; a success clears its login-and-address counter. Only failures count: a nightly
job that logs in every few minutes never locks itself out."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from app.login_throttle import LIMITS, address_key

EXTENSION = "relais_sftp_throttle"


@dataclass
class Throttle:
    limiter: FixedWindowRateLimiter
    rules: list[tuple[str, list[RateLimitItem]]]

    def _keys(self, login: str, address: str) -> dict[str, str]:
        address = address_key(address)
        return {
            "account_address": f"sftp-login-failures/{login}/{address}",
            "address": f"sftp-login-failures/{address}",
            "account": f"sftp-login-failures/{login}",
        }

    def refused_by(self, login: str, address: str) -> str | None:
        """The limit that refuses this login now, if any."""
        keys = self._keys(login, address)
        for name, items in self.rules:
            if any(not self.limiter.test(item, keys[name]) for item in items):
                return name
        return None

    def failed(self, login: str, address: str) -> list[str]:
        """Count a failure; returns the limits it has just reached."""
        keys, reached = self._keys(login, address), []
        for name, items in self.rules:
            for item in items:
                self.limiter.hit(item, keys[name])
                if (
                    self.limiter.get_window_stats(item, keys[name]).remaining == 0
                    and name not in reached
                ):
                    reached.append(name)
        return reached

    def succeeded(self, login: str, address: str) -> None:
        key = self._keys(login, address)["account_address"]
        for name, items in self.rules:
            if name == "account_address":
                for item in items:
                    self.limiter.clear(item, key)


def throttle(app: Flask) -> Throttle:
    """This app's counters (one storage per process, as Flask-Limiter keeps)."""
    found = app.extensions.get(EXTENSION)
    if found is None:
        storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
        rules = [(name, list(parse_many(app.config[key]))) for name, key in LIMITS]
        found = app.extensions[EXTENSION] = Throttle(FixedWindowRateLimiter(storage), rules)
    return found
