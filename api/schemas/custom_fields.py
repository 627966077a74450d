"""Custom-field definitions: the definition, its partial update, the list's filters."""
from __future__ import annotations

import marshmallow as ma

from api.pagination import CursorPageArgsSchema
from app.custom_fields import KEY_PATTERN
from app.entities import ENTITIES
from app.models import FIELD_TYPES

LABEL_OR_EMPTY = ma.validate.Length(0, 100)
LABELS = {"description": "At least one of label_fr and label_en; an empty one shows the "
                         "other language's label."}
CHOICES = {"description": "The allowed values of a `choice` or `multi_choice` field; "
                          "ignored for other types."}


class CustomFieldSchema(ma.Schema):
    """A custom field of one entity; its values are under `custom.<key>` of the records."""

    id = ma.fields.Integer(dump_only=True)
    entity = ma.fields.String(required=True, validate=ma.validate.OneOf(tuple(ENTITIES)))
    # The pattern is documented here and checked by the service, whose message is localized.
    key = ma.fields.String(validate=ma.validate.Length(0, 50), metadata={
        "pattern": KEY_PATTERN.pattern,
        "description": "Lowercase letters, digits and _, starting with a letter. Fixed once "
                       "created, as is the entity. Omitted or empty: made from the label "
                       "(\"Date d'échéance\" → `date_d_echeance`), with a numbered suffix "
                       "(`_2`) when the entity already has that key."})
    label_fr = ma.fields.String(validate=LABEL_OR_EMPTY, metadata=LABELS)
    label_en = ma.fields.String(validate=LABEL_OR_EMPTY, metadata=LABELS)
    type = ma.fields.String(required=True, validate=ma.validate.OneOf(FIELD_TYPES))
    is_required = ma.fields.Boolean()
    choices = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=100)),
                             validate=ma.validate.Length(max=1000), metadata=CHOICES)
    is_portal_visible = ma.fields.Boolean(metadata={
        "description": "Shown to agents and subscribers in the extranet."})
    position = ma.fields.Integer(metadata={"description": "Order in forms and lists."})
    is_active = ma.fields.Boolean(metadata={
        "description": "false hides the field everywhere; its values are kept. Fields are "
                       "deactivated, never deleted."})
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


class CustomFieldUpdateSchema(CustomFieldSchema):
    """A partial update: the fields given replace the definition's; a type or choices change
    that stored values do not fit is refused."""

    class Meta:
        exclude = ("entity", "key")

    type = ma.fields.String(validate=ma.validate.OneOf(FIELD_TYPES))


class CustomFieldQueryArgsSchema(CursorPageArgsSchema):
    """Filters of the list of custom fields."""

    entity = ma.fields.String(validate=ma.validate.OneOf(tuple(ENTITIES)))
