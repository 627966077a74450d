"""Sealed PDFs: a signed contract is sealed with pyHanko (PAdES baseline B-B, B-T when a
timestamp server is configured) after an audit-trail page is appended, so that anyone can check
with pyHanko or a PDF reader that not a byte changed since.

The seal's certificate is the tenant's own when a tenant admin gave one
(app/services/esign_seals.py), else the platform's: ESIGN_CERT_FILE and ESIGN_KEY_FILE name it
(a qualified seal bought by the operator), or a self-signed one is generated once, at first
use, under instance/esign/, and kept.
"""
from __future__ import annotations

import asyncio
import hashlib
import io
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, current_app

T = TypeVar("T")
_lock = threading.Lock()
SEAL_FIELD = "RelaisSeal"
VALIDITY = timedelta(days=3650)


@dataclass(frozen=True)
class SealCheck:
    """What a seal's validation says: the signed bytes unchanged (`intact`), the signature
    mathematically right (`valid`), made by a certificate we trust (`trusted`), covering the
    whole file (nothing appended after it)."""

    intact: bool
    valid: bool
    trusted: bool
    whole_file: bool
    signer: str
    signed_at: datetime | None

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.whole_file


def _off_loop(work: Callable[[], T]) -> T:
    """pyHanko's synchronous calls run asyncio.run(): in a thread of their own when this one
    already runs an event loop (an asynchronous server, a browser driven from the tests)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


def _paths(app: Flask) -> tuple[Path, Path]:
    cert = app.config.get("ESIGN_CERT_FILE") or os.path.join(app.instance_path, "esign",
                                                              "seal-cert.pem")
    key = app.config.get("ESIGN_KEY_FILE") or os.path.join(app.instance_path, "esign",
                                                           "seal-key.pem")
    return Path(cert), Path(key)


def seal_files(app: Flask | None = None) -> tuple[Path, Path]:
    """The seal's certificate and key files, generated once when neither exists."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    cert, key = _paths(app)
    with _lock:
        if not cert.exists() and not key.exists():
            _generate(cert, key, app.config.get("ESIGN_SEAL_NAME") or "Relais")
    return cert, key


def _generate(cert_path: Path, key_path: Path, name: str) -> None:
    """A self-signed P-256 certificate for sealing (non-repudiation), 10 years."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} electronic seal"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + VALIDITY)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256()))
    key_path.parent.mkdir(parents=True, exist_ok=True)
    # The key readable by this user only, written before the certificate that announces it.
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def seal_pdf(pdf: bytes, *, reason: str, location: str = "") -> bytes:
    """`pdf` sealed: PAdES B-B, or B-T with a timestamp from ESIGN_TIMESTAMP_URL."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    signer, reserved = _tenant_signer() or _signer(*seal_files())
    timestamper = None
    if current_app.config.get("ESIGN_TIMESTAMP_URL"):
        from pyhanko.sign.timestamps import HTTPTimeStamper

        timestamper = HTTPTimeStamper(current_app.config["ESIGN_TIMESTAMP_URL"])
        reserved = None  # a timestamp server's token varies: pyHanko estimates each time
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    metadata = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256",
        reason=reason, location=location or None)
    return _off_loop(lambda: signers.sign_pdf(writer, metadata, signer=signer,
                                              timestamper=timestamper,
                                              bytes_reserved=reserved).getvalue())


_signers: dict[tuple[Path, Path, int, int], tuple[Any, int]] = {}


def _signer(cert: Path, key: Path) -> tuple[Any, int]:
    """The seal's signer, loaded once per key and certificate (again when either file
    changes), and the room its signature takes in a PDF.

    pyHanko otherwise estimates that room before every signature by signing a dummy digest,
    a third of a seal's time: it is the same for every seal of one key, so it is estimated
    once, as pyHanko does (a dry-run signature, its hexadecimal length and half again)."""
    from pyhanko.sign import signers

    found = (cert, key, cert.stat().st_mtime_ns, key.stat().st_mtime_ns)
    with _lock:
        known = _signers.get(found)
    if known is not None:
        return known
    known = _with_room(signers.SimpleSigner.load(str(key), str(cert)))
    with _lock:
        _signers.clear()  # a replaced key's signer goes
        _signers[found] = known
    return known


def _with_room(signer: Any) -> tuple[Any, int]:
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    dummy = _off_loop(lambda: asyncio.run(signer.async_sign(
        hashlib.sha256().digest(), "sha256", use_pades=True, dry_run=True,
        signed_attr_settings=PdfCMSSignedAttributes(signing_time=datetime.now(UTC)))))
    length = len(dummy.dump()) * 2
    return signer, length + 2 * (length // 4)


# Per tenant: the version of its seal loaded (id, fingerprint, last change) and its signer.
_tenant_signers: dict[int, tuple[tuple[int, str, datetime], tuple[Any, int]]] = {}


def _current_tenant_seal() -> Any:
    from app.tenancy import bound_tenant_id

    if bound_tenant_id() is None:
        return None
    from app.services.esign_seals import tenant_seal

    return tenant_seal()


def _tenant_signer() -> tuple[Any, int] | None:
    """The current tenant's own seal's signer, None when it has none. Cached per tenant and
    per version of its seal: one tenant's signer is never served to another, nor a replaced
    or removed seal's."""
    seal = _current_tenant_seal()
    if seal is None:
        return None
    from pyhanko.sign import signers

    from app.services.esign_seals import pkcs12_of

    version = (seal.id, seal.fingerprint, seal.updated_at)
    with _lock:
        known = _tenant_signers.get(seal.tenant_id)
    if known is not None and known[0] == version:
        return known[1]
    data, passphrase = pkcs12_of(seal)
    loaded = signers.SimpleSigner.load_pkcs12_data(
        data, [], passphrase=passphrase.encode() if passphrase else None)
    if loaded is None:  # damaged since it was checked: the platform's seal rather than none
        return None
    ready = _with_room(loaded)
    with _lock:
        _tenant_signers[seal.tenant_id] = (version, ready)
    return ready


def check_seal(data: bytes) -> SealCheck | None:
    """The validation of `data`'s seal against our certificates (the platform's, the current
    tenant's own when it gave one, and its former seals' for what they sealed while they were
    in use); None when it has none."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    cert, _key = seal_files()
    try:
        signatures = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures
    except Exception:  # noqa: BLE001  (not a PDF, or one too broken to read: no seal)
        return None
    if not signatures:
        return None
    roots = [load_cert_from_pemder(str(cert))]
    seal = _current_tenant_seal()
    if seal is not None:
        roots.append(_certificate(seal.certificate_pem))
    retired = {found.fingerprint: found for found in _retired_certificates()}
    roots += [_certificate(found.certificate_pem) for found in retired.values()]
    context = ValidationContext(trust_roots=roots)
    status = _off_loop(lambda: validate_pdf_signature(signatures[-1], context))
    trusted = bool(status.trusted)
    if trusted and status.signing_cert is not None:
        former = retired.get(hashlib.sha256(status.signing_cert.dump()).hexdigest())
        if former is not None and (seal is None or former.fingerprint != seal.fingerprint):
            # A retired seal vouches only for what it sealed while it was the tenant's.
            moment = status.signer_reported_dt
            trusted = moment is not None \
                and former.used_from - CLOCK_SLACK <= moment <= former.retired_at + CLOCK_SLACK
    return SealCheck(
        intact=bool(status.intact), valid=bool(status.valid), trusted=trusted,
        whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        signer=status.signing_cert.subject.human_friendly if status.signing_cert else "",
        signed_at=status.signer_reported_dt)


# Between the seal's clock (the signing time it writes) and the database's.
CLOCK_SLACK = timedelta(minutes=5)


def _certificate(pem_text: str) -> Any:
    from asn1crypto import pem, x509

    return x509.Certificate.load(pem.unarmor(pem_text.encode())[2])


def _retired_certificates() -> list[Any]:
    from app.tenancy import bound_tenant_id

    if bound_tenant_id() is None:
        return []
    from app.services.esign_seals import retired_certificates

    return retired_certificates()


def with_audit_trail(pdf: bytes, title: str, rows: list[tuple[str, str]]) -> bytes:
    """`pdf` with a last page listing the signature's evidence (label, value)."""
    from xml.sax.saxutils import escape

    from pypdf import PdfReader, PdfWriter
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    page = io.BytesIO()
    cells = [[Paragraph(escape(label), styles["BodyText"]),
              Paragraph(escape(value).replace("\n", "<br/>"), styles["BodyText"])]
             for label, value in rows]
    table = Table(cells, colWidths=[150, 330])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.25, "#999999")]))
    SimpleDocTemplate(page, pagesize=A4, title=title).build(
        [Paragraph(escape(title), styles["Heading2"]), Spacer(1, 12), table])
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    for extra in PdfReader(io.BytesIO(page.getvalue())).pages:
        writer.add_page(extra)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
