"""Import runs from the back office: upload, queue, watch, read the errors, fix and re-send,
dry runs made real, interrupted runs run again, and the limits on uploads."""
from __future__ import annotations

import base64
import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ImportRun, Invoice
from app.services import feeds
from app.services.tenants import create_user
from importers import jobs, recovery, runs
from importers.errors_csv import error_message
from tests.backoffice.conftest import SPACES, count_rows, fr, text
from tests.backoffice.test_feeds.conftest import BAD, GOOD, HEADER, csv_file
from tests.conftest import PASSWORD, login


def _invoice(number: str) -> Invoice | None:
    db.session.expire_all()
    return db.session.scalar(select(Invoice).where(Invoice.number == number))


def test_an_upload_is_stored_queued_and_handed_to_the_workers(app, admin_client, tenant,
                                                              invoice_profile, monkeypatch):
    calls = []
    monkeypatch.setattr(jobs, "submit", lambda *args: calls.append(args))
    response = admin_client.post(f"/alpha/feeds/profiles/{invoice_profile.id}/runs",
                                 data={"file": csv_file(HEADER, GOOD, name="nuit.csv")},
                                 content_type="multipart/form-data")
    run = db.session.scalar(select(ImportRun))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/alpha/feeds/runs/{run.id}")
    assert calls == [(app, run.id, tenant.id)]
    assert run.status == "queued" and run.source == "upload" and run.file_name == "nuit.csv"
    assert Path(feeds.run_file_path(run)).stat().st_size == run.file_size
    page = text(admin_client.get(f"/alpha/feeds/runs/{run.id}"))
    assert fr("Queued") in page and run.sha256 in page and "nuit.csv" in page
    runs.run_import(run.id, tenant.id)  # what a worker does
    assert _invoice("F001").total == Decimal("1234.56")


def test_the_run_page_shows_counts_and_row_errors(admin_client, admin_user, invoice_profile,
                                                  start_run, submitted):
    run = start_run(invoice_profile, HEADER, GOOD, BAD)
    assert submitted == [(run.id, invoice_profile.tenant_id)]
    assert run.status == "partial" and (run.created, run.failed) == (1, 1)
    response = admin_client.get(f"/alpha/feeds/runs/{run.id}")
    page = text(response)
    for shown in (fr("Partly imported"), "factures-nuit", "v1", admin_user.email,
                  fr("Web upload"), "Code client", "C404"):
        assert shown in page
    error = run_errors(run)[0]
    assert (error.line, error.column, error.value) == (3, "Code client", "C404")
    assert error_message(error).translate(SPACES) in page  # in the reader's language
    counts = dict(re.findall(r'data-count="(\w+)">([^<]*)<', response.data.decode()))
    assert counts == {"created": "1", "updated": "0", "unchanged": "0", "failed": "1",
                      "archived": "0"}


def test_a_dry_run_reads_as_a_dry_run_in_both_languages(admin_client, invoice_profile,
                                                         start_run, add_run):
    dry = start_run(invoice_profile, HEADER, GOOD, BAD, dry_run=True)
    assert dry.status == "partial" and (dry.created, dry.failed) == (1, 1)
    outcome = "Essai à blanc : 1 ligne serait créée, 1 en erreur"
    for url in (f"/alpha/feeds/runs/{dry.id}", "/alpha/feeds/runs",
                f"/alpha/feeds/profiles/{invoice_profile.id}"):
        response = admin_client.get(url)
        badges = " ".join(re.findall(r'<span class="badge[^>]*>([^<]*)<', response.data.decode()))
        assert outcome in text(response) and fr("Partly imported") not in badges, url
    english = admin_client.get(f"/alpha/feeds/runs/{dry.id}",
                               headers={"Accept-Language": "en"})
    assert "Dry run: 1 row would be created, 1 in error" in text(english)
    state = admin_client.get(f"/alpha/feeds/runs/{dry.id}/status").get_json()
    assert state["status"] == "partial" and state["status_label"] == outcome  # code kept
    big = add_run(invoice_profile, dry_run=True, rows=123, failed=3)
    assert "Essai à blanc : 120 lignes seraient créées, 3 en erreur" in text(
        admin_client.get(f"/alpha/feeds/runs/{big.id}"))


def run_errors(run: ImportRun) -> list:
    from app.models import ImportRowError

    return list(db.session.scalars(select(ImportRowError).where(
        ImportRowError.run_id == run.id).order_by(ImportRowError.line)))


def test_the_status_feeds_the_progress_bar(admin_client, invoice_profile, start_run):
    run = start_run(invoice_profile, HEADER, GOOD, BAD)
    state = admin_client.get(f"/alpha/feeds/runs/{run.id}/status").get_json()
    assert state["finished"] is True and state["status"] == "partial"
    assert state["percent"] == 100 and state["rows_done"] == state["rows_total"] == 2
    assert state["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "failed": 1,
                               "archived": 0}


def test_a_running_run_is_watched_live(admin_client, invoice_profile, start_run):
    run = start_run(invoice_profile, HEADER, GOOD)
    run.status, run.finished_at, run.rows_done, run.rows_total = "running", None, 500, 2000
    db.session.commit()
    state = admin_client.get(f"/alpha/feeds/runs/{run.id}/status").get_json()
    assert state["finished"] is False and state["percent"] == 25
    page = admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode()
    # The bar's width comes from feeds.js (the CSP refuses style attributes).
    assert 'data-percent="25"' in page and "style=" not in page and "js/feeds.js" in page


def test_the_errors_csv_holds_the_failing_rows_to_fix_and_send_back(
        admin_client, invoice_profile, start_run):
    run = start_run(invoice_profile, HEADER, GOOD, BAD, "F003;C001;32/13/2025;5,00;")
    response = admin_client.get(f"/alpha/feeds/runs/{run.id}/errors.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f"import-{run.id}-errors.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [*HEADER.split(";"), fr("Line"), fr("Error")]
    assert [row[:6] for row in rows[1:]] == [[*BAD.split(";"), "3"],
                                             ["F003", "C001", "32/13/2025", "5,00", "", "4"]]
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    # Each message after its column, as the reader's language writes it ("Date : …").
    assert rows[1][6].startswith("Code client\u00a0: ") and "C404" in rows[1][6]
    assert rows[2][6].startswith("Date\u00a0: ")
    # Fixed, the file goes back as it is: the error columns are not mapped.
    fixed = [";".join([*row[:5]]).replace("C404", "C001").replace("32/13", "30/12")
             for row in rows[1:]]
    again = start_run(invoice_profile, ";".join(rows[0]), *(f"{r};3;x" for r in fixed))
    assert again.status == "succeeded" and again.created == 2


def test_the_errors_csv_neutralises_formulas_of_the_sent_cells(
        admin_client, invoice_profile, start_run):
    formula = '=HYPERLINK("http://evil.example/")'
    run = start_run(invoice_profile, HEADER, f"@SUM(A1);C404;31/12/2025;-12,50;{formula}",
                    "F005;C001;31/12/2025;+1+2;Durand")
    response = admin_client.get(f"/alpha/feeds/runs/{run.id}/errors.csv")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert [row[:5] for row in rows[1:]] == [
        ["'@SUM(A1)", "C404", "31/12/2025", "-12,50", "'" + formula],  # a number stays one
        ["F005", "C001", "31/12/2025", "'+1+2", "Durand"]]


def test_errors_are_paged_a_hundred_at_a_time(admin_client, invoice_profile, start_run):
    lines = [f"E{i:03d};C404;31/12/2025;1,00;" for i in range(130)]
    run = start_run(invoice_profile, HEADER, *lines)
    first = admin_client.get(f"/alpha/feeds/runs/{run.id}")
    shown = re.findall(r"<tr><td[^>]*>(\d+)</td>", first.data.decode())
    assert len(shown) == 100 and shown[0] == "2"
    after = re.search(r'rel="next" href="([^"]+)"', first.data.decode()).group(1)
    second = admin_client.get(after.replace("&amp;", "&"))
    assert re.findall(r"<tr><td[^>]*>(\d+)</td>", second.data.decode())[0] == "102"


@pytest.mark.parametrize("page", ["/alpha/feeds/runs", "/alpha/feeds/runs/{run}"])
def test_a_hostile_cursor_on_runs_and_errors_shows_the_first_page(
        admin_client, invoice_profile, start_run, page):
    run = start_run(invoice_profile, HEADER, BAD)
    nested = base64.urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).decode()
    for params in ({"after": nested}, {"before": nested}):
        response = admin_client.get(page.format(run=run.id), query_string=params)
        assert response.status_code == 200
        page_text = text(response)
        assert fr("This link to a page of the list is no longer valid: here is the first "
                  "page.") in page_text
        assert "C404" in page_text or "factures-nuit" in page_text


def test_a_dry_run_shows_the_changes_then_runs_for_real(admin_client, invoice_profile,
                                                        start_run, submitted):
    start_run(invoice_profile, HEADER, GOOD)
    dry = start_run(invoice_profile, HEADER, "F001;C001;31/12/2025;99,00;Nexity", dry_run=True)
    assert dry.is_dry_run and dry.updated == 1
    assert _invoice("F001").total == Decimal("1234.56")  # nothing written
    response = admin_client.get(f"/alpha/feeds/runs/{dry.id}")
    page = text(response)
    # Labels and amounts as the reader reads them, not columns and stored values.
    assert "Total TTC: 1 234,56 € → 99,00 €" in page and "Promoteur: Durand → Nexity" in page
    assert f"/alpha/feeds/runs/{dry.id}/apply" in response.get_data(as_text=True)
    response = admin_client.post(f"/alpha/feeds/runs/{dry.id}/apply")
    real = db.session.scalar(select(ImportRun).order_by(ImportRun.id.desc()))
    assert response.headers["Location"].endswith(f"/alpha/feeds/runs/{real.id}")
    assert not real.is_dry_run and real.sha256 == dry.sha256 and real.updated == 1
    assert _invoice("F001").total == 99


def test_a_failed_dry_run_offers_no_real_import_and_refuses_one(admin_client, invoice_profile,
                                                                start_run, submitted):
    dry = start_run(invoice_profile, HEADER, BAD, dry_run=True)
    assert dry.status == "failed"
    page = admin_client.get(f"/alpha/feeds/runs/{dry.id}").get_data(as_text=True)
    assert f"/alpha/feeds/runs/{dry.id}/apply" not in page
    response = admin_client.post(f"/alpha/feeds/runs/{dry.id}/apply")
    assert response.headers["Location"].endswith(f"/alpha/feeds/runs/{dry.id}")
    assert db.session.scalar(select(ImportRun).order_by(ImportRun.id.desc())).id == dry.id
    assert fr("Only a finished dry run can be imported for real.") in text(
        admin_client.get(f"/alpha/feeds/runs/{dry.id}"))


def test_an_interrupted_run_is_run_again(admin_client, tenant, invoice_profile, monkeypatch,
                                         submitted):
    run = feeds.create_run(invoice_profile, csv_file(HEADER, GOOD)[0], "nuit.csv",
                             source="cli")
    run.status = "interrupted"
    db.session.commit()
    page = text(admin_client.get(f"/alpha/feeds/runs/{run.id}"))
    assert fr("Interrupted") in page and fr("Run again") in page
    response = admin_client.post(f"/alpha/feeds/runs/{run.id}/rerun")
    again = db.session.scalar(select(ImportRun).where(ImportRun.id != run.id))
    assert response.headers["Location"].endswith(f"/alpha/feeds/runs/{again.id}")
    assert again.status == "succeeded" and again.created == 1 and again.sha256 == run.sha256
    finished = admin_client.post(f"/alpha/feeds/runs/{again.id}/rerun", follow_redirects=True)
    assert fr("Only an interrupted or failed run can be run again.") in text(finished)
    assert count_rows(ImportRun) == 2


def test_the_same_file_again_is_recognised(admin_client, invoice_profile, start_run, submitted):
    first = start_run(invoice_profile, HEADER, GOOD)
    second = start_run(invoice_profile, HEADER, GOOD)
    assert second.status == "succeeded" and submitted == [(first.id, first.tenant_id)]
    page = text(admin_client.get(f"/alpha/feeds/runs/{second.id}"))
    assert fr("This file was already imported by run #%(run)d: nothing to do. Force the "
              "import to run it again.", run=first.id) in page
    forced = start_run(invoice_profile, HEADER, GOOD, force=True)
    assert forced.unchanged == 1 and forced.created == 0


def test_an_upload_needs_a_file(admin_client, invoice_profile):
    response = admin_client.post(f"/alpha/feeds/profiles/{invoice_profile.id}/runs", data={},
                                 follow_redirects=True)
    assert response.request.path == f"/alpha/feeds/profiles/{invoice_profile.id}"
    assert count_rows(ImportRun) == 0


def _csrf_token(client, path: str) -> str:
    page = client.get(path).data.decode()
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_imports_may_be_larger_than_other_uploads_up_to_their_own_limit(
        app, admin_client, invoice_profile, submitted, csrf_on, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2_000)
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 20_000)
    url = f"/alpha/feeds/profiles/{invoice_profile.id}"
    lines = [f"F{i:04d};C001;31/12/2025;1,00;" for i in range(200)]  # ~6 kB
    response = admin_client.post(f"{url}/runs", content_type="multipart/form-data", data={
        "csrf_token": _csrf_token(admin_client, url), "file": csv_file(HEADER, *lines)})
    assert response.status_code == 302 and "/feeds/runs/" in response.headers["Location"]
    assert db.session.scalar(select(ImportRun)).created == 200


@pytest.mark.parametrize("size", [30_000, 200_000])
def test_a_file_over_the_import_limit_is_refused_with_a_message(
        app, admin_client, invoice_profile, size, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 20_000)
    url = f"/alpha/feeds/profiles/{invoice_profile.id}"
    response = admin_client.post(f"{url}/runs", content_type="multipart/form-data",
                                 data={"file": (io.BytesIO(b"x" * size), "huge.csv")},
                                 follow_redirects=True)
    assert response.request.path == url
    assert fr("The file is larger than %(kb)d KB.", kb=19) in text(response)
    assert count_rows(ImportRun) == 0


def _listed(response) -> list[int]:
    return [int(i) for i in re.findall(r'class="fw-semibold" href="/alpha/feeds/runs/(\d+)">#',
                                       response.data.decode())]


def test_the_runs_list_filters_and_pages_newest_first(app, admin_client, invoice_profile,
                                                      add_run, monkeypatch):
    clients = feeds.create_profile({"name": "clients", "entity": "accounts",
                                      "columns": {"Code": "external_ref"}})
    db.session.commit()
    runs = [add_run(invoice_profile, "succeeded"), add_run(invoice_profile, "failed"),
            add_run(clients, "failed"), add_run(invoice_profile, "failed")]
    ids = [run.id for run in runs]
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    first = admin_client.get("/alpha/feeds/runs")
    assert _listed(first) == [ids[3], ids[2]] and "clients" in text(first)
    after = re.search(r'rel="next" href="([^"]+)"', first.data.decode()).group(1)
    assert _listed(admin_client.get(after.replace("&amp;", "&"))) == [ids[1], ids[0]]
    filtered = admin_client.get(f"/alpha/feeds/runs?profile={invoice_profile.id}&status=failed")
    assert _listed(filtered) == [ids[3], ids[1]]
    assert _listed(admin_client.get("/alpha/feeds/runs?status=nonsense")) == [ids[3], ids[2]]


def _post_large_import(client, profile_id: int, size: int):
    return client.post(f"/alpha/feeds/profiles/{profile_id}/runs",
                       content_type="multipart/form-data",
                       data={"file": (io.BytesIO(b"x" * size), "big.csv")})


@pytest.mark.parametrize("who", ["sales", "agent", "other_tenant_admin", "anonymous"])
def test_only_an_admin_of_the_tenant_may_send_an_import_sized_body(
        app, who, invoice_profile, make_user, make_partner, other_tenant, in_tenant,
        monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    client = app.test_client()
    if who == "other_tenant_admin":
        admin = in_tenant(other_tenant, create_user, {
            "email": "admin@beta.example", "password": PASSWORD, "role": "admin"})
        db.session.commit()
        login(client, admin, other_tenant.slug)
    elif who != "anonymous":
        extra = {"partner_id": make_partner().id} if who == "agent" else {}
        user = make_user(who, **extra)
        response = client.post("/alpha/portal/login" if who == "agent" else "/alpha/login",
                               data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302
    response = _post_large_import(client, invoice_profile.id, 10 * 1024 * 1024)
    assert response.status_code == 413
    assert count_rows(ImportRun) == 0


def test_an_admin_may_send_an_import_larger_than_other_uploads(
        app, admin_client, invoice_profile, submitted, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 32_000)
    lines = [f"F{i:05d};C001;31/12/2025;1,00;" for i in range(2_000)]  # ~60 kB
    response = admin_client.post(f"/alpha/feeds/profiles/{invoice_profile.id}/runs",
                                 content_type="multipart/form-data",
                                 data={"file": csv_file(HEADER, *lines)})
    assert response.status_code == 302 and "/feeds/runs/" in response.headers["Location"]
    assert count_rows(ImportRun) == 1


def _send_corrected(client, run: ImportRun, *lines: str, **extra):
    return client.post(f"/alpha/feeds/runs/{run.id}/corrected", content_type="multipart/form-data",
                       data={"file": csv_file(*lines, name="corrige.csv"), **extra})


def test_the_corrected_file_goes_back_from_the_run_page_with_the_same_options(
        admin_client, invoice_profile, start_run, make_account):
    dry = start_run(invoice_profile, HEADER, GOOD, BAD, dry_run=True)
    page = text(admin_client.get(f"/alpha/feeds/runs/{dry.id}"))
    assert fr("Upload the corrected file") in page
    make_account(external_ref="C404")  # the fix: the customer now exists
    response = _send_corrected(admin_client, dry, HEADER, GOOD, BAD)
    db.session.expire_all()
    again = db.session.scalar(select(ImportRun).order_by(ImportRun.id.desc()))
    assert response.headers["Location"].endswith(f"/alpha/feeds/runs/{again.id}")
    assert again.id != dry.id and again.profile_id == invoice_profile.id
    assert again.is_dry_run and again.file_name == "corrige.csv" and again.source == "upload"
    assert (again.created, again.failed) == (2, 0) and _invoice("F002") is None  # still dry
    english = text(en_client(admin_client).get(f"/alpha/feeds/runs/{again.id}"))
    assert "Upload the corrected file" not in english  # no errors left to correct


def en_client(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_a_real_runs_correction_is_a_real_import(admin_client, invoice_profile, start_run,
                                                 make_account):
    run = start_run(invoice_profile, HEADER, GOOD, BAD)
    make_account(external_ref="C404")
    _send_corrected(admin_client, run, HEADER, BAD)
    assert _invoice("F002") is not None


def test_a_corrected_file_is_checked_as_any_upload(app, admin_client, invoice_profile,
                                                   add_run, monkeypatch):
    run = add_run(invoice_profile, "partial", failed=1)
    url = f"/alpha/feeds/runs/{run.id}"
    missing = admin_client.post(f"{url}/corrected", data={}, follow_redirects=True)
    assert missing.request.path == url and count_rows(ImportRun) == 1
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 20_000)
    huge = admin_client.post(f"{url}/corrected", content_type="multipart/form-data",
                             data={"file": (io.BytesIO(b"x" * 30_000), "huge.csv")},
                             follow_redirects=True)
    assert huge.request.path == url
    assert fr("The file is larger than %(kb)d KB.", kb=19) in text(huge)
    assert count_rows(ImportRun) == 1


def test_a_corrected_file_needs_the_csrf_token(admin_client, invoice_profile, add_run,
                                               submitted, csrf_on):
    run = add_run(invoice_profile, "partial", failed=1)
    refused = _send_corrected(admin_client, run, HEADER, GOOD)
    assert refused.status_code in (302, 400) and count_rows(ImportRun) == 1
    token = _csrf_token(admin_client, f"/alpha/feeds/runs/{run.id}")
    accepted = _send_corrected(admin_client, run, HEADER, GOOD, csrf_token=token)
    assert accepted.status_code == 302 and count_rows(ImportRun) == 2


def test_only_an_admin_may_send_a_corrected_file(app, invoice_profile, add_run, make_user):
    run = add_run(invoice_profile, "partial", failed=1)
    sales = app.test_client()
    login(sales, make_user("sales"), "alpha")
    page = text(sales.get(f"/alpha/feeds/runs/{run.id}"))
    assert fr("Upload the corrected file") not in page
    assert _send_corrected(sales, run, HEADER, GOOD).status_code == 403
    assert count_rows(ImportRun) == 1


def test_row_errors_read_in_the_language_of_whoever_reads_them(admin_client, invoice_profile,
                                                              start_run):
    run = start_run(invoice_profile, HEADER, "F009;C001;32/12/2025;1,00;Nexity")
    french = text(admin_client.get(f"/alpha/feeds/runs/{run.id}"))
    assert "« 32/12/2025 » n’est pas une date : écrivez-la comme 31/12/2025." in french
    csv_fr = admin_client.get(f"/alpha/feeds/runs/{run.id}/errors.csv").data.decode()
    assert "Date\u00a0: « 32/12/2025 » n’est pas une date" in csv_fr
    english_client = en_client(admin_client)
    english = text(english_client.get(f"/alpha/feeds/runs/{run.id}"))
    assert "“32/12/2025” is not a date: write it as 31/12/2025." in english
    csv_en = english_client.get(f"/alpha/feeds/runs/{run.id}/errors.csv").data.decode()
    assert "Date: “32/12/2025” is not a date: write it as 31/12/2025." in csv_en
    assert csv_en.splitlines()[0].endswith(";Line;Error")


def test_an_interrupted_run_says_so_in_the_reader_s_language_and_not_at_100_percent(
        admin_client, invoice_profile, submitted):
    with io.BytesIO(f"{HEADER}\r\n{GOOD}\r\n".encode("cp1252")) as stream:
        run = feeds.create_run(invoice_profile, stream, "factures.csv", source="upload")
    run.status, run.rows_done = "running", 40
    db.session.commit()
    runs.end_run(run.id, "interrupted", recovery.INTERRUPTED)  # as the recovery ends it
    db.session.commit()
    page = text(admin_client.get(f"/alpha/feeds/runs/{run.id}"))
    assert fr(recovery.INTERRUPTED) in page and recovery.INTERRUPTED not in page
    assert db.session.get(ImportRun, run.id).rows_total is None  # its file was not read whole


def test_a_one_row_files_progress_says_one_row(admin_client, tenant, make_profile, tmp_path):
    """"1 / 1 ligne", not "1 / 1 lignes"."""
    profile = make_profile("accounts", {"Code client": "external_ref",
                                        "Raison sociale": "name"}, name="clients-nuit")
    path = tmp_path / "clients.csv"
    path.write_text("Code client;Raison sociale\nC1;Client 1\n", encoding="utf-8")
    with path.open("rb") as stream:
        run = feeds.create_run(profile, stream, path.name, source="upload")
    db.session.commit()
    runs.run_import(run.id, tenant.id, max_wait=0)
    page = text(admin_client.get(f"/alpha/feeds/runs/{run.id}"))
    assert re.search(r"\b1 / 1 ligne · [\d ]+ lignes/s", page), page[:3000]


def test_a_dry_run_is_not_imported_for_real_with_a_profile_changed_since(
        admin_client, invoice_profile, start_run):
    """The dry run said one invoice would be created; the profile was turned to "update
    only" since. "Import for real" would import with the new version, not what the dry run
    showed: it is refused, saying why."""
    dry = start_run(invoice_profile, HEADER, GOOD, dry_run=True)
    assert dry.created == 1 and dry.profile_version == 1
    feeds.update_profile(invoice_profile, {**invoice_profile.definition, "mode": "update"})
    db.session.commit()
    response = admin_client.post(f"/alpha/feeds/runs/{dry.id}/apply", follow_redirects=True)
    assert fr("The profile was changed since this dry run (version %(then)d, now %(now)d): "
              "run the dry run again to see what the file would do now.", then=1, now=2) \
        in text(response)
    assert db.session.scalar(select(db.func.count(ImportRun.id))) == 1


def test_an_old_runs_archived_records_are_those_of_the_entity_it_archived(
        admin_client, tenant, start_run):
    """A full-sync run of customers archived one; its profile feeds contacts since. The run's
    "See the archived records" still leads to the customers."""
    profile = feeds.create_profile({"name": "clients", "entity": "accounts", "full_sync": True,
                                    "columns": {"Code": "external_ref", "Nom": "name"}})
    db.session.commit()
    start_run(profile, "Code;Nom", "C1;Un", "C2;Deux")
    second = start_run(profile, "Code;Nom", "C1;Un", force=True)
    assert second.archived == 1
    feeds.update_profile(profile, {"name": "clients", "entity": "contacts",
                                   "columns": {"Code": "external_ref", "Nom": "last_name"}})
    db.session.commit()
    page = admin_client.get(f"/alpha/feeds/runs/{second.id}").get_data(as_text=True)
    assert re.findall(r'href="(/alpha/[a-z_]+/\?archived=1)"', page) == [
        "/alpha/accounts/?archived=1"]
