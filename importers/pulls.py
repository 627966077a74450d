"""Scheduled pulls: a feed fetches its file from the tenant's own SFTP server (host key
pinned) or an HTTPS address, and imports it as an upload would be (the same run, the same
health page), unless a file with the same SHA-256 was already imported or tried."""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import ssl
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from app.extensions import db
from app.models import FeedPull, ImportRun
from app.queries.feeds import previous_success
from app.services import feeds
from app.services.sftp_servers import endpoint_of
from app.tenancy import Actor, tenant_context
from app.webhooks.addresses import is_public
from importers.jobs import queue_run
from importers.sftp_client import SftpFailure, download

log = logging.getLogger(__name__)


class PullFailure(Exception):
    """The file could not be fetched; str() says why (shown on the feed's page)."""


def pull_feed(pull_id: int, tenant_id: int) -> ImportRun | None:
    """Fetch the pull's file and queue its import; None when there was nothing new."""
    with tenant_context(tenant_id, Actor("feed", None, "pull")):
        pull = db.session.scalar(select(FeedPull).where(FeedPull.id == pull_id))
        if pull is None:
            return None
        pull.last_checked_at = datetime.now(UTC)
        try:
            with _fetched(pull) as (path, name):
                run = _import(pull, path, name)
        except PullFailure as exc:
            pull.last_error = str(exc)[:2000]
            db.session.commit()
            return None
        pull.last_error = None
        db.session.commit()
        if run is not None:
            queue_run(run)
        return run


def _import(pull: FeedPull, path: Path, name: str) -> ImportRun | None:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    sha256 = digest.hexdigest()
    if sha256 == pull.last_sha256 or previous_success(pull.profile, sha256) is not None:
        return None  # already imported (or already tried): nothing new
    with path.open("rb") as stream:
        run = feeds.create_run(pull.profile, stream, name, source="pull")
    pull.last_sha256, pull.last_run_id = sha256, run.id
    return run


@contextmanager
def _fetched(pull: FeedPull) -> Iterator[tuple[Path, str]]:
    root = Path(current_app.config["FILES_DIR"]) / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=root)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as target:
            remote_name = (
                _fetch_sftp(pull, target) if pull.kind == "sftp" else _fetch_https(pull, target)
            )
        if path.stat().st_size == 0:
            raise PullFailure(_("The fetched file is empty."))
        yield path, remote_name
    finally:
        path.unlink(missing_ok=True)


def _fetch_sftp(pull: FeedPull, target: IO[bytes]) -> str:
    if pull.sftp_server is None:
        raise PullFailure(_("The pull's SFTP server no longer exists."))
    try:
        download(
            endpoint_of(pull.sftp_server),
            pull.path or "",
            target,
            current_app.config["IMPORT_MAX_BYTES"],
        )
    except SftpFailure as exc:
        raise PullFailure(_("SFTP: %(reason)s", reason=str(exc))) from exc
    return posixpath.basename(pull.path or "") or "file"


def check_url(url: str) -> str:
    """An https:// address (http:// only where PULL_ALLOW_HTTP is set); ValueError."""
    parts = urlsplit(url.strip())
    allowed = ("https", "http") if current_app.config.get("PULL_ALLOW_HTTP") else ("https",)
    if parts.scheme not in allowed or not parts.hostname or len(url) > 2000:
        raise ValueError(url)
    return url.strip()


def _fetch_https(pull: FeedPull, target: IO[bytes]) -> str:
    url = pull.url or ""
    parts = urlsplit(url)
    try:
        import socket

        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (OSError, UnicodeError) as exc:
        raise PullFailure(_("HTTPS: %(host)s cannot be resolved.", host=parts.hostname)) from exc
    if not current_app.config.get("REMOTE_ALLOW_PRIVATE") and not all(
        is_public(a) for a in addresses
    ):
        raise PullFailure(
            _("HTTPS: %(host)s is not a public address: refused.", host=parts.hostname)
        )
    context = ssl.create_default_context()
    if current_app.config.get("PULL_CA_FILE"):
        context.load_verify_locations(cafile=current_app.config["PULL_CA_FILE"])
    limit = current_app.config["IMPORT_MAX_BYTES"]
    request = urllib.request.Request(url, headers={"User-Agent": "Relais-pull/1"})
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), _NoRedirect()
    )
    try:
        with opener.open(request, timeout=current_app.config["PULL_TIMEOUT"]) as answer:
            copied = 0
            while chunk := answer.read(1 << 20):
                copied += len(chunk)
                if copied > limit:
                    raise PullFailure(
                        _("HTTPS: the file is over the limit of %(limit)d bytes.", limit=limit)
                    )
                target.write(chunk)
    except HTTPError as exc:
        raise PullFailure(_("HTTPS: the server answered %(status)d.", status=exc.code)) from exc
    except (URLError, OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PullFailure(_("HTTPS: %(reason)s", reason=str(reason)[:300])) from exc
    return posixpath.basename(parts.path) or "file"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could lead anywhere (a private address): it is an error to fix at set-up."""

    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None
