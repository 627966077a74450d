"""POST /api/v1/imports/<id>/revert: a dry run says what the revert would do and changes
nothing; the revert itself is queued (202) and runs as a job, followed under the run's
`revert`; only tokens with the admin scope of the run's tenant. A revert that fails changes
nothing and may be asked again; one whose worker died is queued again by the recovery."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, ImportProfile, ImportRun, Partner
from app.services import import_revert
from app.tenancy import SYSTEM, tenant_context
from importers import jobs, reverts
from tests.api.conftest import bearer, problem, run_queued, run_queued_reverts, upload


def _partners() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Partner))


def _run(client, queued_jobs) -> int:
    run_id = upload(client).get_json()["id"]
    run_queued(queued_jobs)
    assert _partners() == 2
    return run_id


@pytest.fixture
def admin_api(app, make_token):
    return bearer(app, make_token("read,import,admin")[1])


def test_a_dry_run_then_the_revert_queued_and_done_by_the_worker(admin_api, partners_profile,
                                                                  queued_jobs, queued_reverts):
    client = admin_api
    run_id = _run(client, queued_jobs)
    url = f"/api/v1/imports/{run_id}/revert"
    preview = client.post(url, json={"dry_run": True})
    assert preview.status_code == 200, preview.data
    body = preview.get_json()
    assert body["dry_run"] is True and body["entity"] == "partners"
    assert body["counts"] == {"deleted": 2, "archived": 0, "restored": 0, "unarchived": 0,
                              "skipped": 0}
    assert not queued_reverts and _partners() == 2
    assert client.get(f"/api/v1/imports/{run_id}").get_json()["revert"] is None

    asked = client.post(url)  # no body: not a dry run
    assert asked.status_code == 202, asked.data
    assert asked.headers["Location"].endswith(f"/api/v1/imports/{run_id}")
    assert asked.get_json()["revert"]["status"] == "queued"
    assert asked.get_json()["revert"]["requested_by"]
    assert _partners() == 2  # nothing yet: the worker does it
    problem(client.post(url), 422)  # already under way
    assert len(queued_reverts) == 1

    run_queued_reverts(queued_reverts)
    assert _partners() == 0
    run = client.get(f"/api/v1/imports/{run_id}").get_json()
    assert run["reverted_at"] and run["reverted_by"]
    assert run["revert"]["status"] == "done"
    assert run["revert"]["counts"] == body["counts"]
    assert sorted(run["revert"]["result"]["deleted"]) == sorted(body["deleted"])
    listed = client.get("/api/v1/imports").get_json()[0]
    assert listed["revert"]["status"] == "done" and "result" not in listed["revert"]
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "revert", AuditEvent.record_id == run_id)) is not None
    problem(client.post(url, json={}), 422)  # reverted already


def test_a_revert_delivered_twice_runs_once(admin_api, partners_profile, queued_jobs,
                                             queued_reverts):
    run_id = _run(admin_api, queued_jobs)
    assert admin_api.post(f"/api/v1/imports/{run_id}/revert").status_code == 202
    twice = queued_reverts * 2
    run_queued_reverts(twice)
    assert _partners() == 0
    reverts_audited = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "revert", AuditEvent.record_id == run_id))
    assert reverts_audited == 1


def test_a_revert_that_cannot_proceed_fails_changes_nothing_and_can_be_asked_again(
        admin_api, partners_profile, queued_jobs, queued_reverts):
    run_id = _run(admin_api, queued_jobs)
    assert admin_api.post(f"/api/v1/imports/{run_id}/revert").status_code == 202
    profile = db.session.get(ImportProfile, partners_profile.id)
    profile.locked_by_run_id = run_id + 1000  # an import of the feed started meanwhile
    db.session.commit()
    run_queued_reverts(queued_reverts)
    revert = admin_api.get(f"/api/v1/imports/{run_id}",
                           headers={"Accept-Language": "en"}).get_json()["revert"]
    assert revert["status"] == "failed"
    assert revert["message"] == import_revert.PROFILE_BUSY
    french = admin_api.get(f"/api/v1/imports/{run_id}",
                           headers={"Accept-Language": "fr"}).get_json()["revert"]
    assert french["message"].startswith("Un import de ce profil est en cours")
    assert _partners() == 2
    profile = db.session.get(ImportProfile, partners_profile.id)
    profile.locked_by_run_id = None
    db.session.commit()
    assert admin_api.post(f"/api/v1/imports/{run_id}/revert").status_code == 202
    run_queued_reverts(queued_reverts)
    assert _partners() == 0


def test_an_error_mid_revert_rolls_all_of_it_back(admin_api, partners_profile, queued_jobs,
                                                  queued_reverts, monkeypatch):
    run_id = _run(admin_api, queued_jobs)
    assert admin_api.post(f"/api/v1/imports/{run_id}/revert").status_code == 202
    deleted: list[int] = []
    real_delete = import_revert.delete_record

    def delete_then_fail(record):
        real_delete(record)
        deleted.append(record.id)
        if len(deleted) == 2:  # the first record is gone in the transaction, then it breaks
            raise RuntimeError("disk full")

    monkeypatch.setattr(import_revert, "delete_record", delete_then_fail)
    run_queued_reverts(queued_reverts)
    assert len(deleted) == 2
    assert _partners() == 2  # all or nothing
    run = admin_api.get(f"/api/v1/imports/{run_id}").get_json()
    assert run["revert"]["status"] == "failed" and run["reverted_at"] is None
    assert run["revert"]["message"]


def test_a_revert_whose_worker_died_is_queued_again_and_completes(
        app, admin_api, partners_profile, queued_jobs, queued_reverts, tenant, monkeypatch):
    run_id = _run(admin_api, queued_jobs)
    assert admin_api.post(f"/api/v1/imports/{run_id}/revert").status_code == 202
    queued_reverts.clear()  # taken by a worker that then died mid-revert (nothing written)
    import socket

    with tenant_context(tenant.id, SYSTEM):
        assert import_revert.claim_revert(run_id, f"{socket.gethostname()}:999999:dead")
        db.session.commit()
    assert admin_api.get(f"/api/v1/imports/{run_id}").get_json()["revert"]["status"] == \
        "running"
    assert reverts.abandoned_reverts(set()) == [(run_id, tenant.id)]
    monkeypatch.setattr(jobs.recovery, "interrupt_abandoned_runs", lambda keep: [])
    with tenant_context(tenant.id, SYSTEM):
        run = db.session.get(ImportRun, run_id, populate_existing=True)
        assert run.revert_status == "queued"
    jobs.submit_revert(app, run_id, tenant.id)
    run_queued_reverts(queued_reverts)
    assert _partners() == 0
    assert admin_api.get(f"/api/v1/imports/{run_id}").get_json()["revert"]["status"] == "done"


def test_a_token_without_the_admin_scope_gets_403(app, make_token, partners_profile,
                                                  queued_jobs, queued_reverts):
    client = bearer(app, make_token("read,write,import,export")[1])
    run_id = _run(client, queued_jobs)
    for dry_run in (True, False):
        problem(client.post(f"/api/v1/imports/{run_id}/revert", json={"dry_run": dry_run}),
                403)
    assert not queued_reverts and _partners() == 2


def test_another_tenants_run_is_not_found(app, make_token, partners_profile, queued_jobs,
                                          queued_reverts, other_tenant):
    from app.services.tokens import create_token

    run_id = _run(bearer(app, make_token("read,import")[1]), queued_jobs)
    with tenant_context(other_tenant.id, SYSTEM):
        _token, secret = create_token("Beta admin", "read,import,admin")
        db.session.commit()
    problem(bearer(app, secret).post(f"/api/v1/imports/{run_id}/revert", json={}), 404)
    assert not queued_reverts and _partners() == 2


def test_the_revert_is_in_the_openapi_document(api_client):
    spec = api_client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/imports/{run_id}/revert"]["post"]
    assert operation["requestBody"]["required"] is False
    assert set(operation["responses"]) >= {"200", "202"}
    assert "dry_run" in spec["components"]["schemas"]["ImportRevertArgs"]["properties"]
    assert "revert" in spec["components"]["schemas"]["ImportRun"]["properties"]
    assert "admin" in str(operation)
