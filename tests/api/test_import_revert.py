"""POST /api/v1/imports/<id>/revert: a dry run says what the revert would do and changes
nothing; the revert itself is queued (202) and runs as a job, followed under the run's
`revert`; only tokens with the admin scope of the run's tenant. A revert that fails changes
nothing and may be asked again; one whose worker died is queued again by the recovery."""
from __future__ import annotations

import io
import socket
import threading
import time

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.entities import ENTITIES
from app.errors import ValidationError
from app.extensions import db
from app.models import AuditEvent, ImportProfile, ImportRun, Partner
from app.services import import_revert
from app.services.records import create_record, update_record
from app.tenancy import SYSTEM, Actor, tenant_context
from importers import heartbeat, jobs, reverts, runs
from tests.api.conftest import (
    PARTNERS_CSV,
    bearer,
    problem,
    run_queued,
    run_queued_reverts,
    upload,
)


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
    real_delete = import_revert.delete_records

    def delete_then_fail(entity, ids):
        real_delete(entity, ids)
        deleted.extend(ids)  # the records are gone in the transaction, then it breaks
        raise RuntimeError("disk full")

    monkeypatch.setattr(import_revert, "delete_records", delete_then_fail)
    run_queued_reverts(queued_reverts)
    assert len(deleted) == 2
    assert _partners() == 2  # all or nothing
    run = admin_api.get(f"/api/v1/imports/{run_id}").get_json()
    assert run["revert"]["status"] == "failed" and run["reverted_at"] is None
    assert run["revert"]["message"]
    assert _holder(partners_profile) is None  # the profile is free for the next night's run


def _holder(profile) -> int | None:
    return db.session.scalar(select(ImportProfile.locked_by_run_id).where(
        ImportProfile.id == profile.id).execution_options(populate_existing=True))


def test_a_revert_whose_worker_died_is_queued_again_and_completes(
        app, admin_api, partners_profile, queued_jobs, queued_reverts, tenant, monkeypatch):
    run_id = _run(admin_api, queued_jobs)
    assert admin_api.post(f"/api/v1/imports/{run_id}/revert").status_code == 202
    queued_reverts.clear()  # taken by a worker that then died mid-revert (nothing written)
    import socket

    with tenant_context(tenant.id, SYSTEM):
        assert import_revert.claim_revert(run_id, f"{socket.gethostname()}:999999:dead")
        assert import_revert.hold_profile(run_id)  # its hold on the profile stays behind
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
    assert _holder(partners_profile) is None


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
    # Its options are a JSON body: another type is refused, and said so to client generators.
    assert operation["responses"]["415"] == {"$ref": "#/components/responses/"
                                                     "UNSUPPORTED_MEDIA_TYPE"}
    assert "dry_run" in spec["components"]["schemas"]["ImportRevertArgs"]["properties"]
    assert "revert" in spec["components"]["schemas"]["ImportRun"]["properties"]
    assert "admin" in str(operation)


@pytest.mark.parametrize("how", ["query", "form", "json as text"])
def test_a_dry_run_asked_outside_a_json_body_is_refused_not_taken_for_a_revert(
        admin_api, partners_profile, queued_jobs, queued_reverts, how):
    run_id = _run(admin_api, queued_jobs)
    url = f"/api/v1/imports/{run_id}/revert"
    if how == "query":
        body = problem(admin_api.post(url + "?dry_run=true"), 400)
        assert list(body["errors"]) == ["dry_run"]
    elif how == "form":
        problem(admin_api.post(url, data={"dry_run": "true"}), 415)
    else:  # fetch() with a string body sends text/plain
        problem(admin_api.post(url, data='{"dry_run": true}', content_type="text/plain"), 415)
    assert not queued_reverts and _partners() == 2
    assert db.session.get(ImportRun, run_id).revert_status is None


def test_an_upload_with_its_options_in_the_query_string_is_refused(admin_api, partners_profile,
                                                                    queued_jobs):
    problem(admin_api.post("/api/v1/imports?dry_run=true", data={
        "profile": "partenaires", "file": (io.BytesIO(PARTNERS_CSV), "p.csv")},
        content_type="multipart/form-data"), 400)
    assert not queued_jobs
    assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_of_two_requests_at_the_same_moment_one_revert_is_queued(
        admin_api, partners_profile, queued_jobs, queued_reverts, tenant):
    run_id = _run(admin_api, queued_jobs)
    assert admin_api.post(f"/api/v1/imports/{run_id}/revert").status_code == 202
    with tenant_context(tenant.id, SYSTEM):
        seen = db.session.get(ImportRun, run_id)
        # The second request read the run before the first one committed its request.
        set_committed_value(seen, "revert_status", None)
        with pytest.raises(ValidationError):
            import_revert.request_revert(seen)
        db.session.rollback()
    assert len(queued_reverts) == 1


def test_a_delivery_finding_the_run_reverted_lets_its_profile_go(
        admin_api, partners_profile, queued_jobs, queued_reverts, tenant):
    run_id = _run(admin_api, queued_jobs)
    assert admin_api.post(f"/api/v1/imports/{run_id}/revert").status_code == 202
    with tenant_context(tenant.id, SYSTEM):
        run = db.session.get(ImportRun, run_id)  # a second delivery, waiting on the profile,
        assert run.reverted_at is None           # read the run before the first committed
        with db.engine.begin() as other:
            other.execute(update(ImportRun).where(ImportRun.id == run_id)
                          .values(reverted_at=func.now(), revert_status="done"))
        assert import_revert.execute_revert(run_id) is None
        db.session.commit()
        assert db.session.scalar(select(ImportProfile.locked_by_run_id).where(
            ImportProfile.id == partners_profile.id)) is None
    # The profile's next file imports.
    upload(admin_api, PARTNERS_CSV.replace(b"P1", b"P9"), name="autre.csv")
    [(next_run, tenant_id)] = queued_jobs
    assert runs.run_import(next_run, tenant_id, max_wait=0).status == "partial"


def test_a_second_delivery_during_a_revert_leaves_its_heartbeat_to_it(
        admin_api, partners_profile, queued_jobs, queued_reverts, tenant, monkeypatch):
    run_id = _run(admin_api, queued_jobs)
    assert admin_api.post(f"/api/v1/imports/{run_id}/revert").status_code == 202
    beaten: list[bool] = []
    execute = reverts.execute_revert

    def executing(revert_of: int):
        jobs.revert_run(revert_of, tenant.id)  # delivered again meanwhile: it claims nothing
        beaten.append(revert_of in heartbeat.held_runs())
        return execute(revert_of)

    monkeypatch.setattr(reverts, "execute_revert", executing)
    run_queued_reverts(queued_reverts)
    assert beaten == [True]
    assert run_id not in heartbeat.held_runs() and _partners() == 0


def test_a_revert_is_beaten_for_while_it_runs_on_a_worker(
        app, admin_api, partners_profile, queued_jobs, queued_reverts, monkeypatch):
    # A worker process (not the app's) runs nothing but this job: unless the revert itself
    # starts the heartbeat, a revert longer than IMPORT_STALE_SECONDS looks abandoned to the
    # recovery, which queues it again while it runs.
    run_id = _run(admin_api, queued_jobs)  # the import itself starts no heartbeat here
    _stop_watching(app)  # nor does any earlier test's
    monkeypatch.setitem(app.config, "IMPORT_WATCH", True)
    monkeypatch.setitem(app.config, "IMPORT_HEARTBEAT_SECONDS", 0.1)
    assert admin_api.post(f"/api/v1/imports/{run_id}/revert").status_code == 202
    beaten: list[bool] = []
    execute = reverts.execute_revert

    def beat_at():
        with db.engine.connect() as other:
            return other.scalar(select(ImportRun.revert_heartbeat_at)
                                .where(ImportRun.id == run_id))

    def executing(revert_of: int):
        claimed, deadline = beat_at(), time.monotonic() + 10
        while beat_at() == claimed and time.monotonic() < deadline:
            time.sleep(0.05)
        beaten.append(beat_at() != claimed)
        return execute(revert_of)

    monkeypatch.setattr(reverts, "execute_revert", executing)
    try:
        run_queued_reverts(queued_reverts)
    finally:
        _stop_watching(app)
    assert beaten == [True]
    assert _partners() == 0


def _stop_watching(app) -> None:
    """No heartbeat thread of this process beats for the app's runs any more."""
    for key in [key for key in heartbeat._watch if key[1] == id(app)]:
        heartbeat._watch.pop(key).stopped.set()


def test_the_revert_and_errors_arguments_are_refused_in_the_readers_language(
        app, make_token, partners_profile, queued_jobs, queued_reverts):
    client = bearer(app, make_token("read,import,admin")[1])
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    run_id = upload(client).get_json()["id"]
    run_queued(queued_jobs)
    # As the record collections answer the same mistakes (api/schemas/records.py).
    body = problem(client.post(f"/api/v1/imports/{run_id}/revert", json={"dry_run": "oui"}),
                   422)
    assert body["errors"] == {"dry_run": ["Indiquez true ou false."]}
    body = problem(client.get(f"/api/v1/imports/{run_id}/errors?group=abc&limit=0"), 422)
    assert body["errors"] == {"group": ["Saisissez un nombre entier."],
                              "limit": ["Saisissez un nombre entier de 1 à 500."]}
    body = problem(client.get(f"/api/v1/imports/{run_id}/errors/summary?limit=0"), 422)
    assert body["errors"] == {"limit": ["Saisissez un nombre entier de 1 à 100."]}


def test_a_record_saved_while_the_revert_runs_is_not_overwritten(
        app, admin_api, partners_profile, queued_jobs, queued_reverts, tenant, make_user,
        monkeypatch):
    """A user saves a record the run updated while the worker reverts it (after its plan,
    before its writes: a large run's revert takes minutes). The save waits for the revert,
    then applies on the values it gave back: it is not lost under them (PostgreSQL; on
    SQLite one writer at a time)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    with tenant_context(tenant.id, SYSTEM):
        create_record(ENTITIES["partners"], {"external_ref": "P1", "name": "Before the run"})
        db.session.commit()
    run_id = _run(admin_api, queued_jobs)  # P1 renamed by the run
    with tenant_context(tenant.id, SYSTEM):
        p1 = db.session.scalar(select(Partner.id).where(Partner.external_ref == "P1"))
    editor = make_user(role="admin", email="editor@example.com")
    editor_id, editor_email = editor.id, editor.email
    assert admin_api.post(f"/api/v1/imports/{run_id}/revert").status_code == 202

    def save() -> None:
        with app.app_context(), tenant_context(
                tenant.id, Actor("user", editor_id, editor_email)):
            update_record(db.session.get(Partner, p1), {"name": "Renamed by a user"})
            db.session.commit()
            db.session.remove()

    saver = threading.Thread(target=save)
    original = import_revert._revert_files

    def saved_meanwhile(*args, **kwargs):
        saver.start()
        saver.join(1.5)
        assert saver.is_alive(), "the save went through during the revert"
        return original(*args, **kwargs)

    monkeypatch.setattr(import_revert, "_revert_files", saved_meanwhile)
    run_queued_reverts(queued_reverts)
    saver.join(30)
    with tenant_context(tenant.id, SYSTEM):
        db.session.expire_all()
        assert db.session.get(ImportRun, run_id).revert_summary["restored"] == [p1]
        assert db.session.get(Partner, p1).name == "Renamed by a user"


def test_the_recovery_keeps_when_and_by_whom_the_revert_was_asked(
        admin_api, partners_profile, queued_jobs, queued_reverts, tenant):
    """A revert whose worker died is queued again by the recovery: the run page ("Asked on …
    by …") and the API still say when it was asked, and by whom."""
    run_id = _run(admin_api, queued_jobs)
    asked = admin_api.post(f"/api/v1/imports/{run_id}/revert").get_json()["revert"]
    queued_reverts.clear()
    with tenant_context(tenant.id, SYSTEM):  # taken by a worker that then died
        assert import_revert.claim_revert(run_id, f"{socket.gethostname()}:999999:dead")
        db.session.commit()
    assert reverts.abandoned_reverts(set()) == [(run_id, tenant.id)]
    again = admin_api.get(f"/api/v1/imports/{run_id}").get_json()["revert"]
    assert again["status"] == "queued"
    assert again["requested_at"] == asked["requested_at"]
    assert again["requested_by"] == asked["requested_by"]


@pytest.mark.parametrize("body", [{"dry_run": True, "dryrun": True}, [], "oui"])
def test_the_revert_refuses_a_wrong_body_in_the_readers_language(
        app, make_token, partners_profile, queued_jobs, queued_reverts, body):
    """A French reader's wrong body (an unknown field, not an object) is answered in French,
    as the record collections answer the same mistakes ("Champ inconnu.", "Saisissez un
    objet.")."""
    client = bearer(app, make_token("read,import,admin")[1])
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    run_id = _run(client, queued_jobs)
    answer = problem(client.post(f"/api/v1/imports/{run_id}/revert", json=body), 422)
    said = [m for messages in answer["errors"].values() for m in messages]
    assert said and not {"Unknown field.", "Invalid input type."} & set(said), said
    assert not queued_reverts


def test_the_profile_can_be_saved_while_a_revert_of_its_run_is_under_way(
        app, admin_api, partners_profile, queued_jobs, queued_reverts, tenant, monkeypatch):
    """An admin saves the profile's mapping while a revert of one of its runs is under way
    (minutes for a large run): the save does not wait for the revert's end (PostgreSQL: only
    the records the revert changes are locked)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("on SQLite every writer waits for the revert's end (documented)")
    from app.services import feeds

    run_id = _run(admin_api, queued_jobs)
    assert admin_api.post(f"/api/v1/imports/{run_id}/revert").status_code == 202
    [(revert_of, tenant_id)] = queued_reverts
    profile_id = partners_profile.id
    reverting, go_on = threading.Event(), threading.Event()
    original = import_revert._revert_files

    def long_revert(*args, **kwargs):  # a large run's revert: its writes take a while
        reverting.set()
        go_on.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(import_revert, "_revert_files", long_revert)

    def worker():
        with app.app_context():
            jobs.revert_run(revert_of, tenant_id)

    def admin_saves():
        with app.app_context(), tenant_context(tenant_id, SYSTEM):
            profile = db.session.get(ImportProfile, profile_id)
            definition = {**profile.definition, "columns": {
                **profile.definition["columns"], "Téléphone": "phone"}}
            feeds.update_profile(profile, definition)
            db.session.commit()
            db.session.remove()

    reverter = threading.Thread(target=worker)
    reverter.start()
    try:
        assert reverting.wait(30)
        saver = threading.Thread(target=admin_saves)
        saver.start()
        saver.join(5)
        saved_in_time = not saver.is_alive()
    finally:
        go_on.set()
        reverter.join(60)
    saver.join(60)
    db.session.expire_all()
    with tenant_context(tenant.id, SYSTEM):
        assert db.session.get(ImportRun, run_id).revert_status == "done"
    assert saved_in_time, "the profile's save waited for the revert's end"
