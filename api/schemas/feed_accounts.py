"""Feed accounts (the SFTP inbox's logins), as the API shows and takes them."""

from __future__ import annotations

import marshmallow as ma

BYTES = {"description": "Bytes; null for the platform's default."}


class FeedRouteSchema(ma.Schema):
    """Files whose path inside the account's folder matches `pattern` go to `profile`."""

    pattern = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=200),
        metadata={
            "description": "`clients/*.csv`; without a slash, "
            "the file's name in any folder (`*.zip`); `**` "
            "crosses folders.",
            "example": "clients/*.csv",
        },
    )
    profile = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=100),
        metadata={"description": "The import profile's name (or id)."},
    )
    profile_id = ma.fields.Integer(dump_only=True)


class FeedAccountSchema(ma.Schema):
    """An SFTP login of the tenant, jailed in its own folder. The password is never shown."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=2, max=50),
        metadata={"description": "Lowercase letters, digits, `-` and `_`."},
    )
    login = ma.fields.String(
        dump_only=True, metadata={"description": "The SFTP user name: `<tenant slug>.<name>`."}
    )
    password = ma.fields.String(
        load_only=True,
        validate=ma.validate.Length(max=1024),
        metadata={"description": "At least 10 characters; stored hashed (argon2id)."},
    )
    has_password = ma.fields.Boolean(dump_only=True)
    public_keys = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(max=16384)),
        metadata={"description": "OpenSSH public key lines (`ssh-ed25519 AAAA… name`)."},
    )
    routes = ma.fields.List(
        ma.fields.Nested(FeedRouteSchema),
        metadata={"description": "In order: the first pattern that matches picks the profile."},
    )
    quota_bytes = ma.fields.Integer(
        allow_none=True, validate=ma.validate.Range(min=1), metadata=BYTES
    )
    max_file_bytes = ma.fields.Integer(
        allow_none=True, validate=ma.validate.Range(min=1), metadata=BYTES
    )
    is_active = ma.fields.Boolean(metadata={"description": "false refuses its logins."})
    last_login_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)
    updated_at = ma.fields.AwareDateTime(dump_only=True)


class FeedAccountUpdateSchema(FeedAccountSchema):
    """A partial change: the fields given replace the account's (a password sets a new one)."""

    name = ma.fields.String(validate=ma.validate.Length(min=2, max=50))
