"""A tenant's own electronic seal: a PKCS#12 file (.p12, .pfx) given by a tenant admin,
checked before it is kept (readable with its passphrase, a private key matching the
certificate, valid today, a key usage that allows signing), kept encrypted (app/secret_box.py)
and used by app/esign.py in place of the platform's seal. Removing it returns to the
platform's. A seal replaced or removed leaves its certificate behind (its key and passphrase
are forgotten): check_seal still trusts it for what it sealed while it was in use."""
from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app import secret_box
from app.errors import ValidationError
from app.extensions import db
from app.models import EsignSeal, RetiredSealCertificate
from app.services.audit import record_event
from app.tenancy import current_tenant_id

# A seal with its chain is a few kilobytes: anything much larger is not one.
MAX_BYTES = 256 * 1024
# What the audit trail keeps of a seal: its public facts, never the file or its passphrase.
PUBLIC_FIELDS = ("subject", "issuer", "not_before", "not_after", "fingerprint")


def tenant_seal() -> EsignSeal | None:
    """The current tenant's seal, if it gave one."""
    return db.session.scalar(select(EsignSeal).where(
        EsignSeal.tenant_id == current_tenant_id()))


def retired_certificates() -> list[RetiredSealCertificate]:
    """The current tenant's former seals' certificates, oldest first."""
    return list(db.session.scalars(select(RetiredSealCertificate)
                                   .order_by(RetiredSealCertificate.id)))


def _retire(seal: EsignSeal) -> None:
    """Keep `seal`'s certificate (not its key) to check what it sealed until now."""
    db.session.add(RetiredSealCertificate(
        certificate_pem=seal.certificate_pem, subject=seal.subject,
        fingerprint=seal.fingerprint, used_from=seal.updated_at or seal.created_at,
        retired_at=datetime.now(UTC)))


def _public(seal: EsignSeal) -> dict[str, Any]:
    return {name: getattr(seal, name) for name in PUBLIC_FIELDS}


def read_pkcs12(data: bytes, passphrase: str) -> tuple[Any, Any]:
    """The private key and certificate of a PKCS#12 file, checked for sealing; a
    ValidationError beside the field at fault otherwise."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    if not data:
        raise ValidationError({"pkcs12_file": _("Choose the seal's PKCS#12 file (.p12 or .pfx).")})
    if len(data) > MAX_BYTES:
        raise ValidationError({"pkcs12_file": _("This file is too large to be a seal's PKCS#12 "
                                                "file.")})
    try:
        key, certificate, _chain = pkcs12.load_key_and_certificates(
            data, passphrase.encode() if passphrase else None)
    except (ValueError, TypeError):
        raise ValidationError({"passphrase": _(
            "This file cannot be read with this passphrase: check the passphrase, and that "
            "the file is a PKCS#12 file (.p12 or .pfx).")}) from None
    if key is None or certificate is None:
        raise ValidationError({"pkcs12_file": _(
            "This file must hold both the seal's certificate and its private key.")})
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*public) != certificate.public_key().public_bytes(*public):
        raise ValidationError({"pkcs12_file": _(
            "The private key in this file does not match its certificate.")})
    now = datetime.now(UTC)
    if certificate.not_valid_after_utc <= now:
        raise ValidationError({"pkcs12_file": _(
            "This certificate expired on %(date)s.",
            date=certificate.not_valid_after_utc.date().isoformat())})
    if certificate.not_valid_before_utc > now:
        raise ValidationError({"pkcs12_file": _(
            "This certificate is valid only from %(date)s.",
            date=certificate.not_valid_before_utc.date().isoformat())})
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        raise ValidationError({"pkcs12_file": _(
            "This certificate's key usage does not allow signing: a seal needs digital "
            "signature or non-repudiation.")})
    return key, certificate


def set_tenant_seal(data: bytes, passphrase: str) -> EsignSeal:
    """Keep (or replace) the tenant's seal after checking it."""
    from cryptography.hazmat.primitives import hashes, serialization

    _key, certificate = read_pkcs12(data, passphrase)
    facts = {
        "certificate_pem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
        "subject": certificate.subject.rfc4514_string()[:500],
        "issuer": certificate.issuer.rfc4514_string()[:500],
        "not_before": certificate.not_valid_before_utc,
        "not_after": certificate.not_valid_after_utc,
        "fingerprint": certificate.fingerprint(hashes.SHA256()).hex(),
        "pkcs12_sealed": secret_box.seal(base64.b64encode(data).decode()),
        "passphrase_sealed": secret_box.seal(passphrase),
    }
    found = tenant_seal()
    if found is None:
        found = EsignSeal(**facts)
        db.session.add(found)
        db.session.flush()
        record_event("create", "esign_seals", found.id, after=_public(found))
        return found
    before = _public(found)
    if found.fingerprint != facts["fingerprint"]:
        _retire(found)
    for name, value in facts.items():
        setattr(found, name, value)
    found.updated_at = datetime.now(UTC)
    db.session.flush()
    record_event("update", "esign_seals", found.id, before=before, after=_public(found))
    return found


def remove_tenant_seal() -> bool:
    """Forget the tenant's seal: its contracts are sealed with the platform's again."""
    found = tenant_seal()
    if found is None:
        return False
    record_event("delete", "esign_seals", found.id, before=_public(found))
    _retire(found)
    db.session.delete(found)
    db.session.flush()
    return True


def seal_in_use() -> dict[str, Any]:
    """The public facts of the seal the tenant's documents are sealed with now: its own, or
    the platform's (`whose`); never its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from app import esign

    found = tenant_seal()
    if found is not None:
        pem, updated_at = found.certificate_pem.encode(), found.updated_at or found.created_at
    else:
        pem, updated_at = esign.seal_files()[0].read_bytes(), None
    certificate = x509.load_pem_x509_certificate(pem)
    return {"whose": "tenant" if found is not None else "platform",
            "subject": certificate.subject.rfc4514_string(),
            "issuer": certificate.issuer.rfc4514_string(),
            "serial_number": format(certificate.serial_number, "x"),
            "not_before": certificate.not_valid_before_utc,
            "not_after": certificate.not_valid_after_utc,
            "fingerprint": certificate.fingerprint(hashes.SHA256()).hex(),
            "updated_at": updated_at}


def pkcs12_of(seal: EsignSeal) -> tuple[bytes, str]:
    """The seal's PKCS#12 bytes and passphrase, decrypted (for app/esign.py only)."""
    return (base64.b64decode(secret_box.unseal(seal.pkcs12_sealed)),
            secret_box.unseal(seal.passphrase_sealed))
