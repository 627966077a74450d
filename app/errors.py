"""Domain errors raised by services and caught by every face."""
from __future__ import annotations


class ValidationError(Exception):
    """Input that cannot be applied: a message per field (localized, ready to show)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


class NotFound(Exception):
    """A record that does not exist or that the current user may not see."""
