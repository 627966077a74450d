"""The SFTP inbox with Debian's OpenSSH `sftp`, in batch mode with a key, as a tenant's
nightly script runs it: upload then rename imports; a client killed mid-upload imports
nothing; a path out of the folder, or another tenant's, is refused; a stranger's key and the
wrong password are refused."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import FeedArrival, ImportRun
from app.services.feed_storage import account_root
from tests.importers.conftest import make_client_key, wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("sftp") is None, reason="needs Debian's openssh-client (.ci/run installs it)"
)
COLUMNS = {"Code": "external_ref", "Nom": "name"}


def sftp_command(server, key: Path, login: str = "alpha.erp", *extra: str) -> list[str]:
    return [
        "sftp",
        "-b",
        "-",
        "-P",
        str(server.port),
        "-i",
        str(key),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "LogLevel=ERROR",
        *extra,
        f"{login}@127.0.0.1",
    ]


def run_sftp(server, key: Path, script: str, login: str = "alpha.erp"):
    return subprocess.run(
        sftp_command(server, key, login), input=script, text=True, capture_output=True, timeout=60
    )


@pytest.fixture
def keyed_account(make_feed_account, make_profile, client_key):
    make_profile("accounts", COLUMNS, key="external_ref", name="clients-nuit")
    _private, public = client_key
    return make_feed_account(
        name="erp",
        password="",
        public_keys=[public],
        routes=[{"pattern": "clients/*.csv", "profile": "clients-nuit"}],
    )


def test_put_then_rename_imports_the_file(sftp_server, keyed_account, client_key, tmp_path):
    local = tmp_path / "export.csv"
    local.write_bytes(b"Code;Nom\r\nC1;Alpha\r\nC2;Beta\r\n")
    done = run_sftp(
        sftp_server,
        client_key[0],
        f"""
-mkdir clients
put {local} clients/export.csv.part
rename clients/export.csv.part clients/export.csv
""",
    )
    assert done.returncode == 0, done.stderr

    def finished() -> ImportRun | None:
        db.session.rollback()
        run = db.session.scalar(select(ImportRun))
        return run if run is not None and run.is_finished else None

    run = wait_until(finished)
    assert run is not None
    assert (run.source, run.file_name, run.status, run.created) == (
        "sftp",
        "export.csv",
        "succeeded",
        2,
    )
    summary = wait_until(
        lambda: list((account_root(run.tenant_id, keyed_account.id) / "outbox").glob("*.json"))
    )
    assert [p.name for p in summary] == [f"export.csv.run-{run.id}.json"]
    fetched = tmp_path / "fetched"
    fetched.mkdir()
    got = run_sftp(sftp_server, client_key[0], f"get outbox/* {fetched}/\n")
    assert got.returncode == 0, got.stderr
    assert [p.name for p in fetched.iterdir()] == [f"export.csv.run-{run.id}.json"]


def test_a_client_killed_mid_upload_imports_nothing(
    sftp_server, keyed_account, client_key, tmp_path
):
    local = tmp_path / "big.csv"
    local.write_bytes(
        b"Code;Nom\r\n" + b"".join(b"C%d;Client %d\r\n" % (n, n) for n in range(60_000))
    )
    root = account_root(keyed_account.tenant_id, keyed_account.id)
    (root / "clients").mkdir()
    # 400 Kbit/s: the upload takes about twenty seconds, and is killed in its first ones.
    client = subprocess.Popen(
        sftp_command(sftp_server, client_key[0], "alpha.erp", "-l", "400"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client.stdin.write(f"put {local} clients/big.csv\nrename clients/big.csv x\n")
    client.stdin.close()
    target = root / "clients" / "big.csv"
    assert wait_until(lambda: target.exists() and target.stat().st_size > 0, timeout=20)
    client.send_signal(signal.SIGKILL)
    client.wait(10)

    def cut() -> list[FeedArrival]:
        db.session.rollback()
        return list(
            db.session.scalars(select(FeedArrival).where(FeedArrival.status == "incomplete"))
        )

    found = wait_until(cut)
    assert found and found[0].path == "clients/big.csv"
    assert 0 < found[0].size < local.stat().st_size
    db.session.rollback()
    assert db.session.scalar(select(ImportRun)) is None
    assert not (root / "x").exists()


def test_paths_out_of_the_folder_are_refused(
    sftp_server, keyed_account, client_key, other_tenant, in_tenant, tmp_path
):
    from app.services.feed_accounts import create_account

    other = in_tenant(
        other_tenant, create_account, {"name": "erp", "password": "sftp-password-123"}
    )
    local = tmp_path / "x.csv"
    local.write_text("Code;Nom\n")
    for target in ("../x.csv", "/../../x.csv", f"../../{other_tenant.id}/{other.id}/x.csv"):
        done = run_sftp(sftp_server, client_key[0], f"put {local} {target}\n")
        assert done.returncode != 0, target
    listed = run_sftp(sftp_server, client_key[0], f"ls ../../{other_tenant.id}\n")
    assert listed.returncode != 0
    assert not (account_root(other_tenant.id, other.id) / "x.csv").exists()
    assert not (tmp_path / "feeds" / "x.csv").exists()


def test_a_strangers_key_and_a_wrong_password_are_refused(
    sftp_server, keyed_account, make_feed_account, tmp_path
):
    stranger, _public = make_client_key(tmp_path / "stranger")
    done = run_sftp(sftp_server, stranger, "ls\n")
    assert done.returncode == 255 and "Permission denied" in done.stderr
    make_feed_account(name="pw", password="right-password-42")
    assert with_password(sftp_server, tmp_path, "wrong-password-1").returncode == 255
    right = with_password(sftp_server, tmp_path, "right-password-42")
    assert right.returncode == 0 and "outbox" in right.stdout


def with_password(server, tmp_path: Path, password: str):
    """`sftp` typing a password (through SSH_ASKPASS: batch mode never types one)."""
    import os

    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
    askpass.chmod(0o700)
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    return subprocess.run(
        [
            "sftp",
            "-P",
            str(server.port),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "LogLevel=ERROR",
            "alpha.pw@127.0.0.1",
        ],
        input="ls\n",
        text=True,
        capture_output=True,
        timeout=60,
        env=env,
        start_new_session=True,
    )
