"""/api/v1/imports: upload (202, the run goes on outside the request), status, counts and
errors (JSON and CSV), lists, and tenant isolation."""
from __future__ import annotations

import csv
import io
import json
import time

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, ImportRun, Partner
from importers import jobs
from tests.api.conftest import PARTNERS_CSV, problem, run_queued, upload


def test_an_upload_answers_202_and_the_run_goes_on_outside_the_request(
        api_client, tenant, partners_profile, queued_jobs):
    response = upload(api_client)
    assert response.status_code == 202, response.data
    run = response.get_json()
    assert run["status"] == "queued" and run["source"] == "api"
    assert response.headers["Location"] == f"/api/v1/imports/{run['id']}"
    assert queued_jobs == [(run["id"], tenant.id)]
    assert db.session.scalar(select(func.count()).select_from(Partner)) == 0
    run_queued(queued_jobs)
    assert db.session.scalar(select(func.count()).select_from(Partner)) == 2


def test_a_run_shows_status_counts_progress_file_profile_and_errors(
        api_client, partners_profile, queued_jobs):
    run_id = upload(api_client).get_json()["id"]
    run_queued(queued_jobs)
    response = api_client.get(f"/api/v1/imports/{run_id}")
    assert response.status_code == 200
    run = response.get_json()
    assert run["status"] == "partial"
    assert run["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "fingerprinted": 0,
                             "failed": 1, "archived": 0, "attached": 0}
    assert run["progress"] == {"rows_done": 3, "rows_total": 3}
    assert run["file"]["name"] == "partenaires.csv"
    assert run["file"]["size"] == len(PARTNERS_CSV) and len(run["file"]["sha256"]) == 64
    assert run["profile"] == {"id": partners_profile.id, "name": "partenaires", "version": 1}
    assert run["started_by"].startswith("api:ERP nightly")
    assert run["started_at"] and run["finished_at"] and run["dry_run"] is False
    assert run["errors"] == [{"line": 3, "column": "Mail", "value": "pas-un-mail",
                              "message": run["errors"][0]["message"],
                              "code": "Enter a valid e-mail address.", "params": {}}]
    assert run["errors"][0]["message"] and run["more_errors"] is False
    assert response.headers["ETag"]
    again = api_client.get(f"/api/v1/imports/{run_id}",
                           headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_a_run_executes_in_the_worker_pool(api_client, partners_profile):
    run_id = upload(api_client).get_json()["id"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        run = api_client.get(f"/api/v1/imports/{run_id}").get_json()
        if run["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert run["status"] == "partial" and run["counts"]["created"] == 2


def test_the_errors_come_as_json_pages_and_as_the_csv_to_send_back(
        api_client, partners_profile, queued_jobs):
    data = PARTNERS_CSV + "P4;Agence Sud;sud@\r\n".encode("cp1252")
    run_id = upload(api_client, data).get_json()["id"]
    run_queued(queued_jobs)
    first = api_client.get(f"/api/v1/imports/{run_id}/errors?limit=1")
    assert first.status_code == 200
    assert [e["line"] for e in first.get_json()] == [3]
    cursor = json.loads(first.headers["X-Pagination"])["next_cursor"]
    assert cursor and 'rel="next"' in first.headers["Link"]
    second = api_client.get(f"/api/v1/imports/{run_id}/errors?limit=1&cursor={cursor}")
    assert [e["line"] for e in second.get_json()] == [5]
    assert json.loads(second.headers["X-Pagination"])["next_cursor"] is None

    as_csv = api_client.get(f"/api/v1/imports/{run_id}/errors",
                            headers={"Accept": "text/csv"})
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert "attachment" in as_csv.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True).lstrip("\ufeff")),
                           delimiter=";"))
    assert rows[0][:3] == ["Code", "Nom", "Mail"] and len(rows[0]) == 5
    assert [row[:4] for row in rows[1:]] == [
        ["P2", "Agence Côte d’Azur", "pas-un-mail", "3"], ["P4", "Agence Sud", "sud@", "5"]]
    assert rows[1][4].startswith("Mail")


def test_the_errors_csv_neutralises_formulas(api_client, partners_profile, queued_jobs):
    data = PARTNERS_CSV + "P5;=cmd|' /C calc'!A0;-@\r\n".encode("cp1252")
    run_id = upload(api_client, data).get_json()["id"]
    run_queued(queued_jobs)
    as_csv = api_client.get(f"/api/v1/imports/{run_id}/errors", headers={"Accept": "text/csv"})
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True).lstrip("\ufeff")),
                           delimiter=";"))
    assert rows[-1][:4] == ["P5", "'=cmd|' /C calc'!A0", "'-@", "5"]


def test_a_dry_run_writes_nothing(api_client, partners_profile, queued_jobs):
    run_id = upload(api_client, dry_run="true").get_json()["id"]
    run_queued(queued_jobs)
    run = api_client.get(f"/api/v1/imports/{run_id}").get_json()
    assert run["dry_run"] is True and run["counts"]["created"] == 2
    assert db.session.scalar(select(func.count()).select_from(Partner)) == 0


def test_the_same_file_again_is_recognised_unless_forced(
        api_client, partners_profile, queued_jobs):
    good = PARTNERS_CSV.replace(b"pas-un-mail", b"cote@example.com")
    upload(api_client, good)
    run_queued(queued_jobs)
    again = upload(api_client, good).get_json()
    assert again["status"] == "succeeded" and again["message"] and queued_jobs == []
    forced = upload(api_client, good, force="true").get_json()
    assert forced["status"] == "queued" and forced["forced"] is True
    run_queued(queued_jobs)
    counts = api_client.get(f"/api/v1/imports/{forced['id']}").get_json()["counts"]
    assert counts["unchanged"] == 3 and counts["fingerprinted"] == 3


def test_the_profile_may_be_named_by_id(api_client, partners_profile, queued_jobs):
    response = upload(api_client, profile=str(partners_profile.id))
    assert response.status_code == 202


@pytest.mark.parametrize("fields, error", [
    ({"profile": "inconnu"}, "profile"), ({"profile": ""}, "profile"),
    ({"profile": "²"}, "profile"), ({"profile": "١٢"}, "profile"),  # digits, not ASCII ones
    ({"dry_run": "peut-être"}, "dry_run"),
])
def test_an_invalid_upload_answers_422(api_client, partners_profile, queued_jobs, fields,
                                       error):
    assert error in problem(upload(api_client, **fields), 422)["errors"]
    assert queued_jobs == []


def test_an_upload_needs_a_file(api_client, partners_profile):
    response = api_client.post("/api/v1/imports", data={"profile": "partenaires"},
                               content_type="multipart/form-data")
    assert "file" in problem(response, 422)["errors"]
    empty = upload(api_client, b"")
    assert "file" in problem(empty, 422)["errors"]


def test_feeds_may_be_larger_than_other_requests(
        app, api_client, client, partners_profile, queued_jobs, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 200)
    assert upload(api_client).status_code == 202
    problem(upload(client), 413)  # without a token, the app's own limit holds
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 100)
    assert "file" in problem(upload(api_client), 422)["errors"]


def test_runs_list_newest_first_by_cursor_with_filters(
        api_client, partners_profile, queued_jobs):
    ids = [upload(api_client, PARTNERS_CSV + f"P{n};Agence {n};\r\n".encode()).get_json()["id"]
           for n in range(5, 8)]
    run_queued(queued_jobs[:1])
    first = api_client.get("/api/v1/imports?limit=2")
    assert [r["id"] for r in first.get_json()] == ids[::-1][:2]
    assert "errors" not in first.get_json()[0]
    cursor = json.loads(first.headers["X-Pagination"])["next_cursor"]
    rest = api_client.get(f"/api/v1/imports?limit=2&cursor={cursor}")
    assert [r["id"] for r in rest.get_json()] == [ids[0]]
    queued = api_client.get("/api/v1/imports?status=queued").get_json()
    assert sorted(r["id"] for r in queued) == ids[1:]
    assert "cursor" in problem(api_client.get("/api/v1/imports?cursor=nonsense"), 422)["errors"]
    assert "status" in problem(api_client.get("/api/v1/imports?status=done"), 422)["errors"]


def test_another_tenants_runs_are_invisible(
        api_client, other_api_client, partners_profile, queued_jobs):
    run_id = upload(api_client).get_json()["id"]
    run_queued(queued_jobs)
    problem(other_api_client.get(f"/api/v1/imports/{run_id}"), 404)
    problem(other_api_client.get(f"/api/v1/imports/{run_id}/errors"), 404)
    problem(other_api_client.get(f"/api/v1/imports/{run_id}/errors",
                                 headers={"Accept": "text/csv"}), 404)
    assert other_api_client.get("/api/v1/imports").get_json() == []
    refused = upload(other_api_client, profile="partenaires")
    assert "profile" in problem(refused, 422)["errors"]
    refused = upload(other_api_client, profile=str(partners_profile.id))
    assert "profile" in problem(refused, 422)["errors"]


def test_an_upload_is_audited_as_the_token(api_client, partners_profile, queued_jobs):
    run_id = upload(api_client).get_json()["id"]
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "import_runs", AuditEvent.record_id == run_id)).one()
    assert event.actor_kind == "token" and event.actor_label.startswith("api:ERP nightly")
    assert db.session.get(ImportRun, run_id).source == "api"


def test_the_worker_entry_point_is_the_jobs_module(api_client, partners_profile, monkeypatch):
    calls = []
    monkeypatch.setattr(jobs, "submit", lambda *args: calls.append(args))
    upload(api_client)
    assert len(calls) == 1 and calls[0][0] is api_client.application


GOOD_CSV = PARTNERS_CSV.replace(b"pas-un-mail", b"cote@example.com")


def test_the_already_imported_message_follows_the_readers_language(
        api_client, partners_profile, queued_jobs):
    """An integrator's job (Accept-Language: en) sends last night's file again; a French
    colleague reads the run (Accept-Language: fr): its message must be in French, as every
    other run message is (docs/api.md: messages follow Accept-Language)."""
    first = api_client.post(
        "/api/v1/imports", headers={"Accept-Language": "en"}, content_type="multipart/form-data",
        data={"profile": "partenaires", "file": (io.BytesIO(GOOD_CSV), "p.csv")})
    assert first.status_code == 202
    run_queued(queued_jobs)
    again = api_client.post(
        "/api/v1/imports", headers={"Accept-Language": "en"}, content_type="multipart/form-data",
        data={"profile": "partenaires", "file": (io.BytesIO(GOOD_CSV), "p.csv")})
    assert again.status_code == 202
    run_id = again.get_json()["id"]
    assert again.get_json()["message"].startswith("This file was already imported")
    french = api_client.get(f"/api/v1/imports/{run_id}",
                            headers={"Accept-Language": "fr"}).get_json()["message"]
    assert french.replace("\u00a0", " ") == (
        "Ce fichier a déjà été importé par l’import n°1 : rien à faire. "
        "Forcez l’import pour le relancer."), french


def test_a_misspelt_dry_run_field_is_refused_not_imported_for_real(
        api_client, partners_profile, queued_jobs):
    """An integrator's script asks a dry run as `dryrun=true` (or `dry-run`, `dryRun`): the
    OpenAPI document declares the upload's fields with additionalProperties: false, and the
    API refuses a misspelt query parameter precisely so that a dry run never ends in a real
    write; the misspelt form field is silently dropped and the file imported for real."""
    response = api_client.post(
        "/api/v1/imports", content_type="multipart/form-data",
        data={"profile": "partenaires", "dryrun": "true",
              "file": (io.BytesIO(GOOD_CSV), "p.csv")})
    assert response.status_code == 422, response.get_json()
    assert "dryrun" in response.get_json()["errors"]
    assert queued_jobs == []


# marshmallow's English defaults, answered to a French reader (what a form-field or filter
# mistake on the import endpoints says).
ENGLISH_DEFAULTS = ("Missing data for required field.", "Not a valid boolean.",
                    "Not a valid integer.", "Not a valid mapping type.")


@pytest.mark.parametrize("method, url, kwargs, field", [
    ("post", "/api/v1/imports", {"data": {"profile": "partenaires"}}, "file"),
    ("post", "/api/v1/imports", {"data": {"profile": "partenaires", "dry_run": "peut-être",
                                          "file": "FILE"}}, "dry_run"),
    ("post", "/api/v1/imports", {"data": {"profile": "x" * 101,
                                          "file": "FILE"}}, "profile"),
    ("get", "/api/v1/imports?status=done", {}, "status"),
    ("get", "/api/v1/imports?profile_id=abc", {}, "profile_id"),
    ("post", "/api/v1/import-profiles", {"json": {"entity": "partners",
                                                  "columns": {"Code": "external_ref"}}}, "name"),
    ("post", "/api/v1/import-profiles", {"json": {"name": "p", "entity": "partners",
                                                  "columns": {"Code": "external_ref"},
                                                  "mode": "fusion"}}, "mode"),
])
def test_a_field_mistake_is_named_in_the_readers_language(
        api_client, partners_profile, queued_jobs, method, url, kwargs, field):
    """A French integrator (Accept-Language: fr) makes a mistake in a field or a filter of
    the import API: the problem's `detail` is French, the field's message marshmallow's
    English default ("Missing data for required field.", "Must be one of: …")."""
    if "data" in kwargs:  # a new file for each backend's run
        data = {k: (io.BytesIO(GOOD_CSV), "p.csv") if v == "FILE" else v
                for k, v in kwargs["data"].items()}
        kwargs = {"data": data, "content_type": "multipart/form-data"}
    response = getattr(api_client, method)(url, headers={"Accept-Language": "fr"}, **kwargs)
    body = response.get_json()
    assert response.status_code == 422
    assert body["detail"] == "Certains champs ne sont pas valides."
    [message] = body["errors"][field]
    assert message not in ENGLISH_DEFAULTS and not message.startswith(
        ("Must be", "Length must be")), body["errors"]


def test_a_file_field_sent_as_text_is_a_422_not_a_crash(
        app, api_client, partners_profile, queued_jobs, monkeypatch):
    """`curl -F file=export.csv` (the @ forgotten) sends the file's name as a text field:
    the upload must answer a problem naming `file`, not a 500."""
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = api_client.post("/api/v1/imports", content_type="multipart/form-data",
                               data={"profile": "partenaires", "file": "export.csv"})
    assert response.status_code == 422, response.data[:300]
    assert "file" in response.get_json()["errors"]
    assert queued_jobs == []


def test_the_profiles_list_pages_past_a_profile_with_a_long_french_name(api_client):
    """Profiles are listed by name; a page ending on a profile named in full French (100
    characters with accents, as the schema allows) hands out a next_cursor that the same
    list then refuses (422 "This cursor is not valid"): the client cannot read on."""
    names = ["Factures échues — relevé nocturne de l’ERP, sociétés Île-de-France et Côte "
             "d’Azur, pré-créées"[:100], "Zèbre"]
    for name in names:
        created = api_client.post("/api/v1/import-profiles", json={
            "name": name, "entity": "partners", "columns": {"Code": "external_ref"}})
        assert created.status_code == 201, created.get_json()
    first = api_client.get("/api/v1/import-profiles?limit=1")
    assert [p["name"] for p in first.get_json()] == names[:1]
    cursor = json.loads(first.headers["X-Pagination"])["next_cursor"]
    second = api_client.get("/api/v1/import-profiles", query_string={"limit": 1, "cursor": cursor})
    assert second.status_code == 200, second.get_json()
    assert [p["name"] for p in second.get_json()] == names[1:]
