"""Feeds fixtures: an invoice feed's profile and files, runs executed in the request."""
from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.extensions import db
from app.models import ImportProfile, ImportRun
from app.services import feeds
from importers import jobs, runs

HEADER = "N° facture;Code client;Date;Montant TTC;Promoteur"
GOOD = "F001;C001;31/12/2025;1 234,56;Durand"
BAD = "F002;C404;31/12/2025;10,00;Martin"
INVOICE_PROFILE = {
    "name": "factures-nuit", "entity": "invoices", "mode": "upsert",
    "columns": {"N° facture": "number", "Code client": "account.external_ref",
                "Date": "issued_on", "Montant TTC": "total", "Promoteur": "custom.promoteur"},
    "key": "number"}


def csv_file(*lines: str, name: str = "factures.csv", encoding: str = "cp1252") -> tuple:
    """A file as a browser uploads it (the test client's multipart form)."""
    return io.BytesIO("\r\n".join(lines).encode(encoding) + b"\r\n"), name


@pytest.fixture
def promoteur(make_field) -> Any:
    return make_field("invoices", "promoteur", label_fr="Promoteur", label_en="Developer")


@pytest.fixture
def invoice_profile(tenant, promoteur, make_account) -> ImportProfile:
    make_account(external_ref="C001", name="Client Un")
    profile = feeds.create_profile(dict(INVOICE_PROFILE))
    db.session.commit()
    return profile


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Runs handed to the workers, executed at once in the request (the test's session sees
    them); the list records (run id, tenant id)."""
    calls: list[tuple[int, int]] = []

    def submit(app: Any, run_id: int, tenant_id: int) -> None:
        calls.append((run_id, tenant_id))
        runs.run_import(run_id, tenant_id)

    monkeypatch.setattr(jobs, "submit", submit)
    return calls


@pytest.fixture
def queued_reverts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Reverts the pages queued, as (run id, tenant id); `jobs.revert_run(*it)` runs one as
    a worker would."""
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(jobs, "submit_revert",
                        lambda app, run_id, tenant_id: calls.append((run_id, tenant_id)))
    return calls


@pytest.fixture
def start_run(admin_client: FlaskClient, submitted) -> Callable[..., ImportRun]:
    """Upload a file on the profile's page, as an admin; returns the run it created."""

    def start(profile: ImportProfile, *lines: str, dry_run: bool = False,
              force: bool = False, **file_options: Any) -> ImportRun:
        data = {"file": csv_file(*lines, **file_options)}
        if dry_run:
            data["dry_run"] = "y"
        if force:
            data["force"] = "y"
        response = admin_client.post(f"/alpha/feeds/profiles/{profile.id}/runs", data=data,
                                     content_type="multipart/form-data")
        assert response.status_code == 302, response.data[:300]
        run_id = int(re.search(r"/feeds/runs/(\d+)$", response.headers["Location"]).group(1))
        db.session.expire_all()
        return db.session.get(ImportRun, run_id)

    return start


@pytest.fixture
def add_run() -> Callable[..., ImportRun]:
    """A finished run written directly (health and list pages read only its figures)."""

    def add(profile: ImportProfile, status: str = "succeeded", *, days_ago: float = 0,
            dry_run: bool = False, rows: int = 10, failed: int = 0) -> ImportRun:
        when = datetime.now(UTC) - timedelta(days=days_ago)
        run = ImportRun(profile_id=profile.id, profile_version=profile.version, source="cli",
                        file_name="nuit.csv", file_size=100, sha256="0" * 64, status=status,
                        started_by="cron", created_at=when, started_at=when, finished_at=when,
                        rows_done=rows, failed=failed, is_dry_run=dry_run,
                        created=rows - failed)
        db.session.add(run)
        db.session.commit()
        return run

    return add
