"""/api/v1/esign-seal: an admin token reads the seal in use (the platform's, then the
tenant's), gives a PKCS#12 file and its passphrase (checked as the back office checks it, the
reason under its field), and goes back to the platform's seal; each change audited, no key
material ever answered; another tenant and other tokens get nothing."""
from __future__ import annotations

import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select

from app import esign
from app.extensions import db
from app.models import AuditEvent, EsignSeal, RetiredSealCertificate
from app.tenancy import all_tenants_unsafe
from tests.api.conftest import bearer, problem
from tests.backoffice.conftest import fr
from tests.selling.test_tenant_seal import PASSPHRASE, _contract, make_p12

URL = "/api/v1/esign-seal"


@pytest.fixture(autouse=True)
def sealing(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "ESIGN_CERT_FILE", str(tmp_path / "seal" / "cert.pem"))
    monkeypatch.setitem(app.config, "ESIGN_KEY_FILE", str(tmp_path / "seal" / "key.pem"))


@pytest.fixture
def admin_api(app, make_token):
    return bearer(app, make_token("read,admin")[1])


def _put(client, data: bytes | None, passphrase: str | None = PASSPHRASE):
    form: dict = {}
    if data is not None:
        form["pkcs12_file"] = (io.BytesIO(data), "seal.p12")
    if passphrase is not None:
        form["passphrase"] = passphrase
    return client.put(URL, data=form, content_type="multipart/form-data")


def _certificate(p12: bytes) -> x509.Certificate:
    return pkcs12.load_key_and_certificates(p12, PASSPHRASE.encode())[1]


def test_an_admin_token_reads_gives_and_removes_the_tenants_seal(app, admin_api, tenant):
    platform = admin_api.get(URL)
    assert platform.status_code == 200, platform.data
    body = platform.get_json()
    assert body["whose"] == "platform" and "electronic seal" in body["subject"]
    assert body["updated_at"] is None and len(body["fingerprint"]) == 64

    p12 = make_p12("Alpha Stores seal")
    given = _put(admin_api, p12)
    assert given.status_code == 200, given.data
    body = given.get_json()
    certificate = _certificate(p12)
    assert body["whose"] == "tenant"
    assert body["subject"] == certificate.subject.rfc4514_string()
    assert "CN=Alpha Stores seal" in body["subject"]
    assert body["issuer"] == body["subject"]
    assert body["serial_number"] == format(certificate.serial_number, "x")
    assert body["fingerprint"] == certificate.fingerprint(hashes.SHA256()).hex()
    assert body["not_after"].startswith(certificate.not_valid_after_utc.date().isoformat())
    assert set(body) == {"whose", "subject", "issuer", "serial_number", "not_before",
                         "not_after", "fingerprint", "updated_at"}  # no key material
    assert admin_api.get(URL).get_json() == body
    assert "Alpha Stores seal" in esign.check_seal(esign.seal_pdf(_contract(), reason="x")).signer
    sealed_then = esign.seal_pdf(_contract(), reason="x")

    assert admin_api.delete(URL).status_code == 204
    assert admin_api.get(URL).get_json()["whose"] == "platform"
    problem(admin_api.delete(URL), 404)  # the platform's already
    # What the removed seal sealed is still trusted.
    db.session.expire_all()
    check = esign.check_seal(sealed_then)
    assert check is not None and check.ok and "Alpha Stores seal" in check.signer
    assert db.session.scalar(select(RetiredSealCertificate)).fingerprint == body["fingerprint"]

    # Audited as the back office does: by the token, public facts only.
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "esign_seals").order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["create", "delete"]
    assert {e.actor_kind for e in events} == {"token"}
    assert events[0].after["fingerprint"] == body["fingerprint"]
    assert PASSPHRASE not in str(events[0].after) and "pkcs12" not in str(events[0].after)


def test_replacing_the_seal_keeps_the_former_certificate_trusted(admin_api, tenant):
    assert _put(admin_api, make_p12("First seal")).status_code == 200
    first = esign.seal_pdf(_contract(), reason="x")
    second = _put(admin_api, make_p12("Second seal")).get_json()
    assert "Second seal" in second["subject"]
    db.session.expire_all()
    assert "First seal" in esign.check_seal(first).signer and esign.check_seal(first).ok
    events = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity == "esign_seals").order_by(AuditEvent.id)).all()
    assert events == ["create", "update"]


@pytest.mark.parametrize(("data", "passphrase", "field", "message"), [
    (lambda: make_p12("Alpha"), "wrong", "passphrase",
     "This file cannot be read with this passphrase: check the passphrase, and that the file "
     "is a PKCS#12 file (.p12 or .pfx)."),
    (lambda: b"not a certificate at all" * 10, PASSPHRASE, "passphrase",
     "This file cannot be read with this passphrase: check the passphrase, and that the file "
     "is a PKCS#12 file (.p12 or .pfx)."),
    (lambda: make_p12("Alpha", can_sign=False), PASSPHRASE, "pkcs12_file",
     "This certificate's key usage does not allow signing: a seal needs digital signature "
     "or non-repudiation."),
    (lambda: make_p12("Alpha", without_key=True), PASSPHRASE, "pkcs12_file",
     "This file must hold both the seal's certificate and its private key."),
    (lambda: None, PASSPHRASE, "pkcs12_file", "Choose the seal's PKCS#12 file (.p12 or .pfx)."),
    (lambda: b"x" * (256 * 1024 + 1), PASSPHRASE, "pkcs12_file",
     "This file is too large to be a seal's PKCS#12 file."),
])
def test_a_file_that_cannot_seal_is_refused_under_its_field(admin_api, tenant, data,
                                                            passphrase, field, message):
    body = problem(_put(admin_api, data(), passphrase), 422)
    assert body["errors"] == {field: [fr(message)]}
    assert admin_api.get(URL).get_json()["whose"] == "platform"
    assert db.session.scalar(select(EsignSeal)) is None


def test_an_expired_certificate_is_refused_with_its_date(admin_api, tenant):
    body = problem(_put(admin_api, make_p12("Alpha", expired=True)), 422)
    [message] = body["errors"]["pkcs12_file"]
    assert fr("This certificate expired on %(date)s.", date="X").split("X")[0] in message


def test_a_json_body_is_refused_without_a_crash(admin_api, tenant):
    body = problem(admin_api.put(URL, json={"passphrase": PASSPHRASE}), 422)
    assert "pkcs12_file" in body["errors"]


def test_other_tenants_and_other_tokens_get_nothing(app, make_token, admin_api, tenant,
                                                    other_tenant, in_tenant, make_partner):
    assert _put(admin_api, make_p12("Alpha Stores seal")).status_code == 200
    from app.services.tokens import create_token

    _token, secret = in_tenant(other_tenant, create_token, "beta", "read,admin", None)
    beta = bearer(app, secret)
    assert beta.get(URL).get_json()["whose"] == "platform"  # Alpha's is not Beta's
    problem(beta.delete(URL), 404)
    assert admin_api.get(URL).get_json()["whose"] == "tenant"  # untouched
    assert "CN=Beta seal" in _put(beta, make_p12("Beta seal")).get_json()["subject"]
    assert "Alpha Stores seal" in admin_api.get(URL).get_json()["subject"]
    with all_tenants_unsafe("test"):
        assert db.session.scalar(select(EsignSeal.id).where(
            EsignSeal.subject.like("%Beta%"))) is not None
    for scopes in ("read,write", "read,write,import,export"):
        reader = bearer(app, make_token(scopes)[1])
        problem(reader.get(URL), 403)
        problem(_put(reader, make_p12("Intruder")), 403)
        problem(reader.delete(URL), 403)
    partner = bearer(app, make_token("read,admin", partner_id=make_partner().id)[1])
    problem(partner.get(URL), 403)
    assert "Alpha Stores seal" in admin_api.get(URL).get_json()["subject"]


def test_the_operations_are_documented(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    operations = spec["paths"][URL]
    assert set(operations) >= {"get", "put", "delete"}
    assert "multipart/form-data" in operations["put"]["requestBody"]["content"]
    shown = spec["components"]["schemas"]["EsignSeal"]["properties"]
    assert {"whose", "serial_number", "fingerprint", "not_after"} <= set(shown)
    assert not {"pkcs12_sealed", "passphrase", "passphrase_sealed"} & set(shown)
