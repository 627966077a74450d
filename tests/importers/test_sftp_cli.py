"""`flask feed account create` and `flask sftp serve` as an operator runs them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import paramiko
from sqlalchemy import select

from app.extensions import db
from app.models import FeedAccount
from tests.importers.conftest import make_client_key

COLUMNS = {"Code": "external_ref", "Nom": "name"}


def test_feed_account_create(app, tenant, make_profile, tmp_path):
    profile = make_profile("accounts", COLUMNS, key="external_ref", name="clients-nuit")
    _private, public = make_client_key(tmp_path / "key")
    (tmp_path / "key.pub").write_text(public + "\n")
    runner = app.test_cli_runner()
    db.session.commit()
    result = runner.invoke(
        args=[
            "feed",
            "account",
            "create",
            "--tenant",
            "alpha",
            "--name",
            "erp",
            "--public-key",
            str(tmp_path / "key.pub"),
            "--route",
            "clients/*.csv=clients-nuit",
            "--route",
            "*.zip=clients-nuit",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "alpha.erp" in result.output
    db.session.rollback()
    account = db.session.scalar(select(FeedAccount))
    assert account.public_keys == [public]
    assert [r["pattern"] for r in account.routes] == ["clients/*.csv", "*.zip"]
    assert {r["profile_id"] for r in account.routes} == {profile.id}

    refused = runner.invoke(
        args=[
            "feed",
            "account",
            "create",
            "--tenant",
            "alpha",
            "--name",
            "erp2",
            "--route",
            "x=unknown-profile",
        ]
    )
    assert refused.exit_code == 1
    assert "unknown-profile" in refused.output


def test_sftp_serve_listens_with_its_host_key_until_stopped(app, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SFTP_PORT": str(port),
        "SFTP_HOST_KEY": str(tmp_path / "host_key"),
        "FILES_DIR": str(tmp_path / "files"),
        "SECRET_KEY": "test",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi.py", "sftp", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = server.stdout.readline()
        assert f"SFTP inbox on 127.0.0.1:{port}" in banner, banner
        deadline = time.monotonic() + 10
        while True:
            try:
                transport = paramiko.Transport(("127.0.0.1", port))
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        transport.start_client()
        key = transport.get_remote_server_key()
        transport.close()
        assert key.get_name() == "ssh-ed25519"
        assert paramiko.PKey.from_path(tmp_path / "host_key").get_base64() == key.get_base64()
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(15) == 0
