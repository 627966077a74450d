"""Reverting an import run from its page: a preview first, then the revert, queued and run by a
worker, its state shown on the run page (queued, then done with what it did, or failed with
why); only admins, with the CSRF token."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, ImportRun, Invoice
from app.services import feeds
from app.services.import_revert import request_revert
from app.services.records import update_record
from importers import jobs, runs
from tests.backoffice.conftest import SPACES, fr, text
from tests.backoffice.test_feeds.conftest import GOOD, HEADER
from tests.conftest import PASSWORD, login


def _csrf_token(client, path: str) -> str:
    page = client.get(path).data.decode()
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _invoices() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(Invoice.number)))


def _work(queued: list[tuple[int, int]]) -> None:
    """The worker takes the queued reverts."""
    while queued:
        jobs.revert_run(*queued.pop(0))
    db.session.expire_all()


def test_an_admin_previews_then_reverts_a_run(admin_client, admin_user, invoice_profile,
                                              start_run, queued_reverts):
    run = start_run(invoice_profile, HEADER, GOOD)
    assert _invoices() == ["F001"]
    url = f"/alpha/feeds/runs/{run.id}"
    assert fr("Revert this run") in text(admin_client.get(url))
    preview = admin_client.post(f"{url}/revert", data={"dry_run": "1"})
    assert preview.status_code == 200
    page = text(preview)
    assert fr("Preview of the revert: nothing was changed yet.") in page
    assert fr("Records deleted: %(count)s", count=1) in page
    assert _invoices() == ["F001"] and not queued_reverts
    response = admin_client.post(f"{url}/revert", follow_redirects=True)
    assert fr("The revert is queued: this page says when it is done.") in text(response)
    page = text(admin_client.get(url))
    assert fr("Revert queued: a worker undoes this run shortly.") in page
    assert fr("Revert this run") not in page  # not twice
    assert _invoices() == ["F001"] and len(queued_reverts) == 1
    status = admin_client.get(f"{url}/status").get_json()
    assert status["revert_status"] == "queued"
    _work(queued_reverts)
    assert _invoices() == []
    assert admin_client.get(f"{url}/status").get_json()["revert_status"] == "done"
    page = text(admin_client.get(url))
    reverted = db.session.get(ImportRun, run.id)
    assert "Annulé le" in page and "par" in page
    assert admin_user.email in page and fr("Revert this run") not in page
    assert fr("Records deleted: %(count)s", count=1) in page
    assert reverted.reverted_by and admin_user.email in reverted.reverted_by
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "revert", AuditEvent.record_id == run.id)) is not None
    assert "data-reverted" in admin_client.get("/alpha/feeds/runs").data.decode()
    again = admin_client.post(f"{url}/revert", follow_redirects=True)
    assert fr("This run was already reverted.") in text(again)
    assert not queued_reverts


def test_a_failed_revert_says_why_and_can_be_asked_again(admin_client, invoice_profile,
                                                        start_run, queued_reverts):
    run = start_run(invoice_profile, HEADER, GOOD)
    url = f"/alpha/feeds/runs/{run.id}"
    admin_client.post(f"{url}/revert")
    profile = db.session.get(type(invoice_profile), invoice_profile.id)
    profile.locked_by_run_id = run.id + 1000  # a run of the feed started meanwhile
    db.session.commit()
    _work(queued_reverts)
    page = text(admin_client.get(url))
    assert fr("The revert failed, nothing was changed: %(reason)s", reason=fr(
        "A run of this profile is under way: revert once it has finished.")) in page
    assert _invoices() == ["F001"]
    profile = db.session.get(type(invoice_profile), invoice_profile.id)
    profile.locked_by_run_id = None
    db.session.commit()
    assert fr("Revert this run") in text(admin_client.get(url))
    admin_client.post(f"{url}/revert")
    _work(queued_reverts)
    assert _invoices() == []


def test_records_left_alone_are_listed_with_links(admin_client, invoice_profile, start_run,
                                                  queued_reverts):
    first = start_run(invoice_profile, HEADER, GOOD)
    assert first.created == 1
    run = start_run(invoice_profile, HEADER, GOOD.replace("1 234,56", "99,00"), force=True)
    assert run.updated == 1
    invoice = db.session.scalar(select(Invoice))
    update_record(invoice, {"status": "paid"})  # someone changes it after the run
    db.session.commit()
    url = f"/alpha/feeds/runs/{run.id}"
    admin_client.post(f"{url}/revert")
    _work(queued_reverts)
    page = admin_client.get(url).data.decode()
    assert f'href="/alpha/invoices/{invoice.id}"' in page
    assert fr("Records left alone, changed since by someone else: %(count)s", count=1) in \
        text(admin_client.get(url))


def test_sales_may_not_revert(sales_client, invoice_profile, start_run, queued_reverts):
    run = start_run(invoice_profile, HEADER, GOOD)
    url = f"/alpha/feeds/runs/{run.id}"
    assert fr("Revert this run") not in text(sales_client.get(url))
    assert sales_client.post(f"{url}/revert").status_code == 403
    assert sales_client.post(f"{url}/revert", data={"dry_run": "1"}).status_code == 403
    assert _invoices() == ["F001"] and not queued_reverts


def test_a_revert_needs_the_csrf_token(app, admin_client, invoice_profile, start_run,
                                      monkeypatch, queued_reverts):
    run = start_run(invoice_profile, HEADER, GOOD)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    url = f"/alpha/feeds/runs/{run.id}"
    assert admin_client.post(f"{url}/revert").status_code == 400
    assert _invoices() == ["F001"]
    token = _csrf_token(admin_client, url)
    assert not queued_reverts
    assert admin_client.post(f"{url}/revert", data={"csrf_token": token}).status_code == 302
    _work(queued_reverts)
    assert _invoices() == []


def test_an_admin_of_another_tenant_cannot_revert(app, invoice_profile, start_run,
                                                  other_tenant, in_tenant, queued_reverts):
    run = start_run(invoice_profile, HEADER, GOOD)
    outsider = in_tenant(other_tenant, make_user_in, "admin")
    client = login(app.test_client(), outsider, "beta")
    assert client.post(f"/beta/feeds/runs/{run.id}/revert").status_code == 404
    assert _invoices() == ["F001"] and not queued_reverts


def make_user_in(role: str):
    from app.services.tenants import create_user

    return create_user({"email": f"{role}@beta.example", "password": PASSWORD, "role": role})


def test_a_run_reverted_after_its_profile_changed_entity_undoes_what_it_imported(
        admin_client, invoice_profile, start_run, queued_reverts):
    run = start_run(invoice_profile, HEADER, GOOD)
    assert run.created == 1
    # The profile is then turned to another feed (a new version of it, for partners).
    feeds.update_profile(invoice_profile, {
        "name": "factures-nuit", "entity": "partners", "key": "external_ref",
        "columns": {"Code": "external_ref", "Nom": "name"}})
    db.session.commit()
    preview = admin_client.post(f"/alpha/feeds/runs/{run.id}/revert", data={"dry_run": "1"})
    assert fr("Records deleted: %(count)s", count=1) in text(preview)
    admin_client.post(f"/alpha/feeds/runs/{run.id}/revert")
    _work(queued_reverts)
    assert db.session.get(ImportRun, run.id).reverted_at is not None
    assert _invoices() == []  # what the run imported: an invoice, not a partner


def test_the_latest_file_sent_again_after_an_earlier_run_is_reverted_is_imported(
        admin_client, invoice_profile, start_run, queued_reverts):
    monday = start_run(invoice_profile, HEADER, GOOD)
    tuesday_file = (HEADER, GOOD, "F003;C001;31/12/2025;5,00;Durand")
    tuesday = start_run(invoice_profile, *tuesday_file)  # F001 unchanged, F003 new
    assert (monday.created, tuesday.unchanged, tuesday.created) == (1, 1, 1)
    admin_client.post(f"/alpha/feeds/runs/{monday.id}/revert")
    _work(queued_reverts)
    assert _invoices() == ["F003"]
    # Tuesday's file, sent again to put back what Monday's revert took out of it: not
    # "already imported".
    again = start_run(invoice_profile, *tuesday_file)
    db.session.expire_all()
    assert sorted(_invoices()) == ["F001", "F003"], again.message
    # Sent once more, it is the last import again: nothing to do.
    once_more = start_run(invoice_profile, *tuesday_file)
    page = text(admin_client.get(f"/alpha/feeds/runs/{once_more.id}"))
    assert fr("This file was already imported by run #%(run)d: nothing to do. Force the "
              "import to run it again.", run=again.id) in page


def test_a_revert_refused_by_the_worker_says_why_in_the_readers_language(
        admin_client, invoice_profile, start_run, queued_reverts):
    """A failed run's revert is queued; before the worker takes it, the admin runs the file
    again ("Run again"), whose go is still queued: the worker refuses the revert, and the
    French admin reads why in French, as he reads every other failed revert's reason."""
    run = start_run(invoice_profile, HEADER, GOOD)
    run.status = "failed"  # cut short after writing its record
    db.session.commit()
    url = f"/alpha/feeds/runs/{run.id}"
    admin_client.post(f"{url}/revert")
    assert len(queued_reverts) == 1
    again = ImportRun(profile_id=run.profile_id, profile_version=run.profile_version,
                      source="upload", file_name=run.file_name, file_size=run.file_size,
                      sha256=run.sha256, status="queued", started_by="admin")
    db.session.add(again)
    db.session.commit()
    jobs.revert_run(*queued_reverts.pop(0))
    db.session.expire_all()
    assert db.session.get(ImportRun, run.id).revert_status == "failed"
    assert list(db.session.scalars(select(Invoice.number))) == ["F001"]
    page = text(admin_client.get(url))
    assert fr("The revert failed, nothing was changed: %(reason)s", reason=fr(
        "Import #%(id)d is taking this file up again: revert once it has finished.",
        id=again.id)) in page


def test_a_reverts_counts_are_written_as_the_reader_writes_numbers(admin_client, tenant,
                                                                   make_profile, tmp_path):
    """"Fiches supprimées : 1 200", as the run's own counts beside it."""
    profile = make_profile("accounts", {"Code client": "external_ref",
                                        "Raison sociale": "name"}, name="clients-nuit")
    path = tmp_path / "clients.csv"
    path.write_text("Code client;Raison sociale\n" + "".join(
        f"C{i:05d};Client {i}\n" for i in range(1200)), encoding="utf-8")
    with path.open("rb") as stream:
        run = feeds.create_run(profile, stream, path.name, source="upload")
    db.session.commit()
    runs.run_import(run.id, tenant.id, max_wait=0)
    db.session.expire_all()
    request_revert(db.session.get(ImportRun, run.id))
    db.session.commit()
    jobs.revert_run(run.id, tenant.id)  # as a worker does
    page = text(admin_client.get(f"/alpha/feeds/runs/{run.id}"))
    assert fr("Records deleted: %(count)s", count="1 200").translate(SPACES) in page
