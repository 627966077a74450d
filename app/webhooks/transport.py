"""One signed webhook request: the signature (Standard Webhooks), the check of the target
address, the POST.

No Flask nor database here: the dispatcher's threads call `post` with plain values.

Outbound requests go to addresses that tenants' admins type, so they are checked against
server-side request forgery: http or https only, no credentials in the URL, and unless
WEBHOOK_ALLOW_PRIVATE is set, every address the host name resolves to must be a public one
(no loopback, private, link-local — cloud metadata —, shared or reserved range, nor an IPv6
address standing for such an IPv4 one: app/webhooks/addresses.py). The
connection is then made to the address that was checked, so a DNS answer that changes between
the check and the connection (DNS rebinding) cannot lead elsewhere. Redirects are not followed.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.webhooks.addresses import is_public

USER_AGENT = "Relais-Webhooks/1"
MAX_URL_LENGTH = 2000
RESPONSE_READ_LIMIT = 64 * 1024
RESPONSE_KEPT = 2000  # characters of the answer kept in the delivery log
SECRET_PREFIX = "whsec_"
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64  # the standard's advice for a secret's length


class UnsafeURL(ValueError):
    """A URL that webhooks may not call; str() says why (English, for logs), `kind` is one of
    "invalid", "scheme", "credentials", "private", "unresolved"."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


@dataclass(frozen=True)
class Outcome:
    """What one request gave: an HTTP status and body, or an error before any answer."""

    status_code: int | None
    body: str | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signing_key(secret: str) -> bytes:
    """The HMAC key of a secret: a Standard Webhooks secret (`whsec_` and the base64 of 24 to
    64 bytes) is those bytes. Secrets of endpoints registered before Relais followed the
    standard (URL-safe text, or typed by an admin) are their UTF-8 text, as they always were:
    a receiver gives the official libraries that text as a raw key, or renews the secret."""
    return standard_key(secret) or secret.encode("utf-8")


def standard_key(secret: str) -> bytes | None:
    """The bytes of a Standard Webhooks secret; None when `secret` is not one."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES else None


def signature(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header (Standard Webhooks): `v1,<base64 HMAC-SHA256>` of
    "<msg_id>.<timestamp>.<body>" per secret, separated by spaces when several sign."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(signing_key(secret), content,
                                          hashlib.sha256).digest()).decode("ascii")
        for secret in secrets)


def legacy_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The former X-Relais-Signature, still sent so that receivers written for it keep
    working: `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`, keyed with the
    secret's text. Deprecated (docs/webhooks.md)."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body,
                   hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers that sign a delivery: the standard's, then the former ones."""
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature([secret], msg_id, timestamp, body),
            "X-Relais-Delivery": msg_id, "X-Relais-Timestamp": str(timestamp),
            "X-Relais-Signature": legacy_signature(secret, timestamp, body)}


def parse_url(url: str) -> Target:
    """The parts of a webhook URL; UnsafeURL when it cannot be one."""
    url = (url or "").strip()
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL("the URL is too long")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("only http and https URLs are allowed", "scheme")
    if parts.username or parts.password:
        raise UnsafeURL("the URL may not hold credentials", "credentials")
    try:
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL("the port is not valid") from exc
    if not parts.hostname:
        raise UnsafeURL("the URL has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80),
                  path)


def resolve(target: Target, *, allow_private: bool) -> list[str]:
    """The addresses to connect to; UnsafeURL when one of them is not public."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(f"the host name does not resolve ({exc})", "unresolved") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise UnsafeURL(f"{target.host} is a private or local address ({address})",
                                "private")
    if not addresses:
        raise UnsafeURL("the host name does not resolve", "unresolved")
    return addresses


def check_url(url: str, *, allow_private: bool, resolve_host: bool = True) -> Target:
    """Parse the URL and, unless private addresses are allowed, check where it leads."""
    target = parse_url(url)
    if not allow_private:
        try:
            literal = ipaddress.ip_address(target.host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None and not is_public(str(literal)):
            raise UnsafeURL(f"{target.host} is a private or local address", "private")
        host = target.host.lower().rstrip(".")
        if literal is None and (host == "localhost" or host.endswith(".localhost")):
            raise UnsafeURL(f"{target.host} is a local address", "private")
        if resolve_host:
            resolve(target, allow_private=False)
    return target


def _connection(target: Target, address: str, timeout: float) -> http.client.HTTPConnection:
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = http.client.HTTPSConnection(target.host, target.port, timeout=timeout,
                                           context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    # Connect to the checked address; TLS still checks the certificate against the host name.
    def create_connection(addr, timeout=None, source_address=None):  # noqa: ANN001, ANN202
        return socket.create_connection((address, addr[1]), timeout, source_address)

    conn._create_connection = create_connection  # type: ignore[attr-defined]
    return conn


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float,
         allow_private: bool) -> Outcome:
    """POST the body once; any failure comes back as an Outcome, never an exception."""
    started = time.monotonic()

    def outcome(status: int | None, text: str | None, error: str | None) -> Outcome:
        return Outcome(status, text, error, int((time.monotonic() - started) * 1000))

    try:
        target = check_url(url, allow_private=allow_private, resolve_host=False)
        addresses = resolve(target, allow_private=allow_private)
    except UnsafeURL as exc:
        return outcome(None, None, f"refused: {exc}")
    last_error = "no address"
    for address in addresses:
        conn = _connection(target, address, timeout)
        try:
            conn.request("POST", target.path, body=body, headers={
                "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})
            response = conn.getresponse()
            raw = response.read(RESPONSE_READ_LIMIT)
            charset = response.headers.get_content_charset() or "utf-8"
            try:
                text = raw.decode(charset, errors="replace")
            except LookupError:
                text = raw.decode("utf-8", errors="replace")
            return outcome(response.status, text[:RESPONSE_KEPT], None)
        except (OSError, http.client.HTTPException) as exc:
            last_error = _describe(exc)
            if not isinstance(exc, ConnectionRefusedError | socket.gaierror):
                break  # the request may have reached the server: do not send it twice
        finally:
            conn.close()
    return outcome(None, None, last_error)


def _describe(exc: Exception) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout: no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]
