"""Where the file goes: mailed through the SMTP server (a real aiosmtpd on loopback), sent to
the tenant's SFTP server (Debian's sshd on loopback, host key pinned), or kept for download;
every run's file is kept and downloadable again whatever its destination."""

from __future__ import annotations

from datetime import date

import pytest

from app.extensions import db
from app.models import SftpServer
from app.secret_box import unseal
from app.services.sftp_servers import create_sftp_server
from importers.export_runs import run_file_path
from importers.sftp_client import fingerprint


@pytest.fixture
def one_invoice(make_account, make_invoice):
    account = make_account(name="Volets Dupont")
    return make_invoice(account=account.id, number="F2026-001", issued_on=date(2026, 11, 3))


@pytest.fixture
def remote_sftp(tenant, sshd):
    """The tenant's own SFTP server (Debian's sshd on loopback), as an admin registers it."""
    server = create_sftp_server(
        {
            "name": "compta",
            "host": "127.0.0.1",
            "port": sshd.port,
            "username": sshd.username,
            "private_key": sshd.client_key,
        }
    )
    db.session.commit()
    return server


def test_an_export_is_mailed_with_its_file_attached(make_export, run_now, one_invoice, inbox):
    export = make_export(
        name="factures-compta",
        format="csv_cp1252",
        columns=["number"],
        destination="email",
        recipients="compta@dupont.example; expert@cabinet.example",
    )
    run = run_now(export)
    assert run.status == "succeeded", run.message
    assert run.delivered_to == "compta@dupont.example, expert@cabinet.example"
    [message] = inbox.messages
    assert "factures-compta" in message["Subject"] and "1" in message["Subject"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == run.file_name
    assert attachment.get_content_type() == "text/csv"
    assert (
        attachment.get_payload(decode=True)
        == run_file_path(run).read_bytes()
        == "Numéro\r\nF2026-001\r\n".encode("cp1252")
    )


def test_a_mail_server_that_refuses_fails_the_run_with_its_reason(
    make_export, run_now, one_invoice, app, monkeypatch
):
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:1")
    run = run_now(make_export(destination="email", recipients=["compta@dupont.example"]))
    assert run.status == "failed"
    assert "mail" in run.message.lower()
    assert run_file_path(run).exists()  # kept all the same: downloadable


def test_an_export_is_sent_to_the_tenants_sftp_server(
    make_export, run_now, one_invoice, sshd, remote_sftp
):
    outgoing = sshd.root / "depot"
    outgoing.mkdir()
    export = make_export(
        name="ventes",
        format="csv_utf8",
        columns=["number", "issued_on"],
        destination="sftp",
        sftp_server_id=remote_sftp.id,
        folder=str(outgoing),
    )
    run = run_now(export)
    assert run.status == "succeeded", run.message
    [sent] = list(outgoing.iterdir())  # renamed once complete: no .part left
    assert sent.name == run.file_name
    assert sent.read_bytes() == "\ufeffNuméro;Date d’émission\r\nF2026-001;03/11/2026\r\n".encode()
    assert run.delivered_to.startswith(f"sftp://{sshd.username}@127.0.0.1:{sshd.port}/")


def test_the_server_pinned_key_and_secret(sshd, remote_sftp):
    assert remote_sftp.host_key == sshd.host_key.strip()
    assert sshd.client_key not in remote_sftp.secret_encrypted  # sealed
    assert unseal(remote_sftp.secret_encrypted) == sshd.client_key.strip() + "\n"
    assert fingerprint(remote_sftp.host_key).startswith("SHA256:")


def test_a_server_presenting_another_host_key_is_refused(
    make_export, run_now, one_invoice, sshd, remote_sftp
):
    from tests.exports.servers import _ed25519_pair

    remote_sftp.host_key = _ed25519_pair()[1]  # as if the server had been replaced
    db.session.commit()
    run = run_now(
        make_export(destination="sftp", sftp_server_id=remote_sftp.id, folder=str(sshd.root))
    )
    assert run.status == "failed"
    assert "host key changed" in run.message
    assert list(sshd.root.iterdir()) == []


def test_a_wrong_key_is_refused_by_the_server(make_export, run_now, one_invoice, sshd):
    from tests.exports.servers import _ed25519_pair

    server = create_sftp_server(
        {
            "name": "autre",
            "host": "127.0.0.1",
            "port": sshd.port,
            "username": sshd.username,
            "host_key": sshd.host_key,
            "private_key": _ed25519_pair()[0],
        }
    )
    db.session.commit()
    run = run_now(make_export(destination="sftp", sftp_server_id=server.id, folder=str(sshd.root)))
    assert run.status == "failed" and "refused the login" in run.message
    assert db.session.get(SftpServer, server.id) is not None


def test_a_password_login_the_server_refuses_fails_the_run(make_export, run_now, one_invoice, sshd):
    # This sshd takes keys only: the password is sent, and refused.
    server = create_sftp_server(
        {
            "name": "mdp",
            "host": "127.0.0.1",
            "port": sshd.port,
            "username": sshd.username,
            "password": "s3cret!",
        }
    )
    db.session.commit()
    assert server.secret_kind == "password" and "s3cret!" not in server.secret_encrypted
    run = run_now(make_export(destination="sftp", sftp_server_id=server.id, folder=str(sshd.root)))
    assert run.status == "failed" and "refused the login" in run.message


def test_an_export_lands_in_a_feed_accounts_outbox_and_is_fetched_over_sftp(
        app, make_export, run_now, one_invoice, make_feed_account, sftp_server):
    """Invoice numbers for the accounting system that sends its files to the inbox: it fetches
    the export from its own outbox/ with the same login (`sftp_server`: the inbox, the
    fixture of tests/importers)."""
    from app.errors import ValidationError
    from tests.importers.test_sftp_inbox import connect

    account = make_feed_account(name="compta")
    with pytest.raises(ValidationError) as refused:
        make_export(name="sans-compte", destination="outbox", feed_account_id=999_999)
    assert "feed_account_id" in refused.value.errors
    db.session.rollback()
    export = make_export(name="factures-compta", format="csv_cp1252", columns=["number"],
                         destination="outbox", feed_account_id=account.id)
    run = run_now(export)
    assert run.status == "succeeded", run.message
    assert run.delivered_to == f"compta: outbox/{run.file_name}"
    sftp = connect(sftp_server, "alpha.compta", password="sftp-password-123")
    try:
        assert run.file_name in sftp.listdir("outbox")
        with sftp.open(f"outbox/{run.file_name}", "rb") as fetched:
            assert fetched.read() == run_file_path(run).read_bytes() \
                == "Numéro\r\nF2026-001\r\n".encode("cp1252")
        # No half file is ever seen there: only the complete one.
        assert not [name for name in sftp.listdir("outbox") if name.endswith(".part")]
    finally:
        sftp.close()
