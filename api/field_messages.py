"""marshmallow's own messages, in the reader's language.

A field or a validator of an API schema that names no message of its own answers with
marshmallow's: the same English texts, kept as they are and translated (app/translations),
so that a mistake in a form field or a query argument reads in French to a French reader, as
the messages the schemas name do. Set once, when the API package is imported, before any
schema is built: a field copies its class's messages when it is made.

Messages with placeholders that marshmallow fills itself ("{input}", "{obj_type}") stay as
they are: a field formats a message only when it is plain text. A validator formats its own,
after translation. The e-mail and URL fields hand their message to a validator that wants
plain text: theirs come from the validators' own, translated here.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import lazy_gettext as _l

FIELDS: dict[type, dict[str, Any]] = {
    ma.fields.Field: {"required": _l("Missing data for required field."),
                      "null": _l("Field may not be null."),
                      "validator_failed": _l("Invalid value.")},
    ma.fields.String: {"invalid": _l("Not a valid string."),
                       "invalid_utf8": _l("Not a valid utf-8 string.")},
    ma.fields.Number: {"invalid": _l("Not a valid number."), "too_large": _l("Number too large.")},
    ma.fields.Integer: {"invalid": _l("Not a valid integer.")},
    ma.fields.Decimal: {"special": _l("Special numeric values (nan or infinity) are not "
                                      "permitted.")},
    ma.fields.Float: {"special": _l("Special numeric values (nan or infinity) are not "
                                    "permitted.")},
    ma.fields.Boolean: {"invalid": _l("Not a valid boolean.")},
    ma.fields.Date: {"invalid": _l("Not a valid date.")},
    ma.fields.UUID: {"invalid_uuid": _l("Not a valid UUID.")},
    ma.fields.List: {"invalid": _l("Not a valid list.")},
    ma.fields.Tuple: {"invalid": _l("Not a valid tuple.")},
    ma.fields.Mapping: {"invalid": _l("Not a valid mapping type.")},
    ma.fields.Nested: {"type": _l("Invalid type.")},
}
VALIDATORS: dict[type, dict[str, Any]] = {
    ma.validate.OneOf: {"default_message": _l("Must be one of: {choices}.")},
    ma.validate.Length: {"message_min": _l("Shorter than minimum length {min}."),
                         "message_max": _l("Longer than maximum length {max}."),
                         "message_all": _l("Length must be between {min} and {max}."),
                         "message_equal": _l("Length must be {equal}.")},
    ma.validate.Email: {"default_message": _l("Not a valid email address.")},
    ma.validate.URL: {"default_message": _l("Not a valid URL.")},
    ma.validate.Regexp: {"default_message": _l("String does not match expected pattern.")},
}
SCHEMA = {"type": _l("Invalid input type."), "unknown": _l("Unknown field.")}


def translate_defaults() -> None:
    """marshmallow's default messages replaced by their translatable twins (idempotent)."""
    for field, messages in FIELDS.items():
        field.default_error_messages = {**field.__dict__.get("default_error_messages", {}),
                                        **messages}
    for validator, messages in VALIDATORS.items():
        for name, message in messages.items():
            setattr(validator, name, message)
    ma.Schema._default_error_messages = {**ma.Schema._default_error_messages, **SCHEMA}
