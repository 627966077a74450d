"""The SSH side of exports and pulls: a paramiko client to a tenant's own SFTP server, whose
host key was pinned when the server was set up (a server answering with another key is
refused, as `ssh` does with StrictHostKeyChecking). Kept small so that the export and pull
code is tested on local files, and this adapter against a real sshd."""

from __future__ import annotations

import base64
import hashlib
import io
import posixpath
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from app.webhooks.addresses import is_public

if TYPE_CHECKING:
    import paramiko

TIMEOUT = 20.0


class SftpFailure(Exception):
    """The server could not be reached, refused us, or the transfer failed; str() says why."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    username: str
    host_key: str  # "<type> <base64>"
    password: str | None = None
    private_key: str | None = None  # OpenSSH or PEM text
    allow_private: bool = False  # REMOTE_ALLOW_PRIVATE: loopback and private networks too


def _open_socket(host: str, port: int, allow_private: bool) -> socket.socket:
    """A connection to a public address of `host` (the address checked is the one dialled:
    a name that resolves elsewhere later gains nothing); SftpFailure otherwise."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise SftpFailure(f"{host} cannot be resolved ({exc})") from exc
    for family, kind, proto, _name, address in found:
        if not allow_private and not is_public(address[0]):
            continue
        try:
            sock = socket.socket(family, kind, proto)
            sock.settimeout(TIMEOUT)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            raise SftpFailure(f"{host}:{port} cannot be reached ({exc})") from exc
    raise SftpFailure(f"{host} is not a public address: refused")


def parse_private_key(text: str) -> paramiko.PKey:
    """A private key from its text (OpenSSH or PEM, unencrypted); ValueError otherwise."""
    import paramiko  # loaded by what uses SSH only (`flask --help` stays light)

    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            continue
    raise ValueError("not a private key paramiko reads")


def parse_host_key(text: str) -> paramiko.PKey:
    """A public host key as in known_hosts or a .pub file ("ssh-ed25519 AAAA… [comment]"),
    optionally preceded by host names; ValueError otherwise."""
    import paramiko

    parts = text.strip().split()
    for index in range(len(parts) - 1):
        try:
            key = paramiko.PKey.from_type_string(parts[index], base64.b64decode(parts[index + 1]))
            return key
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            continue
    raise ValueError("not a public key")


def key_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


def fingerprint(host_key: str) -> str:
    """SHA256:… as `ssh-keygen -lf` shows it."""
    raw = base64.b64decode(host_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def scan_host_key(host: str, port: int, allow_private: bool = False) -> str:
    """The key the server presents now (to pin at set-up, after a person checked it)."""
    import paramiko

    try:
        with _open_socket(host, port, allow_private) as sock:
            transport = paramiko.Transport(sock)
            try:
                transport.start_client(timeout=TIMEOUT)
                return key_line(transport.get_remote_server_key())
            finally:
                transport.close()
    except (OSError, paramiko.SSHException, EOFError) as exc:
        raise SftpFailure(
            f"{host}:{port} cannot be reached ({exc.__class__.__name__}: {exc})"
        ) from exc


@contextmanager
def connect(endpoint: Endpoint) -> Iterator[paramiko.SFTPClient]:
    """An SFTP session on the server, its host key checked against the pinned one."""
    import paramiko

    sock = _open_socket(endpoint.host, endpoint.port, endpoint.allow_private)
    transport = paramiko.Transport(sock)
    try:
        try:
            transport.start_client(timeout=TIMEOUT)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise SftpFailure(f"SSH negotiation failed ({exc})") from exc
        presented = transport.get_remote_server_key()
        if key_line(presented) != key_line(parse_host_key(endpoint.host_key)):
            raise SftpFailure(
                f"the server's host key changed ({fingerprint(key_line(presented))}): "
                "refused. Check with the server's owner, then pin the new key."
            )
        try:
            if endpoint.private_key:
                transport.auth_publickey(endpoint.username, parse_private_key(endpoint.private_key))
            else:
                transport.auth_password(endpoint.username, endpoint.password or "")
        except (paramiko.AuthenticationException, paramiko.SSHException, ValueError) as exc:
            raise SftpFailure(f"the server refused the login of {endpoint.username}") from exc
        try:
            client = paramiko.SFTPClient.from_transport(transport)
        except paramiko.SSHException as exc:
            raise SftpFailure(f"the server offers no SFTP ({exc})") from exc
        with client:
            yield client
    finally:
        transport.close()


def upload(endpoint: Endpoint, local: Path, remote_path: str) -> str:
    """Send `local` as `remote_path`: written as `<name>.part`, then renamed, so that the
    receiving side never reads a half-written file. Returns the remote path."""
    partial = remote_path + ".part"
    with connect(endpoint) as sftp:
        try:
            sftp.put(str(local), partial, confirm=True)
            try:
                sftp.posix_rename(partial, remote_path)
            except OSError:
                sftp.rename(partial, remote_path)
        except OSError as exc:
            raise SftpFailure(f"writing {remote_path} failed ({exc})") from exc
    return remote_path


def download(endpoint: Endpoint, remote_path: str, target: IO[bytes], max_bytes: int) -> int:
    """Copy the remote file into `target`; SftpFailure when it is missing or too large."""
    with connect(endpoint) as sftp:
        try:
            size = sftp.stat(remote_path).st_size or 0
            if size > max_bytes:
                raise SftpFailure(f"{remote_path} is {size} bytes, over the limit of {max_bytes}")
            with sftp.open(remote_path, "rb") as source:
                source.prefetch(size)
                copied = 0
                while chunk := source.read(1 << 20):
                    copied += len(chunk)
                    if copied > max_bytes:
                        raise SftpFailure(f"{remote_path} is over the limit of {max_bytes}")
                    target.write(chunk)
        except OSError as exc:
            raise SftpFailure(f"reading {remote_path} failed ({exc})") from exc
    return copied


def join(folder: str, name: str) -> str:
    return posixpath.join(folder or ".", name)
