"""Bulk upsert bodies and results: items keyed by external_ref, one outcome per item."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import lazy_gettext as _l

from app.services.bulk import MAX_ITEMS

STATUSES = ("created", "updated", "unchanged", "error")


class UncheckedItems(ma.fields.List):
    """A list documented by its items' schema but loaded as it is: the bulk upsert checks
    each item itself and answers for each, rather than refusing the whole call."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        return value


def bulk_request_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """The body of a bulk upsert of records shaped by `item_schema`."""
    return ma.Schema.from_dict({"items": UncheckedItems(
        ma.fields.Nested(item_schema), required=True,
        validate=ma.validate.Length(1, MAX_ITEMS, error=_l(
            "Send between {min} and {max} items.")),  # formatted when raised: localized
        error_messages={"invalid": _l("Enter a list."), "required": _l(
            "This field is required.")},
        metadata={"description": f"Up to {MAX_ITEMS:,} records, each keyed by its "
                                 "external_ref: created when no record has it, else updated "
                                 "with the fields given (the others are kept)."})},
        name=name)


class BulkItemResultSchema(ma.Schema):
    """What became of one item."""

    index = ma.fields.Integer(metadata={"description": "Its position in `items`, from 0."})
    external_ref = ma.fields.Raw(allow_none=True, metadata={"type": "string"})
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    id = ma.fields.Integer(allow_none=True, metadata={
        "description": "The record's id; null for an item in error."})
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
                            metadata={"description": "An item in error: messages per field, "
                                                     "named as in the item."})


class BulkResultSchema(ma.Schema):
    """A bulk upsert's outcome: counts, and one result per item in the order sent. Items in
    error changed nothing; the others are saved."""

    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    unchanged = ma.fields.Integer()
    failed = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(BulkItemResultSchema))
