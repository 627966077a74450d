"""POST /api/v1/imports/<id>/revert: a dry run says what the revert would do and changes
nothing; the revert then does the same; only tokens with the admin scope of the run's tenant."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Partner
from tests.api.conftest import bearer, problem, run_queued, upload


def _partners() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Partner))


def _run(client, queued_jobs) -> int:
    run_id = upload(client).get_json()["id"]
    run_queued(queued_jobs)
    assert _partners() == 2
    return run_id


def test_a_dry_run_then_the_revert(app, make_token, partners_profile, queued_jobs):
    client = bearer(app, make_token("read,import,admin")[1])
    run_id = _run(client, queued_jobs)
    url = f"/api/v1/imports/{run_id}/revert"
    preview = client.post(url, json={"dry_run": True})
    assert preview.status_code == 200, preview.data
    body = preview.get_json()
    assert body["dry_run"] is True and body["entity"] == "partners"
    assert body["counts"] == {"deleted": 2, "archived": 0, "restored": 0, "unarchived": 0,
                              "skipped": 0}
    assert _partners() == 2
    assert client.get(f"/api/v1/imports/{run_id}").get_json()["reverted_at"] is None
    done = client.post(url)  # no body: not a dry run
    assert done.status_code == 200, done.data
    assert done.get_json()["counts"] == body["counts"]
    assert sorted(done.get_json()["deleted"]) == sorted(body["deleted"])
    assert _partners() == 0
    run = client.get(f"/api/v1/imports/{run_id}").get_json()
    assert run["reverted_at"] and run["reverted_by"]
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "revert", AuditEvent.record_id == run_id)) is not None
    problem(client.post(url, json={}), 422)


def test_a_token_without_the_admin_scope_gets_403(app, make_token, partners_profile,
                                                  queued_jobs):
    client = bearer(app, make_token("read,write,import,export")[1])
    run_id = _run(client, queued_jobs)
    for dry_run in (True, False):
        problem(client.post(f"/api/v1/imports/{run_id}/revert", json={"dry_run": dry_run}),
                403)
    assert _partners() == 2


def test_another_tenants_run_is_not_found(app, make_token, partners_profile, queued_jobs,
                                          other_tenant):
    from app.services.tokens import create_token
    from app.tenancy import SYSTEM, tenant_context

    run_id = _run(bearer(app, make_token("read,import")[1]), queued_jobs)
    with tenant_context(other_tenant.id, SYSTEM):
        _token, secret = create_token("Beta admin", "read,import,admin")
        db.session.commit()
    problem(bearer(app, secret).post(f"/api/v1/imports/{run_id}/revert", json={}), 404)
    assert _partners() == 2


def test_the_revert_is_in_the_openapi_document(api_client):
    spec = api_client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/imports/{run_id}/revert"]["post"]
    assert operation["requestBody"]["required"] is False
    assert "dry_run" in spec["components"]["schemas"]["ImportRevertArgs"]["properties"]
    assert "admin" in str(operation)
