"""The outbox of mails and text messages: a mail (or an SMS, `channel` "sms": a signature code
through app/sms.py) is written in the transaction of what it announces, and sent once that
transaction has committed — as webhook deliveries are (app/services/webhook_outbox.py). Both
channels share everything below: retries, the outgoing messages page, expiry and purge.

A rolled-back sale sends nothing; a slow SMTP server holds no transaction open; a failing one
rolls nothing back: the mail waits and is retried after MAIL_RETRY_DELAYS (1 min, 5 min,
30 min, 2 h, 6 h, 12 h), then is "failed": its tenant's admins see it on the outgoing mails
page (app/backoffice/mail_views.py) and may send it again from there. A commit that queued
mails hands them at once to the job engine (`send_mails`, app/jobs.py: a thread of this
process, or a worker when a broker is set); the periodic `send_mails` job picks up retries
and whatever a stopped process left. A mail that carries a one-time code expires with the code.

The message waits encrypted (app/secret_box.py): a copy of the database gives away no
one-time code nor link. Once sent or expired, only its recipient, purpose and dates stay; a
failed mail keeps its sealed message so that it can be sent again, until the `purge_mails`
job forgets the rows finished MAIL_OUTBOX_RETENTION_DAYS ago.
"""
from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import delete, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from app import mail, secret_box, sms
from app.errors import ValidationError
from app.extensions import db
from app.models import OutgoingMail
from app.services.audit import record_event
from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context

log = logging.getLogger(__name__)
WAKE = "relais_mail_wake"
DEFAULT_DELAYS = (60, 300, 1800, 7200, 21600, 43200)
LEASE = timedelta(minutes=5)
FINISHED = ("sent", "failed", "expired")


def _now() -> datetime:
    return datetime.now(UTC)


def queue_mail(message: EmailMessage, purpose: str, *,
               expires_at: datetime | None = None) -> OutgoingMail:
    """`message` to send once the current transaction commits (flushes, never sends)."""
    return _queue("email", str(message["To"] or ""),
                  base64.b64encode(message.as_bytes()).decode(), purpose, expires_at)


def queue_sms(phone: str, text: str, purpose: str, *,
              expires_at: datetime | None = None) -> OutgoingMail:
    """The SMS `text` to `phone` (E.164) to send once the current transaction commits."""
    return _queue("sms", phone, text, purpose, expires_at)


def _queue(channel: str, recipient: str, content: str, purpose: str,
           expires_at: datetime | None) -> OutgoingMail:
    queued = OutgoingMail(
        channel=channel, purpose=purpose[:40], recipient=recipient[:254],
        message_sealed=secret_box.seal(content), status="pending", attempts=0,
        next_attempt_at=_now(), expires_at=expires_at)
    db.session.add(queued)
    db.session.flush()
    db.session.info[WAKE] = True
    return queued


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(WAKE, False) and has_app_context():
        from app import jobs

        try:
            jobs.enqueue("send_mails")
        except Exception:  # the broker is down: the periodic job sends them later
            log.exception("queuing the mails to send failed")


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(WAKE, None)


def retry_delays() -> list[float]:
    raw = current_app.config.get("MAIL_RETRY_DELAYS", DEFAULT_DELAYS)
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    return [float(value) for value in raw]


# -- the sender: a job, across tenants --------------------------------------------------------

def _claim_due(limit: int) -> list[tuple[int, int]]:
    """(mail id, tenant id) of due mails, each held for this process for LEASE."""
    now = _now()
    free = or_(OutgoingMail.locked_until.is_(None), OutgoingMail.locked_until < now)
    with all_tenants_unsafe("mail outbox"):
        due = db.session.execute(
            select(OutgoingMail.id, OutgoingMail.tenant_id)
            .where(OutgoingMail.status == "pending", OutgoingMail.next_attempt_at <= now, free)
            .order_by(OutgoingMail.id).limit(limit)).all()
        claimed = [(mail_id, tenant_id) for mail_id, tenant_id in due
                   if db.session.execute(
                       update(OutgoingMail)
                       .where(OutgoingMail.id == mail_id, OutgoingMail.status == "pending",
                              free)
                       .values(locked_until=now + LEASE)
                       .execution_options(synchronize_session=False)).rowcount == 1]
    db.session.commit()
    return claimed


def send_due(limit: int = 100) -> int:
    """The `send_mails` job: send the mails due now; how many left."""
    sent = 0
    for mail_id, tenant_id in _claim_due(limit):
        with tenant_context(tenant_id, SYSTEM):
            try:
                sent += send_one(mail_id)
            except Exception:  # one mail's trouble must not keep the others
                log.exception("mail %s not sent", mail_id)
                db.session.rollback()
    return sent


def send_one(mail_id: int) -> bool:
    """Send one claimed mail of the bound tenant and record what came of it."""
    queued = db.session.scalar(select(OutgoingMail).where(OutgoingMail.id == mail_id))
    if queued is None or queued.status != "pending" or queued.message_sealed is None:
        db.session.rollback()
        return False
    now = _now()
    if queued.expires_at is not None and _aware(queued.expires_at) <= now:
        queued.status, queued.message_sealed, queued.locked_until = "expired", None, None
        db.session.commit()
        return False
    if queued.channel == "sms":
        phone, text = queued.recipient, secret_box.unseal(queued.message_sealed)
        db.session.commit()  # no transaction stays open while the gateway answers
        try:
            sms.sender().send(phone, text)
        except Exception as exc:  # noqa: BLE001 - any gateway's failure: retried
            # What the gateway says, without the text it may quote: the code stays secret.
            _failed(mail_id, f"{exc.__class__.__name__}: {exc}".replace(text, "…"))
            return False
        return _sent(mail_id)
    message = message_from_bytes(
        base64.b64decode(secret_box.unseal(queued.message_sealed)), policy=default_policy)
    db.session.commit()  # no transaction stays open while the SMTP server answers
    try:
        mail.send(message)
    except mail.MailError as exc:
        _failed(mail_id, str(exc))
        return False
    return _sent(mail_id)


def _sent(mail_id: int) -> bool:
    queued = db.session.scalar(select(OutgoingMail).where(OutgoingMail.id == mail_id))
    if queued is not None:
        queued.attempts += 1
        queued.status, queued.sent_at = "sent", _now()
        queued.message_sealed = queued.locked_until = queued.last_error = None
        db.session.commit()
    return True


def _failed(mail_id: int, error: str) -> None:
    queued = db.session.scalar(select(OutgoingMail).where(OutgoingMail.id == mail_id))
    if queued is None:
        return
    delays = retry_delays()
    queued.attempts += 1
    queued.last_error, queued.locked_until = error[:500], None
    if queued.attempts > len(delays):
        queued.status = "failed"  # the sealed message stays: an admin may send it again
        log.warning("%s %s (%s) given up after %d attempts", queued.channel, mail_id,
                    queued.purpose, queued.attempts)
    else:
        queued.next_attempt_at = _now() + timedelta(seconds=delays[queued.attempts - 1])
    db.session.commit()


def can_retry(queued: OutgoingMail) -> bool:
    """Whether an admin may send this mail now: waiting or failed, its message still kept,
    its code (if any) not expired."""
    return (queued.status in ("pending", "failed") and queued.message_sealed is not None
            and (queued.expires_at is None or _aware(queued.expires_at) > _now()))


def retry_mail(queued: OutgoingMail) -> None:
    """Send a waiting or failed mail at once, a failed one with a fresh series of attempts."""
    if not can_retry(queued):
        raise ValidationError({"": _("This message can no longer be sent: it was sent, or "
                                     "its content or its code is gone.")})
    before = {"status": queued.status, "attempts": queued.attempts}
    if queued.status == "failed":
        queued.status, queued.attempts = "pending", 0
    # A sender's hold stays: a mail being handed to the server now is not sent twice.
    queued.next_attempt_at = _now()
    db.session.flush()
    db.session.info[WAKE] = True
    record_event("retry", "outgoing_mails", queued.id, before,
                 {"status": queued.status, "attempts": queued.attempts})


def purge() -> int:
    """The `purge_mails` job: forget the mails finished MAIL_OUTBOX_RETENTION_DAYS ago."""
    days = float(current_app.config.get("MAIL_OUTBOX_RETENTION_DAYS", 90))
    cutoff = _now() - timedelta(days=days)
    with all_tenants_unsafe("mail outbox"):
        count = db.session.execute(
            delete(OutgoingMail).where(OutgoingMail.status.in_(FINISHED),
                                       OutgoingMail.created_at < cutoff)
            .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if count:
        log.info("%d old outgoing mails purged", count)
    return count


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
