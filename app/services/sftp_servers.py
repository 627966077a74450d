"""A tenant's own SFTP servers (exports send to them, pulls fetch from them): set up with
their host key pinned, their password or private key sealed (app/secret_box.py)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import Export, FeedPull, SftpServer
from app.secret_box import SecretUnreadable, seal, unseal
from app.services.audit import record_event
from importers.sftp_client import (
    Endpoint,
    SftpFailure,
    key_line,
    parse_host_key,
    parse_private_key,
    scan_host_key,
)

SHOWN = ("name", "host", "port", "username", "secret_kind")


def create_sftp_server(data: dict[str, Any]) -> SftpServer:
    """Set up a server; without a host key given, the key it presents now is pinned."""
    name = str(data.get("name") or "").strip()[:100]
    host = str(data.get("host") or "").strip()
    username = str(data.get("username") or "").strip()
    errors = {}
    if not name:
        errors["name"] = _("Give the server a name.")
    elif db.session.scalar(select(SftpServer.id).where(SftpServer.name == name)):
        errors["name"] = _("A server with this name already exists.")
    if not host or len(host) > 255 or any(c.isspace() for c in host):
        errors["host"] = _("Give the server's host name or address.")
    if not username or len(username) > 100:
        errors["username"] = _("Give the user name to log in with.")
    try:
        port = int(data.get("port") or 22)
        if not 0 < port < 65536:
            raise ValueError(port)
    except (TypeError, ValueError):
        errors["port"] = _("A port is a number from 1 to 65535.")
        port = 22
    kind, secret = _secret(data, errors)
    if errors:
        raise ValidationError(errors)
    host_key = _host_key(data.get("host_key"), host, port)
    server = SftpServer(
        name=name,
        host=host,
        port=port,
        username=username,
        host_key=host_key,
        secret_kind=kind,
        secret_encrypted=seal(secret),
    )
    db.session.add(server)
    db.session.flush()
    record_event(
        "create",
        "sftp_servers",
        server.id,
        None,
        {**{k: getattr(server, k) for k in SHOWN}, "host_key": host_key},
    )
    return server


def _secret(data: dict[str, Any], errors: dict[str, str]) -> tuple[str, str]:
    password = data.get("password") or ""
    private_key = (data.get("private_key") or "").strip()
    if private_key:
        try:
            parse_private_key(private_key + "\n")
        except ValueError:
            errors["private_key"] = _("This is not an unencrypted private key (OpenSSH or PEM).")
        return "key", private_key + "\n"
    if not password:
        errors["password"] = _("Give a password or a private key.")
    return "password", str(password)


def _host_key(given: Any, host: str, port: int) -> str:
    if given and str(given).strip():
        try:
            return key_line(parse_host_key(str(given)))
        except ValueError as exc:
            raise ValidationError(
                {"host_key": _("This is not a public host key (“ssh-ed25519 AAAA…”).")}
            ) from exc
    try:
        return scan_host_key(host, port, allow_private())
    except SftpFailure as exc:
        raise ValidationError(
            {
                "host": _(
                    "The server cannot be reached to read its host key: %(reason)s", reason=str(exc)
                )
            }
        ) from exc


def delete_sftp_server(server: SftpServer) -> None:
    used = db.session.scalar(
        select(Export.id).where(Export.sftp_server_id == server.id).limit(1)
    ) or db.session.scalar(select(FeedPull.id).where(FeedPull.sftp_server_id == server.id).limit(1))
    if used:
        raise ValidationError({"": _("Exports or pulls use this server: change them first.")})
    record_event("delete", "sftp_servers", server.id, {k: getattr(server, k) for k in SHOWN}, None)
    db.session.delete(server)
    db.session.flush()


def endpoint_of(server: SftpServer) -> Endpoint:
    """How to reach the server, its secret unsealed; SftpFailure when it cannot be."""
    try:
        secret = unseal(server.secret_encrypted)
    except SecretUnreadable as exc:
        raise SftpFailure(
            "its credentials were sealed under another SECRET_KEY: enter them again"
        ) from exc
    return Endpoint(
        server.host,
        server.port,
        server.username,
        server.host_key,
        password=secret if server.secret_kind == "password" else None,
        private_key=secret if server.secret_kind == "key" else None,
        allow_private=allow_private(),
    )


def allow_private() -> bool:
    return bool(current_app.config.get("REMOTE_ALLOW_PRIVATE"))
