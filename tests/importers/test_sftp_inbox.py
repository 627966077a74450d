"""The SFTP inbox with paramiko's own client against the real server on loopback: a file
renamed after its upload (or followed by its .done marker) is imported, with its results in
outbox/; a cut upload never is; the folder is a jail; limits cut an upload with a message;
bad logins are refused, throttled and audited."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import paramiko
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Account, AuditEvent, FeedArrival, ImportRun
from app.services.feed_storage import account_root
from tests.backoffice.conftest import fr
from tests.importers.conftest import wait_until

COLUMNS = {"Code": "external_ref", "Nom": "name", "Ville": "city"}
GOOD = b"Code;Nom;Ville\r\nC1;Alpha;Lyon\r\nC2;Beta;Lille\r\n"
ONE_BAD = b"Code;Nom;Ville\r\nC1;Alpha;Lyon\r\nC2;;Lille\r\n"
PASSWORD = "sftp-password-123"


@pytest.fixture
def profile(make_profile):
    return make_profile("accounts", COLUMNS, key="external_ref", name="clients-nuit")


@pytest.fixture
def account(make_feed_account, profile):
    return make_feed_account(
        name="erp",
        routes=[
            {"pattern": "clients/*.csv", "profile": "clients-nuit"},
            {"pattern": "*.txt", "profile": profile.id},
        ],
    )


def connect(
    server,
    username: str = "alpha.erp",
    *,
    password: str | None = PASSWORD,
    key: paramiko.PKey | None = None,
) -> paramiko.SFTPClient:
    transport = paramiko.Transport(("127.0.0.1", server.port))
    transport.connect(username=username, password=None if key else password, pkey=key)
    return paramiko.SFTPClient.from_transport(transport)


def upload(sftp: paramiko.SFTPClient, data: bytes, path: str) -> None:
    sftp.putfo(io.BytesIO(data), path, confirm=False)


def write_unpipelined(sftp: paramiko.SFTPClient, data: bytes, path: str) -> None:
    """Each write waits for its answer: a refused write raises at once (paramiko's putfo
    pipelines them and drops their answers)."""
    with sftp.open(path, "wb") as handle:
        handle.set_pipelined(False)
        for start in range(0, len(data), 500):
            handle.write(data[start : start + 500])
            handle.flush()


def runs() -> list[ImportRun]:
    db.session.rollback()
    return list(db.session.scalars(select(ImportRun).order_by(ImportRun.id)))


def finished_run() -> ImportRun | None:
    found = runs()
    return found[0] if found and found[0].is_finished else None


def arrivals(status: str | None = None) -> list[FeedArrival]:
    db.session.rollback()
    stmt = select(FeedArrival).order_by(FeedArrival.id)
    return list(db.session.scalars(stmt.where(FeedArrival.status == status) if status else stmt))


def test_a_file_renamed_after_upload_is_imported_with_its_results_in_outbox(
    sftp_server, account, tenant
):
    sftp = connect(sftp_server)
    sftp.mkdir("clients")
    upload(sftp, ONE_BAD, "clients/export.csv.part")
    assert runs() == []  # a temporary name is never imported
    sftp.rename("clients/export.csv.part", "clients/export.csv")

    run = wait_until(finished_run)
    assert run is not None, "no run finished"
    assert (run.source, run.file_name, run.status) == ("sftp", "export.csv", "partial")
    assert (run.created, run.failed, run.started_by) == (1, 1, "sftp:alpha.erp")
    assert db.session.scalar(select(Account.name).where(Account.external_ref == "C1")) == "Alpha"
    # The file went in: it is no longer waiting in the folder.
    assert "export.csv" not in sftp.listdir("clients")

    names = wait_until(
        lambda: (
            sorted(n for n in sftp.listdir("outbox") if n.endswith(".csv"))
            and sorted(sftp.listdir("outbox"))
        )
    )
    assert names == [f"export.csv.run-{run.id}.errors.csv", f"export.csv.run-{run.id}.json"]
    with sftp.open(f"outbox/export.csv.run-{run.id}.json") as fh:
        summary = json.loads(fh.read())
    assert (summary["status"], summary["created"], summary["failed"]) == ("partial", 1, 1)
    assert summary["file"] == "clients/export.csv"
    with sftp.open(f"outbox/export.csv.run-{run.id}.errors.csv") as fh:
        errors = fh.read().decode()
    assert "C2" in errors and "Lille" in errors
    # The sender may take its results away, but not write there.
    sftp.remove(f"outbox/export.csv.run-{run.id}.json")
    with pytest.raises(
        PermissionError, match=fr("outbox/ is read-only: Relais writes your results there.")
    ):
        upload(sftp, b"x", "outbox/mine.csv")
    sftp.close()


def test_the_upload_is_measured_as_it_comes_for_a_rename_from_another_session(sftp_server, account):
    import hashlib

    from importers.sftp.folder import kept_measure

    data = GOOD + b"".join(b"C%d;Client %d;Paris\r\n" % (n, n) for n in range(3, 3000))
    first = connect(sftp_server)
    upload(first, data, "big.txt.part")
    first.close()
    part = account_root(account.tenant_id, account.id) / "big.txt.part"
    expected = hashlib.sha256(data).hexdigest()
    assert kept_measure(part) == (expected, len(data))
    # Written again out of order, the measure is dropped (the arrival then reads the file).
    second = connect(sftp_server)
    with second.open("big.txt.part", "r+") as handle:
        handle.seek(5)
        handle.write(b"X")
    assert kept_measure(part) is None
    with second.open("big.txt.part", "r+") as handle:
        handle.seek(5)
        handle.write(data[5:6])
    second.rename("big.txt.part", "big.txt")
    run = wait_until(finished_run)
    assert run is not None and (run.sha256, run.file_size) == (expected, len(data))
    assert run.created == 2999
    second.close()


def test_a_done_marker_makes_the_file_beside_it_whole(sftp_server, account):
    sftp = connect(sftp_server)
    upload(sftp, GOOD, "notes.txt")
    assert runs() == []  # under its final name, it waits for its marker
    upload(sftp, b"", "notes.txt.done")
    run = wait_until(finished_run)
    assert run is not None and (run.file_name, run.status, run.created) == (
        "notes.txt",
        "succeeded",
        2,
    )
    assert sorted(sftp.listdir(".")) == ["outbox"]  # file and marker consumed
    sftp.close()


def test_the_same_file_again_is_recognised_and_its_summary_written(sftp_server, account):
    sftp = connect(sftp_server)
    for attempt in (1, 2):
        upload(sftp, GOOD, "a.txt.tmp")
        sftp.rename("a.txt.tmp", "a.txt")
        wait_until(lambda n=attempt: len([r for r in runs() if r.is_finished]) == n)
    first, second = runs()
    # Recognised (the message names the earlier run): nothing written twice.
    assert second.status == "succeeded" and second.created == 0
    assert f"{first.id}" in second.message and second.sha256 == first.sha256
    assert f"a.txt.run-{second.id}.json" in sftp.listdir("outbox")
    sftp.close()


def test_an_upload_cut_mid_file_is_never_imported_and_is_swept_later(sftp_server, account, app):
    sftp = connect(sftp_server)
    sftp.mkdir("clients")
    handle = sftp.open("clients/big.csv", "wb")
    handle.set_pipelined(False)
    handle.write(GOOD[:20])
    handle.flush()
    # The client vanishes: paramiko's server closes the handle all the same.
    sftp.get_channel().get_transport().close()

    cut = wait_until(lambda: arrivals("incomplete"))
    assert cut and cut[0].path == "clients/big.csv" and cut[0].size == 20
    assert runs() == []
    path = account_root(account.tenant_id, account.id) / "clients" / "big.csv"
    assert path.exists()

    from importers.sftp.sweep import sweep_inboxes

    app.config["FEED_INCOMPLETE_MAX_AGE_HOURS"] = 0
    try:
        assert sweep_inboxes() == 1
    finally:
        app.config["FEED_INCOMPLETE_MAX_AGE_HOURS"] = 24
    assert not path.exists()
    assert arrivals("removed")[0].path == "clients/big.csv"


def test_a_file_no_route_takes_stays_and_is_reported(sftp_server, account):
    sftp = connect(sftp_server)
    upload(sftp, GOOD, "other.csv.part")
    sftp.rename("other.csv.part", "other.csv")
    assert "other.csv" in sftp.listdir(".")
    assert [a.path for a in arrivals("unrouted")] == ["other.csv"]
    assert runs() == []
    sftp.close()


def test_the_folder_is_a_jail(
    sftp_server, account, make_feed_account, other_tenant, in_tenant, tmp_path
):
    from app.services.feed_accounts import create_account

    other = in_tenant(other_tenant, create_account, {"name": "erp", "password": PASSWORD})
    other_root = account_root(other_tenant.id, other.id)
    (other_root / "secret.csv").write_text("secret")
    mine = account_root(account.tenant_id, account.id)
    outside = tmp_path / "outside.txt"
    outside.write_text("outside")
    os.symlink(outside, mine / "link.txt")
    os.symlink(other_root, mine / "other")

    sftp = connect(sftp_server)
    assert sftp.normalize(".") == "/"
    assert sftp.normalize("..") == "/"
    for path in (
        "../x.csv",
        "/../x.csv",
        "clients/../../x.csv",
        f"../../{other_tenant.id}/{other.id}/x.csv",
    ):
        with pytest.raises(
            PermissionError, match=fr("Access denied: you can only reach your own folder.")
        ):
            upload(sftp, b"x", path)
    with pytest.raises(PermissionError):
        sftp.listdir(f"../../{other_tenant.id}/{other.id}")
    with pytest.raises(PermissionError):
        sftp.open("/../../../../etc/passwd")
    # An absolute path is read inside the folder, never on the server's disk.
    with pytest.raises(FileNotFoundError):
        sftp.open("/etc/passwd")
    for path in ("link.txt", "other/secret.csv"):
        with pytest.raises(PermissionError, match=fr("Symbolic links are not allowed.")):
            sftp.open(path)
    with pytest.raises(PermissionError, match=fr("Symbolic links are not allowed.")):
        sftp.symlink("/etc/passwd", "passwd")
    assert "link.txt" not in sftp.listdir(".")
    assert not (tmp_path / "x.csv").exists() and not (other_root / "x.csv").exists()
    assert outside.read_text() == "outside"
    sftp.close()


def test_size_limit_and_quota_cut_an_upload_with_a_clear_message(
    sftp_server, make_feed_account, profile
):
    make_feed_account(
        name="small",
        max_file_bytes=1000,
        quota_bytes=3000,
        routes=[{"pattern": "*.csv", "profile": profile.name}],
    )
    sftp = connect(sftp_server, "alpha.small")
    with pytest.raises(
        OSError,
        match=re.escape(
            fr("File too large: this account accepts files of at most %(size)s.", size="1000 B")
        ),
    ):
        write_unpipelined(sftp, b"x" * 2000, "big.csv.part")
    assert "big.csv.part" not in sftp.listdir(".")  # the partial file is removed
    assert arrivals("refused")[0].path == "big.csv.part"

    upload(sftp, b"x" * 900, "one.csv")
    upload(sftp, b"x" * 900, "two.csv")
    upload(sftp, b"x" * 900, "three.csv")
    with pytest.raises(
        OSError,
        match=re.escape(
            fr(
                "Quota exceeded: this account may keep at most %(size)s in its folder, files "
                "waiting there included.",
                size="3 KB",
            )
        ),
    ):
        write_unpipelined(sftp, b"x" * 900, "four.csv")
    assert "four.csv" not in sftp.listdir(".")
    sftp.close()


def test_a_public_key_logs_in_and_another_key_does_not(
    sftp_server, make_feed_account, client_key, tmp_path
):
    from tests.importers.conftest import make_client_key

    private, public = client_key
    make_feed_account(name="keyed", password="", public_keys=[public])
    sftp = connect(sftp_server, "alpha.keyed", key=paramiko.PKey.from_path(private))
    assert sftp.listdir(".") == ["outbox"]
    sftp.close()

    stranger, _public = make_client_key(tmp_path / "stranger")
    with pytest.raises(paramiko.AuthenticationException):
        connect(sftp_server, "alpha.keyed", key=paramiko.PKey.from_path(stranger))
    with pytest.raises(paramiko.AuthenticationException):  # no password on this account
        connect(sftp_server, "alpha.keyed", password="anything-at-all")


def test_wrong_passwords_are_refused_throttled_and_audited(sftp_server, account):
    for _attempt in range(5):
        with pytest.raises(paramiko.AuthenticationException):
            connect(sftp_server, password="wrong-password-1")
    # Past the limit (5 a minute per login and address), even the right password is refused.
    with pytest.raises(paramiko.AuthenticationException):
        connect(sftp_server)
    db.session.rollback()
    actions = [
        e.action
        for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "feed_accounts").order_by(AuditEvent.id)
        )
    ]
    assert actions.count("login_failed") == 5 and actions.count("login_throttled") == 1
    assert "login" not in actions


def test_a_disabled_account_or_unknown_login_is_refused(sftp_server, account):
    from app.services.feed_accounts import set_active

    for username in ("alpha.nobody", "nowhere.erp", "erp"):
        with pytest.raises(paramiko.AuthenticationException):
            connect(sftp_server, username)
    set_active(account, False)
    db.session.commit()
    with pytest.raises(paramiko.AuthenticationException):
        connect(sftp_server)


def test_the_host_key_is_generated_once_and_kept(sftp_server, app):
    from importers.sftp.server import SFTPService

    first = sftp_server.host_key.get_base64()
    assert Path(app.config["SFTP_HOST_KEY"]).stat().st_mode & 0o077 == 0
    assert SFTPService(app, "127.0.0.1", 0).host_key.get_base64() == first
    transport = paramiko.Transport(("127.0.0.1", sftp_server.port))
    transport.start_client()
    assert transport.get_remote_server_key().get_base64() == first
    transport.close()


def test_the_warm_up_at_start_writes_nothing_and_the_first_file_is_imported(
    app, sftp_server, account
):
    """serve_forever warmed up before its first connection (read-only, for no tenant)."""
    from importers.sftp.arrivals import warm_up

    audited = len(db.session.scalars(select(AuditEvent)).all())
    warm_up(app)  # a second time: still nothing written
    db.session.rollback()
    assert (runs(), arrivals(), len(db.session.scalars(select(AuditEvent)).all())) == (
        [], [], audited)
    sftp = connect(sftp_server)
    sftp.mkdir("clients")
    upload(sftp, GOOD, "clients/a.csv.part")
    sftp.rename("clients/a.csv.part", "clients/a.csv")
    run = wait_until(finished_run)
    assert run is not None and (run.status, run.created) == ("succeeded", 2)
    sftp.close()
