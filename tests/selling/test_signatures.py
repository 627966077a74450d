"""Signing by one-time code: the code comes by e-mail (never in the page), is valid 10
minutes, once, 5 tries; every step is kept as evidence with its time, IP and user agent, and
the evidence page of a sealed contract lists it."""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from reportlab.pdfgen import canvas

from app import esign
from app.errors import NotAllowed, ValidationError
from app.extensions import db
from app.services import signatures
from tests.backoffice.conftest import fr

UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)"


def _document() -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 760, "Contrat")
    page.showPage()
    page.save()
    return out.getvalue()


def _start(document: bytes = b"%PDF contract") -> signatures.Signature:
    signature = signatures.start_signature(
        "subscription", 1, name="Hélène Dupré", email="helene@example.com", phone="+33612345678",
        consent_text="J'ai lu le contrat et le mandat et je les signe.", document=document,
        ip="203.0.113.7", agent=UA)
    db.session.commit()
    return signature


def _code(inbox) -> str:
    body = inbox.messages[-1].get_body(("plain",)).get_content()
    return re.search(r"\b(\d{6})\b", body).group(1)


def test_the_code_comes_by_mail_and_signs_once(tenant, inbox):
    signature = _start()
    signatures.send_code(signature, ip="203.0.113.7", agent=UA)
    db.session.commit()
    assert inbox.messages[-1]["To"] == "helene@example.com"
    code = _code(inbox)
    assert code not in str(signature.code_hash) and signature.code_hash  # only its HMAC kept
    with pytest.raises(ValidationError) as wrong:
        signatures.check_code(signature, "000000" if code != "000000" else "111111",
                              ip="203.0.113.7", agent=UA)
    assert wrong.value.errors["code"] == fr("Wrong code: %(left)d tries left.", left=4)
    assert signatures.check_code(signature, f"{code[:3]} {code[3:]}", ip="203.0.113.7",
                                 agent=UA)
    db.session.commit()
    assert signature.status == "signed" and signature.signed_at is not None
    with pytest.raises(NotAllowed):  # single use
        signatures.check_code(signature, code)
    assert [e["event"] for e in signature.events] == ["consented", "code_sent", "code_wrong",
                                                      "signed"]
    assert all(e["ip"] == "203.0.113.7" and e["user_agent"] == UA for e in signature.events)


def test_five_wrong_tries_end_the_code(tenant, inbox):
    signature = _start()
    signatures.send_code(signature)
    db.session.commit()  # the code's mail leaves once committed
    code = _code(inbox)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        with pytest.raises(ValidationError):
            signatures.check_code(signature, wrong)
    with pytest.raises(ValidationError) as fifth:
        signatures.check_code(signature, wrong)
    assert fifth.value.errors["code"] == fr("Wrong code, 5 times: ask for a new one.")
    with pytest.raises(ValidationError):  # even the right one, now
        signatures.check_code(signature, code)
    signatures.send_code(signature)  # a new code starts the tries again
    db.session.commit()  # the code's mail leaves once committed
    assert signatures.check_code(signature, _code(inbox))


def test_a_code_expires_after_10_minutes(tenant, inbox):
    signature = _start()
    signatures.send_code(signature)
    db.session.commit()  # the code's mail leaves once committed
    signature.code_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(ValidationError) as late:
        signatures.check_code(signature, _code(inbox))
    assert late.value.errors["code"] == fr("This code has expired: ask for a new one.")
    assert signature.status == "pending"


def test_too_many_codes_lock_the_signature(tenant, inbox):
    signature = _start()
    for _ in range(signatures.MAX_CODES):
        signatures.send_code(signature)
        db.session.commit()  # the code's mail leaves once committed
    with pytest.raises(NotAllowed):
        signatures.send_code(signature)
        db.session.commit()  # the code's mail leaves once committed
    assert signature.status == "locked"


class RecordingSms:
    """An SMS gateway as ESIGN_SMS_SENDER names one: built with the config, sends texts."""

    sent: list[tuple[str, str]] = []

    def __init__(self, config) -> None:
        self.config = config

    def send(self, phone: str, text: str) -> None:
        RecordingSms.sent.append((phone, text))


def test_an_sms_goes_through_the_configured_sender(app, tenant, inbox, monkeypatch):
    signature = _start()
    RecordingSms.sent.clear()
    monkeypatch.setitem(app.config, "ESIGN_SMS_SENDER",
                        "tests.selling.test_signatures:RecordingSms")
    signatures.send_code(signature, by_sms=True)
    assert RecordingSms.sent == []  # not before the commit
    db.session.commit()
    inbox.messages  # noqa: B018 - waits for the outbox's first attempts
    [(phone, text)] = RecordingSms.sent
    assert phone == "+33612345678" and re.search(r"\b\d{6}\b", text)
    assert not inbox.messages and signature.events[-1]["channel"] == "sms"
    assert signatures.check_code(signature, re.search(r"\b(\d{6})\b", text).group(1))


def test_the_sealed_contract_carries_the_evidence(app, tenant, inbox, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "ESIGN_CERT_FILE", str(tmp_path / "cert.pem"))
    monkeypatch.setitem(app.config, "ESIGN_KEY_FILE", str(tmp_path / "key.pem"))
    document = _document()
    signature = _start(document)
    signatures.send_code(signature, ip="203.0.113.7", agent=UA)
    db.session.commit()  # the code's mail leaves once committed
    signatures.check_code(signature, _code(inbox), ip="203.0.113.7", agent=UA)
    pdf = esign.with_audit_trail(document, "Audit trail", signatures.evidence_rows(signature))
    sealed = esign.seal_pdf(pdf, reason="Signed by Hélène Dupré")
    signatures.mark_sealed(signature, sealed)
    db.session.commit()
    import hashlib

    assert signature.document_sha256 == hashlib.sha256(document).hexdigest()
    assert signature.sealed_sha256 == hashlib.sha256(sealed).hexdigest()
    evidence = PdfReader(io.BytesIO(sealed)).pages[-1].extract_text()
    for expected in ("Hélène Dupré", "203.0.113.7", "iPhone", signature.document_sha256[:16],
                     "je les signe"):
        assert expected in evidence
    assert esign.check_seal(sealed).ok
