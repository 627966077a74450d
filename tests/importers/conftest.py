"""Feed fixtures: files written like a tenant's exports, profiles, and runs driven end to end
through app/services/feeds.py and the run lifecycle importers/runs.py (the path the CLI, upload
and API take)."""
from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.entities import ENTITIES
from app.extensions import db
from app.models import AuditEvent, ImportProfile, ImportRowError, ImportRun, Tenant
from app.services import feeds
from app.services.custom_field_defs import create_field
from app.services.tokens import create_token
from importers import runs
from tests.api.conftest import bearer

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.fixture
def api_client(app: Flask, tenant: Tenant) -> FlaskClient:
    """Tenant A's API client, a token holding every scope: how an integration reads runs."""
    _token, secret = create_token("ERP nightly", "read,write,import,export")
    db.session.commit()
    return bearer(app, secret)


@pytest.fixture
def feed_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a feed: feed_file(text | rows, name=, encoding=, newline=, delimiter=, bom=)."""

    def write(content: str | list[list[Any]] | bytes, name: str = "export.csv", *,
              encoding: str = "utf-8", newline: str = "\r\n", delimiter: str = ";",
              bom: bool = False) -> Path:
        if isinstance(content, list):
            import csv

            buffer = io.StringIO()
            csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(content)
            content = buffer.getvalue()
        elif isinstance(content, str) and newline != "\n":
            content = content.replace("\n", newline)
        data = content if isinstance(content, bytes) else content.encode(encoding)
        if bom:
            data = b"\xef\xbb\xbf" + data
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


@pytest.fixture
def make_profile(tenant: Tenant) -> Callable[..., ImportProfile]:
    """make_profile(entity, columns, **options): a saved import profile of the tenant."""
    counter = iter(range(1, 10_000))

    def make(entity: str, columns: dict[str, str], **options: Any) -> ImportProfile:
        definition = {"name": options.pop("name", f"flux-{entity}-{next(counter)}"),
                      "entity": entity, "columns": columns, **options}
        profile = feeds.create_profile(definition)
        db.session.commit()
        return profile

    return make


@pytest.fixture
def run_import(tenant: Tenant) -> Callable[..., ImportRun]:
    """run_import(profile, path, dry_run=, force=): create the run as the CLI does, execute it."""

    def run(profile: ImportProfile, path: Path, *, dry_run: bool = False,
            force: bool = False, tenant_id: int | None = None) -> ImportRun:
        with path.open("rb") as stream:
            created = feeds.create_run(profile, stream, path.name, source="cli",
                                         dry_run=dry_run, force=force)
        db.session.commit()
        done = runs.run_import(created.id, tenant_id or tenant.id, max_wait=0)
        assert done is not None
        db.session.expire_all()
        return db.session.get(ImportRun, created.id)

    return run


@pytest.fixture
def make_custom_field(tenant: Tenant) -> Callable[..., Any]:
    def make(entity: str, key: str, type_: str, **over: Any) -> Any:
        field = create_field({"entity": entity, "key": key, "type": type_,
                              "label_fr": over.pop("label_fr", key.title()),
                              "label_en": over.pop("label_en", key.title()), **over})
        db.session.commit()
        return field

    return make


def records(entity: str, **where: Any) -> list[Any]:
    """The tenant's records of an entity, by id, archived ones included."""
    model = ENTITIES[entity].model
    stmt = select(model).filter_by(**where).order_by(model.id)
    return list(db.session.scalars(stmt))


def by_key(entity: str, key: str = "external_ref") -> dict[str, Any]:
    return {getattr(r, key): r for r in records(entity)}


def row_errors(run: ImportRun) -> list[ImportRowError]:
    return list(db.session.scalars(select(ImportRowError).where(
        ImportRowError.run_id == run.id).order_by(ImportRowError.line, ImportRowError.id)))


def found_equal_next_time(statuses: dict[str, str]) -> None:
    """Each invoice (its key → its status) written away from its status and back: it loses
    its fingerprint, and the next run finds its row equal to it and gives it one again."""
    from app.services.records import update_record

    for key, status in statuses.items():
        record = by_key("invoices")[key]
        update_record(record, {"status": "cancelled"})
        update_record(record, {"status": status})
    db.session.commit()


@contextmanager
def after_the_first_batch(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]
                          ) -> Iterator[list[bool]]:
    """Runs of one row a batch, `action` done (and committed) once, right after the first
    batch's progress is saved; the list holds True once it was."""
    import importers.engine as engine_module
    from importers.engine import ImportEngine

    monkeypatch.setattr(engine_module, "BATCH_ROWS", 1)
    original = ImportEngine.save_progress
    done: list[bool] = []

    def save_progress(engine: ImportEngine) -> None:
        original(engine)
        if engine.run.rows_done >= 1 and not done:
            done.append(True)
            action()
            db.session.commit()

    monkeypatch.setattr(ImportEngine, "save_progress", save_progress)
    try:
        yield done
    finally:
        monkeypatch.setattr(ImportEngine, "save_progress", original)


def audit_count(entity: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == entity))


def counts(run: ImportRun) -> dict[str, int]:
    return run.counts


# -- the SFTP inbox: the real server on loopback ------------------------------------------------

@pytest.fixture
def sftp_server(app, app_ctx, tmp_path: Path):
    """The SFTP inbox listening on a free loopback port, in a thread of this process; its
    accounts' folders and host key in the test's own folder."""
    from importers.sftp import throttle
    from importers.sftp.server import SFTPService

    saved = {key: app.config[key] for key in ("FEED_STORAGE_DIR", "SFTP_HOST_KEY")}
    app.config["FEED_STORAGE_DIR"] = str(tmp_path / "feeds")
    app.config["SFTP_HOST_KEY"] = str(tmp_path / "instance" / "sftp_host_key")
    app.extensions.pop(throttle.EXTENSION, None)
    service = SFTPService(app, "127.0.0.1", 0)
    service.bind()
    import threading

    thread = threading.Thread(target=service.serve_forever, daemon=True)
    thread.start()
    yield service
    service.stop()
    thread.join(5)
    wait_until(lambda: not service.transports, timeout=5)
    _wait_for_runs(app)
    app.config.update(saved)
    app.extensions.pop(throttle.EXTENSION, None)


def _wait_for_runs(app) -> None:
    """Let the runs the server queued finish before the test's tables are emptied."""
    from app.tenancy import all_tenants_unsafe

    def settled() -> bool:
        db.session.rollback()
        with all_tenants_unsafe("tests"):
            return not db.session.scalar(select(func.count(ImportRun.id)).where(
                ImportRun.status.in_(("queued", "running"))))

    wait_until(settled, timeout=30)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll `predicate` until it holds (returned) or `timeout` seconds pass (None)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture
def client_key(tmp_path: Path) -> tuple[Path, str]:
    """An Ed25519 key pair for an SFTP client: (private key file, public key line)."""
    return make_client_key(tmp_path / "id_ed25519")


def make_client_key(path: Path) -> tuple[Path, str]:
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return path, f"{public} test@relais"


@pytest.fixture
def make_feed_account(tenant: Tenant):
    """make_feed_account(routes=..., **over): a feed account of tenant A, committed."""
    from app.services.feed_accounts import create_account

    counter = iter(range(1, 1000))

    def make(**over: Any):
        data = {"name": f"erp{next(counter)}", "password": "sftp-password-123", **over}
        account = create_account(data)
        db.session.commit()
        return account

    return make


def all_errors(client: FlaskClient, run_id: int, query: str = "", limit: int = 50,
               language: str = "en") -> list[dict[str, Any]]:
    """Every row error of the run as the API pages them (`query`: group=, kind=)."""
    found, cursor = [], None
    while True:
        url = f"/api/v1/imports/{run_id}/errors?limit={limit}" + (f"&{query}" if query else "") \
            + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers={"Accept-Language": language})
        assert page.status_code == 200, page.data[:500]
        found += page.get_json()
        cursor = json.loads(page.headers["X-Pagination"])["next_cursor"]
        if not cursor:
            return found
