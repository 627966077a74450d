"""The SFTP listener and its logins.

One process serves every tenant: the login `<tenant slug>.<account name>` names both. A
connection gets a thread (paramiko's transport runs its own); nothing of a session is kept
outside it but in the database and FEED_STORAGE_DIR, so several nodes can serve behind one
address. Only the `sftp` subsystem is offered: no shell, no command, no forwarding.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import paramiko
from flask import Flask
from sqlalchemy import select as select_rows

from app.extensions import db
from app.models import FeedAccount, Tenant
from app.services.audit import record_event
from app.services.feed_accounts import login_name, note_login, parse_public_key
from app.services.feed_storage import account_root
from app.services.tenants import verify_password
from app.tenancy import Actor, tenant_context
from importers.sftp.host_key import load_or_create
from importers.sftp.throttle import throttle

log = logging.getLogger(__name__)
HANDSHAKE_SECONDS = 30
# The channel's receive window: paramiko's 2 MB default keeps a fast sender waiting for
# window adjustments; 8 MB lets it stream (bench/sftp.py measures it).
WINDOW_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Sender:
    """The feed account a connection logged in as."""

    tenant_id: int
    account_id: int
    login: str
    address: str
    root: Path
    quota_bytes: int
    max_file_bytes: int
    locale: str = "fr"  # the tenant's: the messages its senders read


class FeedLogin(paramiko.ServerInterface):
    """One connection's authentication: password or public key of an active account of an
    active tenant, throttled; each failure and each lockout audited in the tenant."""

    def __init__(self, app: Flask, address: str) -> None:
        self.app = app
        self.address = address
        self.sender: Sender | None = None
        self._key_failure_counted = False

    def get_allowed_auths(self, username: str) -> str:
        return "publickey,password"

    def check_auth_password(self, username: str, password: str) -> int:
        return self._check(username, "password", lambda account: verify_password(account, password))

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        def known(account: FeedAccount | None) -> bool:
            offered = (key.get_name(), key.get_base64())
            return account is not None and any(
                (parsed.get_name(), parsed.get_base64()) == offered
                for parsed in map(parse_public_key, account.public_keys or ())
                if parsed
            )

        return self._check(username, "publickey", known)

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session" and self.sender is not None:
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def _check(self, username: str, method: str, accepts) -> int:
        username = (username or "").strip().lower()[:120]
        slug, _dot, name = username.partition(".")
        limits = throttle(self.app)
        if limits.refused_by(username, self.address) is not None:
            log.warning("sftp login %r from %s refused: throttled", username, self.address)
            return paramiko.AUTH_FAILED
        with self.app.app_context():
            try:
                return self._check_account(username, slug, name, method, accepts, limits)
            finally:
                db.session.remove()

    def _check_account(
        self, username: str, slug: str, name: str, method: str, accepts, limits
    ) -> int:
        tenant = (
            db.session.scalar(
                select_rows(Tenant).where(Tenant.slug == slug, Tenant.is_active.is_(True))
            )
            if slug
            else None
        )
        if tenant is None:
            if method == "password":
                verify_password(None, "")  # the same time as for a known login
            limits.failed(username, self.address)
            log.warning("sftp login %r from %s: unknown tenant", username, self.address)
            return paramiko.AUTH_FAILED
        actor = Actor("sftp", None, f"sftp:{username}"[:254], None, self.address)
        with tenant_context(tenant.id, actor):
            account = db.session.scalar(select_rows(FeedAccount).where(FeedAccount.name == name))
            usable = account if account is not None and account.is_active else None
            if accepts(usable):
                limits.succeeded(username, self.address)
                self.sender = self._sender(tenant, usable)
                note_login(usable)
                record_event(
                    "login",
                    "feed_accounts",
                    usable.id,
                    None,
                    {"method": method, "address": self.address},
                )
                db.session.commit()
                return paramiko.AUTH_SUCCESSFUL
            # A client offers each of its keys in turn: one failure per connection for keys.
            if method == "publickey":
                if self._key_failure_counted:
                    return paramiko.AUTH_FAILED
                self._key_failure_counted = True
            reached = limits.failed(username, self.address)
            record_id = account.id if account is not None else None
            record_event(
                "login_failed",
                "feed_accounts",
                record_id,
                None,
                {
                    "login": username[:100],
                    "method": method,
                    "address": self.address,
                    **({"disabled": True} if account is not None and not account.is_active else {}),
                },
            )
            if reached:
                record_event(
                    "login_throttled",
                    "feed_accounts",
                    record_id,
                    None,
                    {"login": username[:100], "limits": reached, "address": self.address},
                )
            db.session.commit()
            return paramiko.AUTH_FAILED

    def _sender(self, tenant: Tenant, account: FeedAccount) -> Sender:
        from app.services.feed_accounts import max_file_bytes, quota_bytes

        return Sender(
            tenant.id,
            account.id,
            login_name(tenant.slug, account),
            self.address,
            account_root(tenant.id, account.id).resolve(),
            quota_bytes(account),
            max_file_bytes(account),
            tenant.default_locale or "fr",
        )


class SFTPService:
    """The listener: accepts connections until `stop()`, each served on its own thread."""

    def __init__(self, app: Flask, host: str | None = None, port: int | None = None) -> None:
        self.app = app
        self.host = host or app.config["SFTP_HOST"]
        self.port = app.config["SFTP_PORT"] if port is None else port
        self.host_key = load_or_create(Path(app.config["SFTP_HOST_KEY"]))
        self.max_connections = int(app.config["SFTP_MAX_CONNECTIONS"])
        self.stopping = threading.Event()
        self.transports: set[paramiko.Transport] = set()
        self._lock = threading.Lock()
        self.listener: socket.socket | None = None

    def bind(self) -> int:
        """Listen; returns the port (a free one when asked for 0)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        self.listener = listener
        self.port = listener.getsockname()[1]
        return self.port

    def serve_forever(self) -> None:
        from importers.sftp.arrivals import warm_up

        if self.listener is None:
            self.bind()
        assert self.listener is not None
        try:  # the first file's run then starts as fast as the next ones
            warm_up(self.app)
        except Exception:  # noqa: BLE001 - a database down at start: each arrival says it
            log.exception("sftp: warming up before the first connection failed")
        while not self.stopping.is_set():
            ready, _w, _x = select.select([self.listener], [], [], 0.5)
            if not ready:
                continue
            try:
                conn, address = self.listener.accept()
            except OSError:
                continue
            with self._lock:
                full = len(self.transports) >= self.max_connections
            if full:
                log.warning(
                    "sftp: %d connections already, refusing %s", self.max_connections, address[0]
                )
                conn.close()
                continue
            threading.Thread(
                target=self._serve, args=(conn, address[0]), daemon=True, name=f"sftp-{address[0]}"
            ).start()

    def _serve(self, conn: socket.socket, address: str) -> None:
        from importers.sftp.folder import FeedFolder, FeedSFTPServer

        transport = paramiko.Transport(conn, default_window_size=WINDOW_BYTES)
        transport.banner_timeout = HANDSHAKE_SECONDS
        transport.auth_timeout = HANDSHAKE_SECONDS
        transport.add_server_key(self.host_key)
        transport.set_subsystem_handler("sftp", FeedSFTPServer, FeedFolder)
        with self._lock:
            self.transports.add(transport)
        try:
            transport.start_server(server=FeedLogin(self.app, address))
            while transport.is_active() and not self.stopping.is_set():
                transport.join(1.0)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            log.info("sftp connection from %s ended: %s", address, exc)
        finally:
            transport.close()
            with self._lock:
                self.transports.discard(transport)

    def stop(self) -> None:
        self.stopping.set()
        if self.listener is not None:
            self.listener.close()
        with self._lock:
            transports = list(self.transports)
        for transport in transports:
            transport.close()
