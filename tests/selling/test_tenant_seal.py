"""A tenant's own electronic seal: an admin gives a PKCS#12 file and its passphrase on the SEPA
creditor page; it is checked (readable, key matching, not expired, allowed to sign) with the
reason beside the field, kept encrypted, shown by its public facts; the quotes the tenant's
customers sign afterwards are sealed with it, another tenant's with the platform's; removing
it returns to the platform's. Neither the file nor its passphrase reaches the audit trail or
the tenant export."""
from __future__ import annotations

import base64
import html as html_module
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from reportlab.pdfgen import canvas
from sqlalchemy import select

from app import esign
from app.extensions import db
from app.models import Attachment, AuditEvent, EsignSeal
from app.services.attachments import storage_path
from app.services.offers import set_creditor
from app.services.tenant_export import export_tenant
from tests.backoffice.conftest import fr
from tests.pdf_support import pyhanko_validation
from tests.selling.test_offers_api import CREDITOR
from tests.selling.test_quote_signing import DEBTOR, _code, _link, _path, _send, page_text

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(autouse=True)
def sealing(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "ESIGN_CERT_FILE", str(tmp_path / "seal" / "cert.pem"))
    monkeypatch.setitem(app.config, "ESIGN_KEY_FILE", str(tmp_path / "seal" / "key.pem"))


def make_p12(name: str, *, passphrase: str = PASSPHRASE, days: int = 365,
             expired: bool = False, future: bool = False, can_sign: bool = True,
             without_key: bool = False) -> bytes:
    """A self-signed seal certificate and its key, as a PKCS#12 file."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    now = datetime.now(UTC)
    start, end = (now - timedelta(days=400), now - timedelta(days=1)) if expired \
        else (now + timedelta(days=10), now + timedelta(days=days)) if future \
        else (now - timedelta(minutes=5), now + timedelta(days=days))
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.KeyUsage(
            digital_signature=can_sign, content_commitment=can_sign,
            key_encipherment=not can_sign, data_encipherment=False, key_agreement=False,
            key_cert_sign=True, crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256()))
    return pkcs12.serialize_key_and_certificates(
        b"seal", None if without_key else key, certificate, None,
        serialization.BestAvailableEncryption(passphrase.encode()))


def _upload(client, data: bytes, passphrase: str = PASSPHRASE, name: str = "seal.p12"):
    return client.post("/alpha/admin/sepa/seal", data={
        "pkcs12_file": (io.BytesIO(data), name), "passphrase": passphrase},
        content_type="multipart/form-data")


def _contract() -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 760, "Contrat")
    page.showPage()
    page.save()
    return out.getvalue()


def _signed_quote(app, admin_client, make_quote, inbox, number: str) -> bytes:
    """A quote sent by link and signed by its customer: its sealed file."""
    quote = make_quote(status="draft", number=number)
    _send(admin_client, quote)
    path = _path(inbox)
    customer = app.test_client()
    assert customer.post(path, data=DEBTOR).status_code == 302
    assert customer.post(f"{path}/code", data={"code": _code(inbox)}).status_code == 302
    attachment = db.session.get(Attachment, _link(quote.id).attachment_id)
    return storage_path(quote.tenant_id, attachment.sha256).read_bytes()


def test_the_tenants_seal_seals_its_quotes_and_no_other_tenants(
        app, admin_client, make_quote, inbox, tenant, other_tenant, in_tenant):
    set_creditor({**CREDITOR, "name": "Alpha Stores"})
    db.session.commit()
    page = admin_client.get("/alpha/admin/sepa")
    assert fr("Your contracts are sealed with the platform's certificate.") in page_text(page)
    before = _signed_quote(app, admin_client, make_quote, inbox, "D-2026-001")
    assert "electronic seal" in esign.check_seal(before).signer  # the platform's

    p12 = make_p12("Alpha Stores seal")
    saved = _upload(admin_client, p12)
    assert saved.status_code == 302, saved.data[:400]
    text = page_text(admin_client.get("/alpha/admin/sepa"))
    db.session.expire_all()
    seal = db.session.scalar(select(EsignSeal))
    assert "CN=Alpha Stores seal" in text and seal.fingerprint in text
    assert seal.not_after.year in {datetime.now(UTC).year, datetime.now(UTC).year + 1}
    # Kept encrypted: neither the file nor its passphrase readable in the row.
    assert PASSPHRASE not in seal.passphrase_sealed
    assert base64.b64encode(p12).decode()[:40] not in seal.pkcs12_sealed

    sealed = _signed_quote(app, admin_client, make_quote, inbox, "D-2026-002")
    check = esign.check_seal(sealed)
    assert check is not None and check.ok and "Alpha Stores seal" in check.signer
    status = pyhanko_validation(sealed, seal.certificate_pem)
    assert status.intact and status.valid and status.trusted
    assert status.signing_cert.subject.native["common_name"] == "Alpha Stores seal"

    # Another tenant still seals with the platform's certificate, and does not trust Alpha's.
    theirs = in_tenant(other_tenant, esign.seal_pdf, _contract(), reason="Beta")
    assert "electronic seal" in in_tenant(other_tenant, esign.check_seal, theirs).signer
    foreign = in_tenant(other_tenant, esign.check_seal, sealed)
    assert foreign is not None and foreign.intact and not foreign.trusted
    assert in_tenant(other_tenant, db.session.scalar, select(EsignSeal)) is None

    # No secret in the audit trail nor in the tenant's export.
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "esign_seals")).all()
    assert [e.action for e in events] == ["create"]
    assert events[0].after["fingerprint"] == seal.fingerprint
    assert "pkcs12_sealed" not in str(events[0].after) and PASSPHRASE not in str(events[0].after)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(export_tenant(tenant))))
    exported = b"".join(archive.read(name) for name in archive.namelist())
    assert b"esign_seals" in b"".join(n.encode() for n in archive.namelist())
    assert seal.fingerprint.encode() in exported
    assert seal.pkcs12_sealed.encode() not in exported
    assert seal.passphrase_sealed.encode() not in exported
    assert PASSPHRASE.encode() not in exported


@pytest.mark.parametrize(("data", "passphrase", "field", "message"), [
    (lambda: make_p12("Alpha"), "wrong", "passphrase",
     "This file cannot be read with this passphrase: check the passphrase, and that the file "
     "is a PKCS#12 file (.p12 or .pfx)."),
    (lambda: b"not a certificate at all" * 10, PASSPHRASE, "passphrase",
     "This file cannot be read with this passphrase: check the passphrase, and that the file "
     "is a PKCS#12 file (.p12 or .pfx)."),
    (lambda: make_p12("Alpha", expired=True), PASSPHRASE, "pkcs12_file", "expired"),
    (lambda: make_p12("Alpha", future=True), PASSPHRASE, "pkcs12_file", "future"),
    (lambda: make_p12("Alpha", can_sign=False), PASSPHRASE, "pkcs12_file",
     "This certificate's key usage does not allow signing: a seal needs digital signature "
     "or non-repudiation."),
    (lambda: make_p12("Alpha", without_key=True), PASSPHRASE, "pkcs12_file",
     "This file must hold both the seal's certificate and its private key."),
    (lambda: b"", PASSPHRASE, "pkcs12_file", "Choose the seal's PKCS#12 file (.p12 or .pfx)."),
])
def test_a_file_that_cannot_seal_is_refused_beside_its_field(
        admin_client, tenant, data, passphrase, field, message):
    refused = _upload(admin_client, data(), passphrase)
    assert refused.status_code == 422
    html = refused.data.decode()
    # The message follows its own field's input, marked invalid.
    after_field = html.split(f'id="{field}"', 1)[1]
    assert "is-invalid" in html.split(f'id="{field}"', 1)[0].rsplit("<input", 1)[1] \
        or "is-invalid" in after_field.split(">", 1)[0]
    feedback = html_module.unescape(re.sub(r"<[^>]+>", " ", after_field.split("</div>", 1)[0]))
    if message == "expired":
        assert fr("This certificate expired on %(date)s.", date="X").split("X")[0].strip() \
            in feedback
    elif message == "future":
        assert fr("This certificate is valid only from %(date)s.", date="X").split("X")[0] \
            .strip() in feedback
    else:
        assert fr(message) in feedback
    db.session.expire_all()
    assert db.session.scalar(select(EsignSeal)) is None


def test_a_replaced_seal_is_not_served_stale_and_removal_returns_to_the_platform(
        admin_client, tenant, csrf_on):
    set_creditor({**CREDITOR, "name": "Alpha Stores"})
    db.session.commit()
    for name in ("First seal", "Second seal"):
        token = _csrf(admin_client)
        response = admin_client.post("/alpha/admin/sepa/seal", data={
            "pkcs12_file": (io.BytesIO(make_p12(name)), "seal.pfx"), "passphrase": PASSPHRASE,
            "csrf_token": token}, content_type="multipart/form-data")
        assert response.status_code == 302
        db.session.expire_all()
        assert name in esign.check_seal(esign.seal_pdf(_contract(), reason="x")).signer
    assert admin_client.post("/alpha/admin/sepa/seal/remove").status_code == 400  # no token
    removed = admin_client.post("/alpha/admin/sepa/seal/remove",
                                data={"csrf_token": _csrf(admin_client)})
    assert removed.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(EsignSeal)) is None
    assert "electronic seal" in esign.check_seal(esign.seal_pdf(_contract(), reason="x")).signer
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity == "esign_seals").order_by(AuditEvent.id)).all()
    assert actions == ["create", "update", "delete"]


def _csrf(client) -> str:
    html = client.get("/alpha/admin/sepa").data.decode()
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_only_an_admin_gives_a_seal(sales_client, tenant):
    refused = _upload(sales_client, make_p12("Sales seal"))
    assert refused.status_code in {403, 404}
    db.session.expire_all()
    assert db.session.scalar(select(EsignSeal)) is None


def test_an_online_subscription_is_sealed_with_the_tenants_seal(app, admin_client, inbox,
                                                                tenant):
    from app.models import Subscription
    from app.services import subscriptions as service
    from tests.selling.subscribe_support import DETAILS, code_from, selling

    selling()
    assert _upload(admin_client, make_p12("Alpha Stores seal")).status_code == 302
    customer, url = app.test_client(), "/alpha/subscribe/badge"
    assert customer.post(url, data=DETAILS).status_code == 302
    assert customer.get(f"{url}/review").status_code == 200
    assert customer.post(f"{url}/review", data={"consent": "yes"}).status_code == 302
    assert customer.post(f"{url}/code", data={"code": code_from(inbox)}).status_code == 302
    db.session.expire_all()
    subscription = db.session.scalar(select(Subscription))
    sealed = service.file_of(subscription).read_bytes()
    check = esign.check_seal(sealed)
    assert check is not None and check.ok and "Alpha Stores seal" in check.signer
    seal = db.session.scalar(select(EsignSeal))
    status = pyhanko_validation(sealed, seal.certificate_pem)
    assert status.trusted and status.signing_cert.subject.native["common_name"] == \
        "Alpha Stores seal"


def _sealed_outside_relais(p12: bytes) -> bytes:
    """A PDF sealed with a seal's key by someone who kept it (not through Relais)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    signer = signers.SimpleSigner.load_pkcs12_data(p12, [], passphrase=PASSPHRASE.encode())
    writer = IncrementalPdfFileWriter(io.BytesIO(_contract()))
    # pyHanko runs an event loop of its own: off this thread's, which a browser test may have
    # left running in this process.
    return esign._off_loop(lambda: signers.sign_pdf(
        writer, signers.PdfSignatureMetadata(field_name="Seal"), signer=signer).getvalue())


def test_documents_sealed_with_a_replaced_or_removed_seal_still_check(tenant, other_tenant,
                                                                       in_tenant):
    from app.services.esign_seals import remove_tenant_seal, set_tenant_seal

    first, second = make_p12("Alpha seal 2026"), make_p12("Alpha seal 2027")
    set_tenant_seal(first, PASSPHRASE)
    db.session.commit()
    old = esign.seal_pdf(_contract(), reason="Contract 1")
    assert "Alpha seal 2026" in esign.check_seal(old).signer and esign.check_seal(old).ok

    set_tenant_seal(second, PASSPHRASE)  # replaced
    db.session.commit()
    new = esign.seal_pdf(_contract(), reason="Contract 2")
    assert "Alpha seal 2027" in esign.check_seal(new).signer
    assert esign.check_seal(old).ok and esign.check_seal(new).ok

    assert remove_tenant_seal()  # removed: the platform's seal again
    db.session.commit()
    assert esign.check_seal(old).ok and esign.check_seal(new).ok
    assert "electronic seal" in esign.check_seal(esign.seal_pdf(_contract(), reason="3")).signer
    # Only the certificates are kept, never a key; another tenant does not trust them.
    assert db.session.scalar(select(EsignSeal)) is None
    assert not in_tenant(other_tenant, esign.check_seal, old).trusted
    # A retired seal does not vouch for what someone sealed with its key after it retired
    # (here an hour ago).
    from app.models import RetiredSealCertificate

    retired = db.session.scalars(select(RetiredSealCertificate)).all()
    assert [r.subject for r in retired] == ["O=Alpha seal 2026,CN=Alpha seal 2026",
                                            "O=Alpha seal 2027,CN=Alpha seal 2027"]
    for row in retired:
        row.used_from -= timedelta(hours=2)
        row.retired_at -= timedelta(hours=1)
    db.session.commit()
    assert esign.check_seal(esign.seal_pdf(_contract(), reason="4")).ok  # the platform's
    late = _sealed_outside_relais(first)
    check = esign.check_seal(late)
    assert check.intact and check.valid and not check.trusted and not check.ok
    # A tampered copy of an old document still fails.
    tampered = old.replace(b"ReportLab Generated", b"ReportLab Generatex", 1)
    assert tampered != old and not (esign.check_seal(tampered) or check).ok
