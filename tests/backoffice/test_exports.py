"""Scheduled exports in the back office, for admins: define one, run it now, see the run and
download its file again; add an SFTP server (host key pinned, secret never shown); set a
feed's scheduled pull. Sales users get 403; another tenant's export is a 404."""

from __future__ import annotations

from datetime import date

import pytest

from app.extensions import db
from app.models import Export, ExportRun, FeedPull, SftpServer
from app.services.exports import create_export
from app.tenancy import SYSTEM, tenant_context
from importers import scheduled
from importers.export_runs import run_export
from tests.conftest import page_text

FORM = {
    "name": "factures-compta",
    "entity": "invoices",
    "columns": "number\nissued_on\naccount.external_ref",
    "filters": "status=issued",
    "format": "csv_cp1252",
    "destination": "download",
    "recipients": "",
    "sftp_server_id": "",
    "folder": "",
    "schedule": "30 6 * * 1-5",
    "changes_only": "y",
    "is_active": "y",
}


@pytest.fixture
def submitted(monkeypatch):
    found: list[tuple] = []
    monkeypatch.setattr(scheduled.engine, "enqueue", lambda name, *args, **kw: found.append(args))
    return found


def test_an_admin_defines_runs_and_downloads_an_export(
    admin_client, tenant, submitted, make_account, make_invoice
):
    account = make_account(name="Dupont", external_ref="C7")
    make_invoice(account=account.id, number="F77", issued_on=date(2026, 11, 5))
    assert admin_client.get("/alpha/admin/exports/new").status_code == 200
    saved = admin_client.post("/alpha/admin/exports/new", data=FORM)
    assert saved.status_code == 302, page_text(saved)[:2000]
    export = db.session.scalar(db.select(Export))
    assert export.columns == ["number", "issued_on", "account.external_ref"]
    assert export.filters == {"status": "issued"} and export.is_changes_only

    listed = page_text(admin_client.get("/alpha/admin/exports"))
    assert "factures-compta" in listed and "30 6 * * 1-5" in listed

    assert admin_client.post(f"/alpha/admin/exports/{export.id}/run").status_code == 302
    [(run_id, tenant_id)] = submitted
    run_export(run_id, tenant_id)
    page = admin_client.get(f"/alpha/admin/exports/{export.id}")
    text = page_text(page)
    run = db.session.get(ExportRun, run_id)
    assert run.file_name in text and "Dupont" not in text
    download = admin_client.get(f"/alpha/admin/exports/runs/{run_id}/file")
    assert download.status_code == 200
    assert (
        download.data
        == "Numéro;Date d’émission;Client (Référence externe)\r\nF77;05/11/2026;C7\r\n".encode(
            "cp1252"
        )
    )


def test_a_mistake_in_the_form_is_shown_on_its_field(admin_client, tenant):
    answer = admin_client.post(
        "/alpha/admin/exports/new", data={**FORM, "columns": "number\nunicorn"}
    )
    assert answer.status_code == 422
    assert "unicorn" in page_text(answer)


def test_an_export_is_changed_and_deleted(admin_client, tenant):
    admin_client.post("/alpha/admin/exports/new", data=FORM)
    export = db.session.scalar(db.select(Export))
    changed = admin_client.post(
        f"/alpha/admin/exports/{export.id}", data={**FORM, "format": "xlsx", "schedule": ""}
    )
    assert changed.status_code == 302
    db.session.expire_all()
    export = db.session.get(Export, export.id)
    assert export.format == "xlsx" and export.next_run_at is None
    assert admin_client.post(f"/alpha/admin/exports/{export.id}/delete").status_code == 302
    assert db.session.scalar(db.select(db.func.count()).select_from(Export)) == 0


def test_sales_users_and_other_tenants_are_kept_out(
    sales_client, admin_client, tenant, other_tenant
):
    assert sales_client.get("/alpha/admin/exports").status_code == 403
    with tenant_context(other_tenant.id, SYSTEM):
        theirs = create_export({"name": "beta", "entity": "invoices", "columns": ["number"]})
        db.session.commit()
        their_id = theirs.id
    assert admin_client.get(f"/alpha/admin/exports/{their_id}").status_code == 404
    assert admin_client.post(f"/alpha/admin/exports/{their_id}/run").status_code == 404


def test_an_sftp_server_is_added_with_its_host_key_pinned(admin_client, tenant, sshd):
    assert admin_client.get("/alpha/admin/sftp-servers/new").status_code == 200
    saved = admin_client.post(
        "/alpha/admin/sftp-servers/new",
        data={
            "name": "compta",
            "host": "127.0.0.1",
            "port": str(sshd.port),
            "username": sshd.username,
            "password": "",
            "private_key": sshd.client_key,
            "host_key": "",
        },
        follow_redirects=True,
    )
    text = page_text(saved)
    assert "SHA256:" in text and "compta" in text
    assert sshd.client_key.split("\n")[1] not in saved.get_data(as_text=True)
    server = db.session.scalar(db.select(SftpServer))
    assert server.host_key == sshd.host_key.strip()
    assert admin_client.post(f"/alpha/admin/sftp-servers/{server.id}/delete").status_code == 302
    assert db.session.scalar(db.select(db.func.count()).select_from(SftpServer)) == 0


def test_a_feed_gets_a_scheduled_pull(admin_client, tenant, make_profile):
    profile = make_profile("accounts", {"Code": "external_ref", "Nom": "name"}, name="clients")
    assert admin_client.get(f"/alpha/admin/feeds/{profile.id}/pull").status_code == 200
    saved = admin_client.post(
        f"/alpha/admin/feeds/{profile.id}/pull",
        data={
            "kind": "https",
            "url": "https://erp.example.com/clients.csv",
            "path": "",
            "sftp_server_id": "",
            "schedule": "0 5 * * *",
            "is_active": "y",
        },
    )
    assert saved.status_code == 302
    pull = db.session.scalar(db.select(FeedPull))
    assert pull.url == "https://erp.example.com/clients.csv" and pull.next_run_at
    refused = admin_client.post(
        f"/alpha/admin/feeds/{profile.id}/pull",
        data={"kind": "https", "url": "ftp://erp.example.com/x.csv", "schedule": "0 5 * * *"},
    )
    assert refused.status_code == 422 and "https://" in page_text(refused)


def test_a_failed_pull_shows_in_red_on_the_health_page(admin_client, tenant, make_profile):
    from app.services.pulls import set_pull

    profile = make_profile("accounts", {"Code": "external_ref", "Nom": "name"}, name="erp")
    pull = set_pull(
        profile, {"kind": "https", "url": "https://erp.example.com/c.csv", "schedule": "0 5 * * *"}
    )
    pull.last_error = "HTTPS : le serveur a répondu 404."
    db.session.commit()
    page = admin_client.get("/alpha/feeds/")
    assert "le serveur a répondu 404" in page_text(page)
    assert 'class="table-danger" data-profile' in page.get_data(as_text=True)
