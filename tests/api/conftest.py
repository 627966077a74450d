"""API fixtures: tokens, clients carrying a bearer token, a partners import profile and feed,
and import jobs captured instead of run in a thread (tests run them when they choose)."""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import ApiToken, ImportProfile, Tenant
from app.services import feeds
from app.services.tokens import create_token
from app.tenancy import SYSTEM, tenant_context
from importers import jobs, runs

PROBLEM = "application/problem+json"
PARTNERS_PROFILE = {"name": "partenaires", "entity": "partners",
                    "columns": {"Code": "external_ref", "Nom": "name", "Mail": "email"}}
# cp1252, ";" and CRLF as a tenant's nightly export; line 3 has an invalid e-mail.
PARTNERS_CSV = ("Code;Nom;Mail\r\nP1;Agence Île-de-France;idf@example.com\r\n"
                "P2;Agence Côte d’Azur;pas-un-mail\r\nP3;Agence Nord;nord@example.com\r\n"
                ).encode("cp1252")


def bearer(app: Flask, secret: str) -> FlaskClient:
    """A client sending `Authorization: Bearer <secret>` with every request."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def problem(response: Any, status: int) -> dict[str, Any]:
    """The problem+json body of an error response, checked."""
    assert response.status_code == status, response.data[:500]
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["type"] and body["title"] and body["detail"]
    return body


@pytest.fixture
def make_token(tenant: Tenant) -> Callable[..., tuple[ApiToken, str]]:
    """make_token(scopes=, partner_id=, name=): a token of tenant A and its secret."""

    def make(scopes: str = "read,write,import,export", partner_id: int | None = None,
             name: str = "ERP nightly") -> tuple[ApiToken, str]:
        token, secret = create_token(name, scopes, partner_id)
        db.session.commit()
        return token, secret

    return make


@pytest.fixture
def api_client(app: Flask, make_token: Callable[..., tuple[ApiToken, str]]) -> FlaskClient:
    """Tenant A's client with a tenant-wide token holding every scope."""
    return bearer(app, make_token()[1])


@pytest.fixture
def other_api_client(app: Flask, other_tenant: Tenant) -> FlaskClient:
    """Tenant B's client with a tenant-wide token holding every scope."""
    with tenant_context(other_tenant.id, SYSTEM):
        _token, secret = create_token("Beta ERP", "read,write,import,export")
        db.session.commit()
    return bearer(app, secret)


@pytest.fixture
def partners_profile(tenant: Tenant) -> ImportProfile:
    profile = feeds.create_profile(dict(PARTNERS_PROFILE))
    db.session.commit()
    return profile


@pytest.fixture
def queued_jobs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Runs the API submitted, as (run id, tenant id), not started."""
    submitted: list[tuple[int, int]] = []
    monkeypatch.setattr(jobs, "submit", lambda app, run_id, tenant_id:
                        submitted.append((run_id, tenant_id)))
    return submitted


@pytest.fixture
def queued_reverts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Reverts the API queued, as (run id, tenant id), not started."""
    submitted: list[tuple[int, int]] = []
    monkeypatch.setattr(jobs, "submit_revert", lambda app, run_id, tenant_id:
                        submitted.append((run_id, tenant_id)))
    return submitted


def run_queued_reverts(submitted: list[tuple[int, int]]) -> None:
    """Execute the queued reverts here, as a worker would (the `revert_run` job)."""
    while submitted:
        jobs.revert_run(*submitted.pop(0))
    db.session.expire_all()


def run_queued(submitted: list[tuple[int, int]]) -> None:
    """Execute the submitted runs here, as the worker pool would."""
    while submitted:
        run_id, tenant_id = submitted.pop(0)
        runs.run_import(run_id, tenant_id)
    db.session.expire_all()


def upload(client: FlaskClient, data: bytes = PARTNERS_CSV, name: str = "partenaires.csv",
           **fields: Any) -> Any:
    """POST /api/v1/imports with a file and form fields."""
    form = {"profile": "partenaires", **fields, "file": (io.BytesIO(data), name)}
    return client.post("/api/v1/imports", data=form, content_type="multipart/form-data")


# The record collections' fixtures (tests/api/test_records.py, test_isolation.py).
from tests.api.records_support import en_client, make_field, world  # noqa: E402, F401
from tests.exports.servers import sshd  # noqa: E402, F401  (fixture: tests/api/test_exports.py)
