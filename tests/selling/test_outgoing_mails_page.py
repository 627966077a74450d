"""The outgoing mails page: a tenant's admins see the mails of the outbox, newest first, by
status, and send a waiting or failed one again; the purge forgets finished mails after the
retention. Admins only, own tenant only."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from app import secret_box
from app.extensions import db
from app.jobs import REGISTRY, function, periodic
from app.models import AuditEvent, OutgoingMail
from app.services.mail_outbox import queue_mail
from app.tenancy import all_tenants_unsafe
from tests.backoffice.conftest import fr, text
from tests.webhooks.conftest import wait_until

PAGE = "/alpha/admin/mails"


@pytest.fixture
def make_mail(tenant):
    """A row of the outbox as the sender leaves it (no mail leaves)."""

    def make(status="sent", purpose="quote_link", recipient="client@example.com",
             age_days=0.0, kept=None, **over) -> OutgoingMail:
        created = datetime.now(UTC) - timedelta(days=age_days)
        kept = status in ("pending", "failed") if kept is None else kept
        row = OutgoingMail(purpose=purpose, recipient=recipient, status=status,
                           attempts=over.pop("attempts", 1), created_at=created,
                           next_attempt_at=created + timedelta(days=1),
                           message_sealed=secret_box.seal("bWFpbA==") if kept else None,
                           sent_at=created if status == "sent" else None, **over)
        db.session.add(row)
        db.session.commit()
        return row

    return make


def _message(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@alpha.example", to, "Votre devis"
    message.set_content("Le lien de votre devis.")
    return message


def _row(mail_id: int) -> OutgoingMail | None:
    db.session.expire_all()
    with all_tenants_unsafe("test"):
        row = db.session.scalar(select(OutgoingMail).where(OutgoingMail.id == mail_id))
    return row


def test_an_admin_sees_the_tenants_mails_newest_first_by_status(
        admin_client, make_mail, other_tenant, in_tenant, monkeypatch):
    older = make_mail("sent", "invitation", "ancien@example.com", age_days=2)
    failed = make_mail("failed", "signature_code", "echec@example.com",
                       last_error="SMTP 451 try later", attempts=7)
    theirs = in_tenant(other_tenant, lambda: make_mail("failed", recipient="beta@example.com"))

    page = text(admin_client.get(PAGE))
    assert "echec@example.com" in page and "ancien@example.com" in page
    assert page.index("echec@example.com") < page.index("ancien@example.com")  # newest first
    assert fr("Signing code") in page and fr("Extranet invitation") in page
    assert "SMTP 451 try later" in page
    assert "beta@example.com" not in page  # another tenant's mails are never listed

    only_failed = text(admin_client.get(f"{PAGE}?status=failed"))
    assert "echec@example.com" in only_failed and "ancien@example.com" not in only_failed
    only_sent = text(admin_client.get(f"{PAGE}?status=sent"))
    assert "ancien@example.com" in only_sent and "echec@example.com" not in only_sent

    monkeypatch.setattr("app.queries.outgoing_mails.PAGE", 1)
    first = admin_client.get(PAGE)
    assert "echec@example.com" in text(first) and "ancien@example.com" not in text(first)
    assert f"before={failed.id}" in first.text
    second = text(admin_client.get(f"{PAGE}?before={failed.id}"))
    assert "ancien@example.com" in second and "echec@example.com" not in second
    assert older.id and theirs.id


def test_a_failed_mail_is_sent_again_by_an_admin_once_the_server_is_back(
        app, tenant, admin_client, inbox, monkeypatch):
    working = app.config["SMTP_URL"]
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:1")  # the server is down
    monkeypatch.setitem(app.config, "MAIL_RETRY_DELAYS", "")  # given up at the first failure
    mail_id = queue_mail(_message("relance@example.com"), "quote_link").id
    db.session.commit()
    failed = wait_until(lambda: (row := _row(mail_id)) is not None and row.status == "failed")
    assert failed and _row(mail_id).message_sealed  # kept, so that it can be sent again
    page = admin_client.get(f"{PAGE}?status=failed")
    assert fr("Send now") in text(page) and f"/admin/mails/{mail_id}/retry" in page.text

    monkeypatch.setitem(app.config, "SMTP_URL", working)
    done = admin_client.post(f"/alpha/admin/mails/{mail_id}/retry?status=failed")
    assert done.status_code == 302 and done.headers["Location"].endswith(
        "/alpha/admin/mails?status=failed")
    assert [m["To"] for m in inbox.messages] == ["relance@example.com"]
    row = _row(mail_id)
    assert row.status == "sent" and row.attempts == 1 and row.message_sealed is None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity == "outgoing_mails"))
    assert event.action == "retry" and event.record_id == mail_id
    assert event.before == {"status": "failed", "attempts": 1}
    assert fr("Send now") not in text(admin_client.get(PAGE))


def test_a_mail_waiting_for_its_next_attempt_is_sent_now(app, tenant, admin_client, inbox,
                                                         monkeypatch):
    working = app.config["SMTP_URL"]
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:1")
    monkeypatch.setitem(app.config, "MAIL_RETRY_DELAYS", "3600")  # next attempt in an hour
    mail_id = queue_mail(_message("attente@example.com"), "invitation").id
    db.session.commit()
    wait_until(lambda: (row := _row(mail_id)) is not None and row.attempts == 1)
    assert _row(mail_id).status == "pending"
    monkeypatch.setitem(app.config, "SMTP_URL", working)
    assert admin_client.post(f"/alpha/admin/mails/{mail_id}/retry").status_code == 302
    assert wait_until(lambda: _row(mail_id).status == "sent")
    assert [m["To"] for m in inbox.messages] == ["attente@example.com"]
    assert _row(mail_id).attempts == 2


def test_a_mail_that_cannot_go_again_offers_no_retry_and_refuses_one(admin_client,
                                                                     make_mail):
    sent = make_mail("sent")
    expired_code = make_mail("failed", "signature_code",
                             expires_at=datetime.now(UTC) - timedelta(minutes=1))
    erased = make_mail("failed", kept=False, last_error="recipient erased")
    assert fr("Send now") not in text(admin_client.get(PAGE))
    for row in (sent, expired_code, erased):
        refused = admin_client.post(f"/alpha/admin/mails/{row.id}/retry", follow_redirects=True)
        assert fr("This message can no longer be sent: it was sent, or its content or its code "
                  "is gone.") in text(refused)
        assert _row(row.id).status == row.status
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.entity == "outgoing_mails")) is None


def test_another_tenants_mail_cannot_be_sent_again(admin_client, make_mail, other_tenant,
                                                   in_tenant):
    theirs = in_tenant(other_tenant, lambda: make_mail("failed", recipient="beta@example.com"))
    assert admin_client.post(f"/alpha/admin/mails/{theirs.id}/retry").status_code == 404
    row = _row(theirs.id)
    assert row.status == "failed" and row.attempts == 1


def test_only_admins_reach_the_outgoing_mails(sales_client, make_mail):
    failed = make_mail("failed")
    assert sales_client.get(PAGE).status_code == 403
    assert sales_client.post(f"/alpha/admin/mails/{failed.id}/retry").status_code == 403
    assert _row(failed.id).status == "failed"


def test_sending_again_needs_the_forms_token(admin_client, make_mail, csrf_on):
    failed = make_mail("failed")
    assert admin_client.post(f"/alpha/admin/mails/{failed.id}/retry").status_code == 400
    assert _row(failed.id).status == "failed"


def test_the_purge_forgets_finished_mails_past_the_retention_in_every_tenant(
        app, make_mail, other_tenant, in_tenant, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_OUTBOX_RETENTION_DAYS", 90)
    old = [make_mail(status, age_days=91).id for status in ("sent", "failed", "expired")]
    old.append(in_tenant(other_tenant, lambda: make_mail("sent", age_days=120)).id)
    waiting = make_mail("pending", age_days=200).id  # never purged before it ends
    recent = make_mail("failed", age_days=89).id

    assert function(REGISTRY["purge_mails"])() == 4
    assert all(_row(mail_id) is None for mail_id in old)
    assert _row(waiting) is not None and _row(recent) is not None

    monkeypatch.setitem(app.config, "MAIL_OUTBOX", True)
    assert "purge_mails" in {job.name for job, _every in periodic(app)}
