"""The SFTP inbox with curl (its sftp:// support, as docs/feeds.md shows it): upload then
rename in one command with a key, or upload then a .done marker with a password."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ImportRun
from tests.importers.conftest import wait_until

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
COLUMNS = {"Code": "external_ref", "Nom": "name"}


def curl(server, *args: str):
    pinned = base64.b64encode(hashlib.sha256(server.host_key.asbytes()).digest()).decode()
    return subprocess.run(
        ["curl", "-sS", "--fail", "--hostpubsha256", pinned, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def finished_runs() -> list[ImportRun]:
    db.session.rollback()
    return [
        r for r in db.session.scalars(select(ImportRun).order_by(ImportRun.id)) if r.is_finished
    ]


def test_curl_with_a_key_uploads_and_renames(
    sftp_server, make_feed_account, make_profile, client_key, tmp_path
):
    make_profile("accounts", COLUMNS, key="external_ref", name="clients-nuit")
    private, public = client_key
    (tmp_path / "id.pub").write_text(public + "\n")
    make_feed_account(
        name="erp",
        password="",
        public_keys=[public],
        routes=[{"pattern": "*.csv", "profile": "clients-nuit"}],
    )
    local = tmp_path / "clients.csv"
    local.write_bytes(b"Code;Nom\r\nC1;Alpha\r\n")
    base = f"sftp://127.0.0.1:{sftp_server.port}"
    done = curl(
        sftp_server,
        "-u",
        "alpha.erp:",
        "--key",
        str(private),
        "--pubkey",
        str(tmp_path / "id.pub"),
        "-T",
        str(local),
        f"{base}/clients.csv.part",
        "-Q",
        "-rename /clients.csv.part /clients.csv",
    )
    assert done.returncode == 0, done.stderr
    runs = wait_until(finished_runs)
    assert [(r.source, r.file_name, r.created) for r in runs] == [("sftp", "clients.csv", 1)]


def test_curl_with_a_password_and_a_marker(sftp_server, make_feed_account, make_profile, tmp_path):
    make_profile("accounts", COLUMNS, key="external_ref", name="clients-nuit")
    make_feed_account(
        name="erp",
        password="the-password-42",
        routes=[{"pattern": "*.csv", "profile": "clients-nuit"}],
    )
    local = tmp_path / "clients.csv"
    local.write_bytes(b"Code;Nom\r\nC1;Alpha\r\nC2;Beta\r\n")
    base = f"sftp://127.0.0.1:{sftp_server.port}"
    sent = curl(sftp_server, "-u", "alpha.erp:the-password-42", "-T", str(local), f"{base}/")
    assert sent.returncode == 0, sent.stderr
    assert finished_runs() == []  # waits for its marker
    marked = curl(
        sftp_server,
        "-u",
        "alpha.erp:the-password-42",
        "-T",
        "/dev/null",
        f"{base}/clients.csv.done",
    )
    assert marked.returncode == 0, marked.stderr
    runs = wait_until(finished_runs)
    assert [(r.file_name, r.created) for r in runs] == [("clients.csv", 2)]
    wrong = curl(sftp_server, "-u", "alpha.erp:wrong-password", "-T", str(local), f"{base}/")
    assert wrong.returncode != 0
