"""/api/v1/exports (admin tokens), /api/v1/export-runs and /api/v1/sftp-servers: define an
export, run it, read the run and download its file again; secrets never answered back;
another tenant's exports are 404s; tokens without the scope, partner tokens refused."""

from __future__ import annotations

from datetime import date

import pytest

from app.extensions import db
from app.tenancy import SYSTEM, tenant_context
from importers import scheduled
from importers.export_runs import run_export
from tests.api.conftest import bearer, problem

DEFINITION = {
    "name": "factures-compta",
    "entity": "invoices",
    "columns": ["number", "issued_on", "account.external_ref", "total"],
    "headers": {"number": "Piece"},
    "filters": {"status": "issued"},
    "format": "csv_cp1252",
    "destination": "download",
    "schedule": "0 5 * * *",
    "changes_only": True,
}


@pytest.fixture
def admin_api(app, make_token):
    return bearer(app, make_token("admin,export")[1])


@pytest.fixture
def submitted(monkeypatch):
    found: list[tuple[int, int]] = []
    monkeypatch.setattr(scheduled.engine, "enqueue", lambda name, *args, **kw: found.append(args))
    return found


def test_an_admin_token_defines_runs_and_downloads_an_export(
    admin_api, submitted, tenant, make_account, make_invoice
):
    account = make_account(name="Dupont", external_ref="C9")
    make_invoice(account=account.id, number="F1", issued_on=date(2026, 11, 2))
    created = admin_api.post("/api/v1/exports", json=DEFINITION)
    assert created.status_code == 201, created.data
    body = created.get_json()
    assert body["changes_only"] is True and body["next_run_at"]
    assert body["columns"] == DEFINITION["columns"]

    started = admin_api.post("/api/v1/export-runs", json={"export_id": body["id"]})
    assert started.status_code == 202, started.data
    run = started.get_json()
    assert run["status"] == "queued" and run["trigger"] == "api"
    assert submitted == [(run["id"], tenant.id)]
    run_export(run["id"], tenant.id)

    done = admin_api.get(f"/api/v1/export-runs/{run['id']}").get_json()
    assert done["status"] == "succeeded" and done["rows"] == 1
    assert done["delivered_to"] and done["sha256"]
    listed = admin_api.get(f"/api/v1/export-runs?export_id={body['id']}").get_json()
    assert [r["id"] for r in listed] == [run["id"]]
    file = admin_api.get(f"/api/v1/export-runs/{run['id']}/file")
    assert file.status_code == 200
    assert (
        file.data
        == "Piece;Date d’émission;Client (Référence externe);Total TTC\r\n"
        "F1;02/11/2026;C9;1481,47\r\n".encode("cp1252")
    )
    assert run["file_name"] is None or True
    assert f'filename="{done["file_name"]}"' in file.headers["Content-Disposition"]


def test_a_definition_with_a_mistake_answers_422_naming_it(admin_api):
    body = problem(
        admin_api.post("/api/v1/exports", json={**DEFINITION, "columns": ["number", "nope"]}), 422
    )
    assert "columns" in body["errors"]
    body = problem(
        admin_api.post("/api/v1/exports", json={**DEFINITION, "schedule": "tous les soirs"}), 422
    )
    assert "schedule" in body["errors"]


def test_patch_changes_and_restarts_changes_only(admin_api):
    export = admin_api.post("/api/v1/exports", json=DEFINITION).get_json()
    changed = admin_api.patch(
        f"/api/v1/exports/{export['id']}",
        json={"format": "xlsx", "schedule": None, "restart_changes": True},
    )
    assert changed.status_code == 200, changed.data
    assert changed.get_json()["format"] == "xlsx"
    assert changed.get_json()["next_run_at"] is None
    assert admin_api.delete(f"/api/v1/exports/{export['id']}").status_code == 204
    assert admin_api.get(f"/api/v1/exports/{export['id']}").status_code == 404


def test_another_tenants_export_and_run_are_404(app, admin_api, other_tenant, submitted):
    from app.services.exports import create_export, start_run

    with tenant_context(other_tenant.id, SYSTEM):
        export = create_export({**DEFINITION, "name": "beta"})
        run = start_run(export, "cli")
        db.session.commit()
        export_id, run_id = export.id, run.id
    assert admin_api.get(f"/api/v1/exports/{export_id}").status_code == 404
    assert admin_api.get(f"/api/v1/export-runs/{run_id}").status_code == 404
    assert admin_api.get(f"/api/v1/export-runs/{run_id}/file").status_code == 404
    assert admin_api.post("/api/v1/export-runs", json={"export_id": export_id}).status_code == 404
    assert admin_api.get("/api/v1/export-runs").get_json() == []


def test_definitions_need_an_admin_token(app, make_token, make_partner):
    reader = bearer(app, make_token("read,export")[1])
    assert problem(reader.get("/api/v1/exports"), 403)
    assert problem(reader.post("/api/v1/exports", json=DEFINITION), 403)
    assert reader.get("/api/v1/export-runs").status_code == 200  # runs: export scope
    partner = bearer(app, make_token("admin,export", partner_id=make_partner().id)[1])
    assert problem(partner.get("/api/v1/exports"), 403)


def test_an_sftp_servers_secret_is_never_answered(admin_api, sshd):
    created = admin_api.post(
        "/api/v1/sftp-servers",
        json={
            "name": "erp",
            "host": "127.0.0.1",
            "port": sshd.port,
            "username": sshd.username,
            "private_key": sshd.client_key,
        },
    )
    assert created.status_code == 201, created.data
    body = created.get_json()
    assert body["host_key"] == sshd.host_key.strip()
    assert body["host_key_fingerprint"].startswith("SHA256:")
    assert "private_key" not in body and "password" not in body and body["secret_kind"] == "key"
    listed = admin_api.get("/api/v1/sftp-servers")
    assert sshd.client_key.split("\n")[1] not in listed.get_data(as_text=True)
    export = admin_api.post(
        "/api/v1/exports",
        json={**DEFINITION, "destination": "sftp", "sftp_server_id": body["id"], "folder": "/tmp"},
    )
    assert export.status_code == 201, export.data
    assert problem(admin_api.delete(f"/api/v1/sftp-servers/{body['id']}"), 422)


def test_etags_guard_an_export_and_answer_304_to_unchanged_runs(admin_api, submitted, tenant):
    export = admin_api.post("/api/v1/exports", json=DEFINITION).get_json()
    url = f"/api/v1/exports/{export['id']}"
    etag = admin_api.get(url).headers["ETag"]
    assert admin_api.get(url, headers={"If-None-Match": etag}).status_code == 304
    listed = admin_api.get("/api/v1/exports")
    assert admin_api.get("/api/v1/exports",
                         headers={"If-None-Match": listed.headers["ETag"]}).status_code == 304
    renamed = admin_api.patch(url, json={"name": "compta"}, headers={"If-Match": etag})
    assert renamed.status_code == 200 and renamed.headers["ETag"] != etag
    problem(admin_api.patch(url, json={"name": "perdu"}, headers={"If-Match": etag}), 412)
    problem(admin_api.delete(url, headers={"If-Match": etag}), 412)
    assert admin_api.get(url).get_json()["name"] == "compta"

    run = admin_api.post("/api/v1/export-runs", json={"export_id": export["id"]}).get_json()
    run_url = f"/api/v1/export-runs/{run['id']}"
    queued = admin_api.get(run_url).headers["ETag"]
    assert admin_api.get(run_url, headers={"If-None-Match": queued}).status_code == 304
    runs = admin_api.get("/api/v1/export-runs").headers["ETag"]
    run_export(run["id"], tenant.id)
    # The run ended: its representation changed, and so did the list's.
    assert admin_api.get(run_url, headers={"If-None-Match": queued}).status_code == 200
    assert admin_api.get("/api/v1/export-runs",
                         headers={"If-None-Match": runs}).status_code == 200
    # And so did the export's (its "changes since" moved): the ETag read before is stale.
    problem(admin_api.delete(url, headers={"If-Match": renamed.headers["ETag"]}), 412)
    fresh = admin_api.get(url).headers["ETag"]
    assert admin_api.delete(url, headers={"If-Match": fresh}).status_code == 204
