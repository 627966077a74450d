"""Domain errors raised by services and caught by every face."""
from __future__ import annotations


class ValidationError(Exception):
    """Input that cannot be applied: a message per field (localized, ready to show)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


class NotFound(Exception):
    """A record that does not exist or that the current user may not see."""


class NotAllowed(Exception):
    """A write app/policies.py refuses to the acting user, on a record he may see: the
    message says why (localized, ready to show)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
