"""Outgoing mail through SMTP_URL: text and HTML alternatives, in the recipient's language.

SMTP_URL forms: smtp://[user:pass@]host[:port] (plain, `?starttls=1` to upgrade) and
smtps://[user:pass@]host[:port] (TLS from the first byte). Every failure, configuration
included, raises MailError with a message ready to show; never a 500.
"""
from __future__ import annotations

import logging
import queue
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask, current_app, g, has_request_context, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from app.tenancy import current_actor, current_tenant_id, tenant_context

log = logging.getLogger(__name__)
TRUE_WORDS = {"1", "true", "yes", "on"}


class MailError(Exception):
    """A mail that could not be sent; str() is a localized message for the person acting."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None


def smtp_settings(url: str) -> SmtpSettings:
    """Parse SMTP_URL; MailError when it is missing or malformed."""
    parts = urlsplit((url or "").strip())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname or port == -1:
        raise MailError(_("Outgoing mail is not configured (SMTP_URL)."))
    implicit_tls = parts.scheme == "smtps"
    starttls = parse_qs(parts.query).get("starttls", ["0"])[-1].lower() in TRUE_WORDS
    return SmtpSettings(
        host=parts.hostname, port=port or (465 if implicit_tls else 25),
        implicit_tls=implicit_tls, starttls=starttls and not implicit_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password or "") if parts.username else None)


def ensure_configured() -> None:
    """MailError now rather than after the work, when no mail could leave."""
    smtp_settings(current_app.config.get("SMTP_URL", ""))
    _sender_address()
    _public_url()


def _public_url() -> str:
    """PUBLIC_URL; without it, links would carry the request's Host header, which a client
    chooses: only a development or test server may do without."""
    base = current_app.config.get("PUBLIC_URL") or ""
    if not base and not (current_app.debug or current_app.testing):
        raise MailError(_("Set PUBLIC_URL, the site's address, so that links in e-mails "
                          "point to it."))
    return base


@contextmanager
def in_language(locale: str) -> Iterator[None]:
    """Messages, dates and templates in the recipient's language, whatever the request's."""
    # force_locale does nothing on an empty `g` (a CLI command, a job): make it non-empty.
    g.setdefault("mail_locale", locale)
    with force_locale(locale):
        yield


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link for a mail, on PUBLIC_URL when set (never a forged Host header)."""
    base = _public_url()
    if not base and not has_request_context():
        return url_for(endpoint, _external=True, **values)
    return (base or request.host_url.rstrip("/")) + url_for(endpoint, **values)


def _sender_address() -> Address:
    addr = parseaddr(current_app.config.get("MAIL_FROM") or "")[1]
    try:
        if "@" not in addr:
            raise ValueError(addr)
        return Address(addr_spec=addr)
    except (HeaderParseError, IndexError, ValueError) as exc:
        raise MailError(_("The sender address MAIL_FROM is not valid.")) from exc


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content: bytes
    media_type: str  # "application/pdf"


def compose(to: str, subject: str, template: str, *, sender_name: str = "",
            attachments: Sequence[MailAttachment] = (), **context: Any) -> EmailMessage:
    """A message from mail/<template>.txt and .html, rendered in the current language, with
    `attachments` after them."""
    sender = _sender_address()
    message = EmailMessage()
    # Names typed by people end up in headers: no line break may reach them.
    message["Subject"] = " ".join(subject.split())
    message["From"] = Address(display_name=" ".join(sender_name.split()),
                              username=sender.username, domain=sender.domain)
    message["To"] = to
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.domain)
    # Out-of-office replies and mailing-list software must not answer an automatic mail.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_template(f"mail/{template}.txt", subject=subject, **context))
    message.add_alternative(render_template(f"mail/{template}.html", subject=subject,
                                            **context), subtype="html")
    for attachment in attachments:
        maintype, _slash, subtype = attachment.media_type.partition("/")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                               filename=attachment.filename)
    return message


def _reason(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _("the mail server refused the address")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _("the mail server refused the credentials")
    if isinstance(exc, smtplib.SMTPServerDisconnected) \
            or not isinstance(exc, smtplib.SMTPException):
        return _("the mail server cannot be reached")
    return _("the mail server refused the message")


def _deliver(message: EmailMessage, settings: SmtpSettings, timeout: float) -> None:
    """Talk to the SMTP server (no Flask context needed: runs in threads too)."""
    context = ssl.create_default_context()
    if settings.implicit_tls:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout,
                                              context=context)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with smtp:
        if settings.starttls:
            smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message)


def send(message: EmailMessage) -> None:
    """Hand the message to the SMTP server of SMTP_URL; MailError on any failure."""
    settings = smtp_settings(current_app.config.get("SMTP_URL", ""))
    try:
        _deliver(message, settings, current_app.config.get("SMTP_TIMEOUT", 10))
    except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError and timeouts are OSError
        log.warning("mail to %s not sent: %r", message["To"], exc)
        raise MailError(_("The e-mail could not be sent: %(reason)s.",
                          reason=_reason(exc))) from exc


_later: queue.Queue[tuple[Flask, Callable[[], EmailMessage], float]] = queue.Queue()
_worker_lock = threading.Lock()
_worker: threading.Thread | None = None


def send_later(make_message: Callable[[], EmailMessage]) -> None:
    """Compose and send a message after the response, in the mail worker (one thread), when
    the answer's timing must not tell whether a mail left: the request only queues it.
    `make_message` runs in an app context, under the tenant and actor of the request."""
    global _worker
    app = current_app._get_current_object()
    tenant_id, actor = current_tenant_id(), current_actor()
    host_url = request.host_url if has_request_context() else None

    def compose_here() -> EmailMessage:
        # Links are built as the request would (PUBLIC_URL, or in development its host).
        with app.test_request_context(base_url=host_url), tenant_context(tenant_id, actor):
            return make_message()

    delay = app.config.get("MAIL_LATER_DELAY", 0.5)
    with _worker_lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_work, name="relais-mail", daemon=True)
            _worker.start()
    _later.put((app, compose_here, time.monotonic() + delay))


def _work() -> None:
    while True:
        app, make_message, not_before = _later.get()
        # Past the response: the request's timing owes nothing to this mail.
        time.sleep(max(0.0, not_before - time.monotonic()))
        try:
            with app.app_context():
                send(make_message())
        except MailError:
            pass  # send() logged it; the answer was the same either way
        except Exception:  # noqa: BLE001 - the worker outlives any one mail
            log.exception("mail not composed")
        finally:
            _later.task_done()
