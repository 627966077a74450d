"""Sealed contracts: the audit-trail page appended, the PDF sealed (PAdES) with the platform's
certificate generated once; pyHanko's validation says intact and trusted, and a copy with one
byte changed, or with anything appended after the seal, fails."""
from __future__ import annotations

import io
import os
import stat

import pytest
from pypdf import PdfReader
from reportlab.pdfgen import canvas

from app import esign


def _contract() -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 760, "Contrat d'abonnement - badge mensuel")
    page.showPage()
    page.save()
    return out.getvalue()


@pytest.fixture
def sealing(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "ESIGN_CERT_FILE", str(tmp_path / "seal" / "cert.pem"))
    monkeypatch.setitem(app.config, "ESIGN_KEY_FILE", str(tmp_path / "seal" / "key.pem"))
    return tmp_path / "seal"


def test_a_sealed_contract_is_intact_trusted_and_carries_its_evidence(app_ctx, sealing):
    pdf = esign.with_audit_trail(_contract(), "Audit trail", [
        ("Signer", "Hélène Dupré <helene@example.com>"), ("IP address", "203.0.113.7"),
        ("Code sent", "2026-12-05 10:02:11 UTC"), ("Code entered", "2026-12-05 10:03:40 UTC"),
        ("SHA-256 before signature", "ab" * 32)])
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) == 2 and "203.0.113.7" in pages[1].extract_text()
    assert "Hélène Dupré" in pages[1].extract_text()

    sealed = esign.seal_pdf(pdf, reason="Contract signed by Hélène Dupré")
    check = esign.check_seal(sealed)
    assert check is not None and check.ok
    assert "electronic seal" in check.signer
    # The key was generated once, readable by its owner only, and is kept.
    key = sealing / "key.pem"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    first = key.read_bytes()
    esign.seal_pdf(pdf, reason="again")
    assert key.read_bytes() == first


def test_a_changed_copy_fails(app_ctx, sealing):
    sealed = esign.seal_pdf(_contract(), reason="Contract signed")
    changed = bytearray(sealed)
    changed[len(changed) // 3] ^= 0x01  # one bit, inside the signed range
    check = esign.check_seal(bytes(changed))
    assert check is None or not check.ok
    appended = sealed + b"\n% added after the seal\n"
    check = esign.check_seal(appended)
    assert check is not None and not check.ok and not check.whole_file


def test_a_seal_from_another_certificate_is_not_trusted(app, app_ctx, sealing, tmp_path,
                                                       monkeypatch):
    sealed = esign.seal_pdf(_contract(), reason="Contract signed")
    monkeypatch.setitem(app.config, "ESIGN_CERT_FILE", str(tmp_path / "other" / "cert.pem"))
    monkeypatch.setitem(app.config, "ESIGN_KEY_FILE", str(tmp_path / "other" / "key.pem"))
    check = esign.check_seal(sealed)
    assert check is not None and check.intact and not check.trusted and not check.ok


def test_a_pdf_without_seal_or_not_a_pdf(app_ctx, sealing):
    assert esign.check_seal(_contract()) is None
    assert esign.check_seal(b"not a pdf") is None


def test_sealing_works_while_this_thread_runs_an_event_loop(app, sealing):
    """As under an asynchronous server, or after the browser tests drove Chromium from a
    worker: pyHanko's own asyncio.run() must not meet the running loop. (In a thread of its
    own: this one may run a loop already.)"""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    async def inside() -> esign.SealCheck | None:
        with app.app_context():
            return esign.check_seal(esign.seal_pdf(_contract(), reason="Contract signed"))

    with ThreadPoolExecutor(1) as pool:
        check = pool.submit(asyncio.run, inside()).result()
    assert check is not None and check.ok
