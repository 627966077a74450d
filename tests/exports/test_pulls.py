"""Scheduled pulls: a feed fetches its file from the tenant's SFTP server (Debian's sshd on
loopback) or an HTTPS address (a local TLS server whose certificate the app trusts through
PULL_CA_FILE) and imports it as an upload; the same file (SHA-256) is not imported twice."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import Account, FeedPull, ImportRun
from app.services.pulls import set_pull
from app.services.sftp_servers import create_sftp_server
from importers import pulls, runs

COLUMNS = {"Code client": "external_ref", "Raison sociale": "name"}
FILE = b"Code client;Raison sociale\nC1;Stores Martin\nC2;Volets Durand\n"


@pytest.fixture
def profile(make_profile):
    return make_profile("accounts", COLUMNS, name="clients-nuit")


@pytest.fixture
def imported(tenant, monkeypatch):
    """Run the pulled imports here, at once (the job engine's part is tested in tests/jobs)."""
    queued: list[int] = []
    monkeypatch.setattr(pulls, "queue_run", lambda run: queued.append(run.id))

    def pull(pull_row: FeedPull) -> ImportRun | None:
        run = pulls.pull_feed(pull_row.id, tenant.id)
        if run is not None:
            assert queued[-1] == run.id
            run = runs.run_import(run.id, tenant.id, max_wait=0)
        db.session.expire_all()
        return run

    return pull


def test_a_feed_pulls_its_file_from_the_tenants_sftp_server(tenant, profile, sshd, imported):
    (sshd.root / "clients.csv").write_bytes(FILE)
    server = create_sftp_server(
        {
            "name": "erp",
            "host": "127.0.0.1",
            "port": sshd.port,
            "username": sshd.username,
            "private_key": sshd.client_key,
        }
    )
    pull = set_pull(
        profile,
        {
            "kind": "sftp",
            "sftp_server_id": server.id,
            "path": str(sshd.root / "clients.csv"),
            "schedule": "0 5 * * *",
        },
    )
    db.session.commit()
    run = imported(pull)
    assert run.status == "succeeded" and run.created == 2
    assert run.source == "pull" and run.file_name == "clients.csv"
    assert sorted(db.session.scalars(select(Account.name))) == ["Stores Martin", "Volets Durand"]
    assert imported(db.session.get(FeedPull, pull.id)) is None  # the same file: not again
    (sshd.root / "clients.csv").write_bytes(FILE + b"C3;Stores Nouveaux\n")
    again = imported(db.session.get(FeedPull, pull.id))
    assert again.created == 1 and again.unchanged == 2
    assert db.session.scalar(select(db.func.count()).select_from(ImportRun)) == 2


def test_a_missing_remote_file_is_reported_on_the_feed(tenant, profile, sshd, imported):
    server = create_sftp_server(
        {
            "name": "erp",
            "host": "127.0.0.1",
            "port": sshd.port,
            "username": sshd.username,
            "private_key": sshd.client_key,
        }
    )
    pull = set_pull(
        profile,
        {
            "kind": "sftp",
            "sftp_server_id": server.id,
            "path": str(sshd.root / "absent.csv"),
            "schedule": "0 5 * * *",
        },
    )
    db.session.commit()
    assert imported(pull) is None
    pull = db.session.get(FeedPull, pull.id)
    assert "absent.csv" in pull.last_error and pull.last_checked_at is not None


def test_a_feed_pulls_its_file_over_https(
    app, tenant, profile, https_server, imported, monkeypatch
):
    monkeypatch.setitem(app.config, "PULL_CA_FILE", str(https_server.ca_file))
    https_server.files["/exports/clients.csv"] = FILE
    pull = set_pull(
        profile,
        {
            "kind": "https",
            "url": f"{https_server.url}/exports/clients.csv",
            "schedule": "*/15 * * * *",
        },
    )
    db.session.commit()
    run = imported(pull)
    assert run.status == "succeeded" and run.created == 2 and run.file_name == "clients.csv"
    assert imported(db.session.get(FeedPull, pull.id)) is None


def test_an_untrusted_certificate_is_refused(tenant, profile, https_server, imported):
    https_server.files["/clients.csv"] = FILE
    pull = set_pull(
        profile,
        {"kind": "https", "url": f"{https_server.url}/clients.csv", "schedule": "0 5 * * *"},
    )
    db.session.commit()
    assert imported(pull) is None
    assert "CERTIFICATE_VERIFY_FAILED" in db.session.get(FeedPull, pull.id).last_error
    assert db.session.scalar(select(db.func.count()).select_from(ImportRun)) == 0


def test_an_http_answer_error_is_reported(
    app, tenant, profile, https_server, imported, monkeypatch
):
    monkeypatch.setitem(app.config, "PULL_CA_FILE", str(https_server.ca_file))
    pull = set_pull(
        profile,
        {"kind": "https", "url": f"{https_server.url}/missing.csv", "schedule": "0 5 * * *"},
    )
    db.session.commit()
    assert imported(pull) is None
    assert "404" in db.session.get(FeedPull, pull.id).last_error


@pytest.mark.parametrize(
    "data, field",
    [
        ({"kind": "https", "url": "http://example.com/f.csv", "schedule": "0 5 * * *"}, "url"),
        ({"kind": "https", "url": "https://example.com/f.csv", "schedule": ""}, "schedule"),
        (
            {"kind": "sftp", "sftp_server_id": 999, "path": "/f.csv", "schedule": "0 5 * * *"},
            "sftp_server_id",
        ),
        ({"kind": "ftp", "schedule": "0 5 * * *"}, "kind"),
    ],
)
def test_a_pull_with_a_mistake_is_refused(tenant, profile, data, field):
    with pytest.raises(ValidationError) as refused:
        set_pull(profile, data)
    assert field in refused.value.errors
