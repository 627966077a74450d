"""Import profiles: the profile JSON of ARCHITECTURE.md, its partial update, its versions."""
from __future__ import annotations

from typing import Any

import marshmallow as ma

from api.pagination import CursorPageArgsSchema
from app.models import ImportProfile
from importers.profile import DECIMALS, DELIMITERS, KEY_FIELDS, MODES, normalized


class ImportProfileSchema(ma.Schema):
    """An import profile: how a feed's columns map onto an entity."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    entity = ma.fields.String(required=True, metadata={"description": "invoices, accounts, …"})
    mode = ma.fields.String(validate=ma.validate.OneOf(MODES))
    columns = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(allow_none=True),
                             required=True, metadata={
                                 "description": "File header → field, `<ref>.external_ref`, "
                                                "`custom.<key>` or `lines.<field>`."})
    key = ma.fields.String(validate=ma.validate.OneOf(KEY_FIELDS))
    encoding = ma.fields.String(validate=ma.validate.Length(1, 30))
    delimiter = ma.fields.String(validate=ma.validate.OneOf(DELIMITERS))
    date_format = ma.fields.String(validate=ma.validate.Length(1, 30))
    decimal = ma.fields.String(validate=ma.validate.OneOf(DECIMALS))
    full_sync = ma.fields.Boolean()
    sheet = ma.fields.String(allow_none=True, validate=ma.validate.Length(1, 31), metadata={
        "description": "XLSX: the worksheet to read; absent or null, the first one."})
    value_maps = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String()),
        metadata={"description": "Per column, a value of the file → the Relais value it "
                                 "stands for: a choice's code (`{\"Statut\": {\"Réglée\": "
                                 "\"paid\"}}`) or a related record's external_ref (or exact "
                                 "name). Applied before conversion, whatever the case and "
                                 "accents."})
    documents = ma.fields.Nested(
        "ImportProfileDocumentsSchema", allow_none=True, metadata={
            "description": "The profile also takes ZIP archives holding one metadata file "
                           "(CSV or TXT) and documents (.docx, .pdf, .odt): `column` is the "
                           "metadata file's column naming each row's document, attached to "
                           "the row's record with its text searchable."})
    version = ma.fields.Integer(dump_only=True)
    is_active = ma.fields.Boolean(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)

    @ma.pre_dump
    def _fields(self, profile: ImportProfile, **kwargs: Any) -> dict[str, Any]:
        return {"value_maps": {}, **normalized(profile.definition), "id": profile.id,
                "version": profile.version,
                "is_active": profile.is_active, "created_at": profile.created_at,
                "updated_at": profile.updated_at}


class ImportProfileDocumentsSchema(ma.Schema):
    """Where a ZIP archive's rows name their documents."""

    column = ma.fields.String(required=True, validate=ma.validate.Length(1, 255))


class ImportProfileUpdateSchema(ImportProfileSchema):
    """A partial update: the fields given replace the profile's (columns as a whole)."""

    name = ma.fields.String(validate=ma.validate.Length(1, 100))
    entity = ma.fields.String()
    columns = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(allow_none=True))


class ImportProfileVersionSchema(ma.Schema):
    """One saved version of a profile (runs name the version they used)."""

    version = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    created_by = ma.fields.String()
    definition = ma.fields.Dict()


class ImportProfileQueryArgsSchema(CursorPageArgsSchema):
    """Filters of the list of profiles (by name)."""

    entity = ma.fields.String(validate=ma.validate.Length(1, 30))
