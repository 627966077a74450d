"""Signing by one-time code: the signer consents to a document he was shown, receives a code
by e-mail (or SMS, app/sms.py), enters it — valid 10 minutes, single use, 5 tries
— and the evidence is kept: the consent text, each code sent and each try with the IP address,
the user agent and the UTC time, the document's SHA-256 before and after its seal.

Only an HMAC of the code is stored, keyed with SECRET_KEY and the signature's id: a copy of
the database does not give codes away. In development (ESIGN_LOG_CODES) the code is also
written to the log; it is never shown in a page.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import update

from app import mail, sms
from app.errors import NotAllowed, ValidationError
from app.extensions import db
from app.models import Signature, Tenant
from app.services.mail_outbox import queue_mail, queue_sms
from app.tenancy import current_tenant_id

log = logging.getLogger(__name__)
CODE_VALIDITY = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_CODES = 5  # codes sent for one signature: past it, start again


def _now() -> datetime:
    return datetime.now(UTC)


def _event(signature: Signature, event: str, ip: str | None, agent: str | None,
           **details: Any) -> None:
    signature.events = [*(signature.events or ()), {
        "at": _now().isoformat(timespec="seconds"), "event": event, "ip": ip or "",
        "user_agent": (agent or "")[:500], **details}]


def _digest(signature: Signature, code: str) -> str:
    key = f"{current_app.config['SECRET_KEY']}:signature:{signature.id}".encode()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def start_signature(subject_type: str, subject_id: int, *, name: str, email: str,
                    phone: str | None, consent_text: str, document: bytes, ip: str | None,
                    agent: str | None) -> Signature:
    """The signer was shown `document` and ticked `consent_text`."""
    signature = Signature(subject_type=subject_type, subject_id=subject_id,
                          signer_name=name, signer_email=email, signer_phone=phone or None,
                          consent_text=consent_text,
                          document_sha256=hashlib.sha256(document).hexdigest(),
                          status="pending", attempts=0, codes_sent=0, events=[])
    _event(signature, "consented", ip, agent)
    db.session.add(signature)
    db.session.flush()
    return signature


def send_code(signature: Signature, *, by_sms: bool = False, ip: str | None = None,
              agent: str | None = None) -> None:
    """A new code (the previous one no longer counts), by e-mail or SMS."""
    if signature.status != "pending":
        raise NotAllowed(_("This signature is closed."))
    if signature.codes_sent >= MAX_CODES:
        signature.status = "locked"
        _event(signature, "locked", ip, agent, reason="codes")
        db.session.flush()
        raise NotAllowed(_("Too many codes were sent: start again from the beginning."))
    code = f"{secrets.randbelow(10**6):06d}"
    signature.code_hash = _digest(signature, code)
    signature.code_expires_at = _now() + CODE_VALIDITY
    signature.attempts = 0
    signature.codes_sent += 1
    # SMS only through a gateway (or the development console): otherwise by e-mail.
    channel = "sms" if by_sms and signature.signer_phone and sms.available() else "email"
    _event(signature, "code_sent", ip, agent, channel=channel)
    db.session.flush()
    if current_app.config.get("ESIGN_LOG_CODES"):
        log.warning("signature %s: one-time code %s", signature.id, code)
    tenant = db.session.get(Tenant, current_tenant_id())
    text = _("Your signature code for %(name)s: %(code)s. It is valid for 10 minutes; "
             "never give it to anyone.", name=tenant.name, code=code)
    # Either way sent as soon as the step commits (at once, by the job engine), retried while
    # the code lives; the page says the same whether it has left yet or not.
    if channel == "sms":
        queue_sms(signature.signer_phone, text, "signature_code",
                  expires_at=signature.code_expires_at)
        return
    mail.ensure_configured()
    message = mail.compose(
        signature.signer_email, _("Your signature code — %(name)s", name=tenant.name),
        "document", sender_name=tenant.name, greeting=_("Hello,"), paragraphs=[text],
        signature=tenant.name)
    queue_mail(message, "signature_code", expires_at=signature.code_expires_at)


def take_try(signature: Signature, *, ip: str | None = None,
             agent: str | None = None) -> str | None:
    """Count one try of the current code before it is compared; the user's refusal (no code,
    expired, no try left), or None. The count is one UPDATE that no other try can overtake,
    and the caller commits it before anything else: whatever the request does next (an
    error, a rollback), the try stays counted and the sixth one is refused."""
    if signature.status != "pending":
        raise NotAllowed(_("This signature is closed."))
    db.session.flush()
    if signature.code_hash is None or signature.code_expires_at is None:
        return _("Ask for a code first.")
    if _now() > signature.code_expires_at:
        _event(signature, "code_expired", ip, agent)
        signature.code_hash = None
        db.session.flush()
        return _("This code has expired: ask for a new one.")
    taken = db.session.execute(
        update(Signature).where(Signature.id == signature.id, Signature.status == "pending",
                                Signature.code_hash == signature.code_hash,
                                Signature.attempts < MAX_ATTEMPTS)
        .values(attempts=Signature.attempts + 1)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.refresh(signature, ["attempts", "status", "code_hash"])
    if not taken:
        if signature.status != "pending":
            raise NotAllowed(_("This signature is closed."))
        return _("Wrong code, 5 times: ask for a new one.") if signature.code_hash \
            else _("Ask for a code first.")
    return None


def check_code(signature: Signature, code: str, *, ip: str | None = None,
               agent: str | None = None, tried: bool = False) -> bool:
    """Whether `code` signs: the current one, within 10 minutes, at most 5 tries, once.
    `tried`: the try was counted (and committed) by take_try already; otherwise it is
    counted here, in the caller's transaction."""
    if not tried:
        refused = take_try(signature, ip=ip, agent=agent)
        if refused:
            raise ValidationError({"code": refused})
    if signature.status != "pending":
        raise NotAllowed(_("This signature is closed."))
    if signature.code_hash is None:
        raise ValidationError({"code": _("Ask for a code first.")})
    given = "".join(ch for ch in (code or "") if ch.isdigit())
    if not hmac.compare_digest(_digest(signature, given), signature.code_hash):
        left = MAX_ATTEMPTS - signature.attempts
        _event(signature, "code_wrong", ip, agent)
        if left <= 0:
            signature.code_hash = None
            _event(signature, "code_refused", ip, agent)
            db.session.flush()
            raise ValidationError({"code": _("Wrong code, 5 times: ask for a new one.")})
        db.session.flush()
        raise ValidationError({"code": _("Wrong code: %(left)d tries left.", left=left)})
    # Single use, even for two right answers at once: only one clears the code.
    used = db.session.execute(
        update(Signature).where(Signature.id == signature.id, Signature.status == "pending",
                                Signature.code_hash == signature.code_hash)
        .values(code_hash=None, status="signed", signed_at=_now())
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.refresh(signature, ["code_hash", "status", "signed_at"])
    if not used:
        raise NotAllowed(_("This signature is closed."))
    _event(signature, "signed", ip, agent)
    db.session.flush()
    return True


def mark_sealed(signature: Signature, sealed: bytes) -> None:
    signature.sealed_sha256 = hashlib.sha256(sealed).hexdigest()
    _event(signature, "sealed", None, None)
    db.session.flush()


def evidence_rows(signature: Signature) -> list[tuple[str, str]]:
    """The audit-trail page's rows: who, what, and every step with its time, IP and agent."""
    rows = [(_("Signer"), f"{signature.signer_name} <{signature.signer_email}>"
             + (f", {signature.signer_phone}" if signature.signer_phone else "")),
            (_("Consent shown"), signature.consent_text),
            (_("Document SHA-256 before signature"), signature.document_sha256)]
    labels = {"consented": _("Consented"), "code_sent": _("Code sent"),
              "code_wrong": _("Wrong code entered"), "code_expired": _("Code expired"),
              "code_refused": _("Code refused after 5 tries"), "signed": _("Signed"),
              "locked": _("Locked"), "sealed": _("Sealed")}
    for event in signature.events or ():
        if event["event"] == "sealed":
            continue
        detail = f"{event['at'].replace('T', ' ')} UTC"
        if event.get("channel"):
            detail += f" · {event['channel']}"
        if event.get("ip"):
            detail += f" · IP {event['ip']}"
        if event.get("user_agent"):
            detail += f"\n{event['user_agent']}"
        rows.append((labels.get(event["event"], event["event"]), detail))
    return rows
