"""Text messages (one-time signature codes): the gateway named by ESIGN_SMS_SENDER, or the
development console. Never called inside a request: a text is queued in the outbox with what
it announces (app/services/mail_outbox.py) and handed to the gateway once that is committed.

A gateway is a class `module:Class`, built with the app's config, with a `send(phone, text)`
method that raises on failure (the outbox retries). Without a gateway the console sender
writes the text to the log only in development (ESIGN_LOG_CODES): elsewhere SMS is not
offered at all, and a text that reaches the console anyway is refused, never logged — a log
must not give a one-time code away.
"""
from __future__ import annotations

import importlib
import logging
from typing import Any, Protocol

from flask import current_app

log = logging.getLogger(__name__)


class SmsError(Exception):
    """A text the gateway did not take."""


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> None: ...


class ConsoleSms:
    """The development SMS sender: the message goes to the log (ESIGN_LOG_CODES only)."""

    def __init__(self, config: Any) -> None:
        self.logs = bool(config.get("ESIGN_LOG_CODES"))

    def send(self, phone: str, text: str) -> None:
        if not self.logs:
            raise SmsError("no SMS gateway configured (ESIGN_SMS_SENDER)")
        log.warning("SMS to %s: %s", phone, text)


def available() -> bool:
    """Whether a code may go by SMS: a gateway is configured, or the development console."""
    return bool(current_app.config.get("ESIGN_SMS_SENDER")
                or current_app.config.get("ESIGN_LOG_CODES"))


def sender() -> SmsSender:
    """ESIGN_SMS_SENDER (`module:Class`, built with the app's config) or the console."""
    path = current_app.config.get("ESIGN_SMS_SENDER") or ""
    if not path:
        return ConsoleSms(current_app.config)
    module, _sep, name = path.partition(":")
    return getattr(importlib.import_module(module), name)(current_app.config)
