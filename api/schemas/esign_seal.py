"""The tenant's electronic seal, as the API shows and takes it."""
from __future__ import annotations

import marshmallow as ma

from api.schemas.records import InputSchema
from api.schemas.uploads import FilePart


class EsignSealSchema(ma.Schema):
    """The certificate that seals the tenant's signed contracts and quotes now (its public
    facts; never its key or passphrase)."""

    whose = ma.fields.String(dump_only=True, metadata={
        "enum": ["tenant", "platform"],
        "description": "`tenant`: the tenant's own seal; `platform`: the platform's (the "
                       "default, and after DELETE)."})
    subject = ma.fields.String(dump_only=True, metadata={"example": "CN=Alpha seal,O=Alpha"})
    issuer = ma.fields.String(dump_only=True)
    serial_number = ma.fields.String(dump_only=True, metadata={
        "description": "The certificate's serial number, in hexadecimal."})
    not_before = ma.fields.AwareDateTime(dump_only=True)
    not_after = ma.fields.AwareDateTime(dump_only=True)
    fingerprint = ma.fields.String(dump_only=True, metadata={
        "description": "SHA-256 of the certificate (DER), in hexadecimal."})
    updated_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True, metadata={
        "description": "When the tenant gave this seal; null for the platform's."})


class EsignSealUploadSchema(InputSchema):
    """A seal to use from now on (multipart/form-data)."""

    pkcs12_file = FilePart(metadata={
        "description": "The seal's PKCS#12 file (.p12 or .pfx, at most 256 KiB): its "
                       "certificate and private key. Checked: readable with the passphrase, "
                       "the key matching the certificate, valid today, a key usage that "
                       "allows signing."})
    passphrase = ma.fields.String(load_default="", validate=ma.validate.Length(max=1000),
                                  metadata={"description": "The file's passphrase."})
