"""Export definitions, their runs and the tenant's SFTP servers, as the API shows and takes
them (docs/exports.md)."""

from __future__ import annotations

import marshmallow as ma

from api.pagination import CursorPageArgsSchema
from app.models.export import (
    DESTINATION_KINDS,
    EXPORT_FORMATS,
    EXPORT_RUN_STATUSES,
    PULL_KINDS,
)

COLUMNS = {
    "description": "Fields of the entity (`number`, `issued_on`; a related record "
    "gives its name: `account`), a related record's key "
    "(`account.external_ref`), custom fields (`custom.<key>`), `id`, "
    "`created_at`, `updated_at`.",
    "example": ["number", "issued_on", "account.external_ref", "total"],
}
FILTERS = {
    "description": "The list filters of the entity, as its list page and "
    '`GET /api/v1/<entity>` take them: `{"status": "paid", '
    '"issued_on_from": "2026-01-01"}`.'
}
FORMATS = {
    "description": "`csv_cp1252`: `;`-separated, Windows-1252 (French accounting "
    "software; characters it lacks are replaced and counted); "
    "`csv_utf8`: `;`-separated, UTF-8 with BOM; `xlsx`."
}
SCHEDULE = {
    "description": "Cron (minute hour day month weekday) in the tenant's time zone; "
    "null: run on demand only.",
    "example": "30 6 * * 1-5",
}


class ExportSchema(ma.Schema):
    """An export: what it reads, its file's format, where it goes, and when."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    entity = ma.fields.String(required=True, validate=ma.validate.Length(max=30))
    columns = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(max=120)),
        required=True,
        validate=ma.validate.Length(1, 200),
        metadata=COLUMNS,
    )
    headers = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={"description": "A column's header in the file, when not its label."},
    )
    filters = ma.fields.Dict(keys=ma.fields.String(), metadata=FILTERS)
    format = ma.fields.String(
        load_default="csv_cp1252", validate=ma.validate.OneOf(EXPORT_FORMATS), metadata=FORMATS
    )
    destination = ma.fields.String(
        load_default="download",
        validate=ma.validate.OneOf(DESTINATION_KINDS),
        metadata={
            "description": "`download` (kept only), `email` "
            "(`recipients`), `sftp` (`sftp_server_id`"
            ", `folder`), `outbox` (`feed_account_id`: the outbox/ of one of the tenant's "
            "SFTP accounts)."
        },
    )
    recipients = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(max=254)), validate=ma.validate.Length(max=20)
    )
    sftp_server_id = ma.fields.Integer(allow_none=True)
    folder = ma.fields.String(validate=ma.validate.Length(max=500))
    feed_account_id = ma.fields.Integer(allow_none=True)
    schedule = ma.fields.String(
        allow_none=True, validate=ma.validate.Length(max=100), metadata=SCHEDULE
    )
    changes_only = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "Only the records changed since the last delivered run; a version "
            "is never sent twice, none is skipped."
        },
    )
    is_active = ma.fields.Boolean(load_default=True)
    next_run_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    changes_since = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True)


class ExportUpdateSchema(ExportSchema):
    """A partial change: the fields given replace the export's."""

    name = ma.fields.String(validate=ma.validate.Length(1, 100))
    entity = ma.fields.String(validate=ma.validate.Length(max=30))
    columns = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(max=120)),
        validate=ma.validate.Length(1, 200),
        metadata=COLUMNS,
    )
    format = ma.fields.String(validate=ma.validate.OneOf(EXPORT_FORMATS), metadata=FORMATS)
    destination = ma.fields.String(validate=ma.validate.OneOf(DESTINATION_KINDS))
    changes_only = ma.fields.Boolean()
    is_active = ma.fields.Boolean()
    restart_changes = ma.fields.Boolean(
        load_only=True,
        metadata={"description": "true: forget what was sent; the next run sends every row."},
    )


class ExportRunSchema(ma.Schema):
    """One run of an export: its file, where it went, how it ended."""

    id = ma.fields.Integer(dump_only=True)
    export_id = ma.fields.Integer(required=True)
    export_name = ma.fields.String(dump_only=True, attribute="export.name")
    trigger = ma.fields.String(
        dump_only=True,
        metadata={"description": "`schedule`, `manual` (back office), `api`, `cli`."},
    )
    status = ma.fields.String(
        dump_only=True, metadata={"description": "`queued`, `running`, `succeeded`, `failed`."}
    )
    rows = ma.fields.Integer(dump_only=True)
    replaced_cells = ma.fields.Integer(
        dump_only=True,
        metadata={"description": "Cells whose characters Windows-1252 lacks, replaced."},
    )
    file_name = ma.fields.String(dump_only=True, allow_none=True)
    file_size = ma.fields.Integer(dump_only=True, allow_none=True)
    sha256 = ma.fields.String(dump_only=True, allow_none=True)
    format = ma.fields.String(dump_only=True)
    destination = ma.fields.String(dump_only=True)
    delivered_to = ma.fields.String(dump_only=True, allow_none=True)
    message = ma.fields.String(dump_only=True, allow_none=True)
    started_by = ma.fields.String(dump_only=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)
    started_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    finished_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    changes_from = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    read_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)


class ExportRunQueryArgsSchema(CursorPageArgsSchema):
    export_id = ma.fields.Integer(validate=ma.validate.Range(1, 2**31 - 1))
    status = ma.fields.String(validate=ma.validate.OneOf(EXPORT_RUN_STATUSES))


class SftpServerSchema(ma.Schema):
    """A tenant's own SFTP server. Its password or private key is never answered back; its
    host key is pinned: given, or read from the server when it is set up."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    host = ma.fields.String(required=True, validate=ma.validate.Length(1, 255))
    port = ma.fields.Integer(load_default=22, validate=ma.validate.Range(1, 65535))
    username = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    password = ma.fields.String(load_only=True, validate=ma.validate.Length(max=1000))
    private_key = ma.fields.String(
        load_only=True,
        validate=ma.validate.Length(max=20000),
        metadata={"description": "Unencrypted, OpenSSH or PEM."},
    )
    host_key = ma.fields.String(
        validate=ma.validate.Length(max=5000),
        metadata={"description": "`ssh-ed25519 AAAA…`; read from the server when not given."},
    )
    host_key_fingerprint = ma.fields.String(dump_only=True)
    secret_kind = ma.fields.String(dump_only=True, metadata={"description": "`password` or `key`."})
    created_at = ma.fields.AwareDateTime(dump_only=True)


class PullSchema(ma.Schema):
    """A feed's scheduled pull: where its file is fetched from, and when. An SFTP pull uses one
    of the tenant's SFTP servers (its host key pinned, its secret held there); an HTTPS
    address is answered with its password and query values hidden."""

    id = ma.fields.Integer(dump_only=True)
    profile_id = ma.fields.Integer(
        required=True,
        validate=ma.validate.Range(1, 2**31 - 1),
        metadata={"description": "The import profile (feed) that fetches; one pull each."},
    )
    profile = ma.fields.String(dump_only=True, metadata={"description": "Its name."})
    kind = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(PULL_KINDS),
        metadata={"description": "`sftp` (`sftp_server_id`, `path`) or `https` (`url`)."},
    )
    sftp_server_id = ma.fields.Integer(allow_none=True)
    path = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=500),
        metadata={"description": "The remote file, on the SFTP server.",
                  "example": "out/clients.csv"},
    )
    url = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=2000),
        metadata={
            "description": "An https:// address. Answered with its password and query values "
            "as `***`: send it whole to change it."
        },
    )
    schedule = ma.fields.String(
        required=True, validate=ma.validate.Length(1, 100), metadata=SCHEDULE
    )
    is_active = ma.fields.Boolean(load_default=True)
    next_run_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    last_checked_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    last_run_id = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The import run of the last file fetched."},
    )
    last_error = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Why the last fetch failed; null when it did not."},
    )
    created_at = ma.fields.AwareDateTime(dump_only=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True)


class PullUpdateSchema(PullSchema):
    """A partial change: the fields given replace the pull's (its feed stays)."""

    profile_id = ma.fields.Integer(dump_only=True)
    kind = ma.fields.String(validate=ma.validate.OneOf(PULL_KINDS))
    schedule = ma.fields.String(validate=ma.validate.Length(1, 100), metadata=SCHEDULE)
    is_active = ma.fields.Boolean()


class PullQueryArgsSchema(CursorPageArgsSchema):
    profile_id = ma.fields.Integer(validate=ma.validate.Range(1, 2**31 - 1))
