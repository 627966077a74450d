"""Record schemas, generated from app/entities.py: per entity, the record as the API shows it,
its creation, its partial update and its list's query arguments; plus document lines and
deleted records. Values are checked here for their JSON type only: the domain rules (required,
lengths, choices, references) are app/services/records.py's, as for forms and imports."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import marshmallow as ma
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from api.auth import current_principal
from api.pagination import CursorPageArgsSchema
from api.record_data import custom_definitions, readable
from app.entities import Entity, Field
from app.models.base import as_utc
from app.queries.lists import custom_filter_names
from app.services.record_rules import has_default

REQUIRED = _l("This field is required.")
MONEY_DOC = {"type": "string", "format": "decimal", "example": "1234.56"}
MONEY_INPUT_DOC = {**MONEY_DOC, "description": "A decimal string (a JSON number is accepted)."}
TEXT_TYPES = ("text", "long_text", "email", "phone", "country", "choice")
ARCHIVED = ("false", "true", "all")


def english(label: Any) -> str:
    """The English text of a lazily translated label (the OpenAPI document is in English)."""
    args = getattr(label, "_args", None)
    return str(args[0]) if args else str(label)


def _messages(**more: Any) -> dict[str, Any]:
    return {"required": REQUIRED, "null": REQUIRED, **more}


def _string(**kwargs: Any) -> ma.fields.String:
    return ma.fields.String(error_messages=_messages(invalid=_l("Enter text.")), **kwargs)


def _integer(**kwargs: Any) -> ma.fields.Integer:
    return ma.fields.Integer(error_messages=_messages(invalid=_l("Enter a whole number.")),
                             **kwargs)


def _decimal(**kwargs: Any) -> ma.fields.Decimal:
    message = _l("Enter a number such as 1234.56.")
    return ma.fields.Decimal(error_messages=_messages(invalid=message, special=message),
                             **kwargs)


def _date(**kwargs: Any) -> ma.fields.Date:
    message = _l("Enter a date as YYYY-MM-DD.")
    return ma.fields.Date(error_messages=_messages(invalid=message, format=message), **kwargs)


class Timestamp(ma.fields.AwareDateTime):
    """An ISO 8601 date-time read in UTC; refused when UTC has no such time (year 1 or 9999
    pushed past its end by the offset)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return as_utc(moment)
        except ValueError as exc:
            raise self.make_error("range") from exc


def timestamp(**kwargs: Any) -> Timestamp:
    """An ISO 8601 date-time; without an offset, UTC."""
    message = _l("Enter a date and time as YYYY-MM-DDTHH:MM:SSZ.")
    return Timestamp(default_timezone=UTC, error_messages=_messages(
        invalid=message, format=message, invalid_awareness=message,
        range=_l("Enter a date and time between the years 1 and 9999 in UTC.")), **kwargs)


def one_of(choices: list[str]) -> Any:
    """A validator with the forms' message for a value that is not a choice."""

    def validate(value: str) -> None:
        if value not in choices:
            raise ma.ValidationError(_("“%(value)s” is not one of the choices.",
                                       value=value[:50]))

    return validate


class InputSchema(ma.Schema):
    """A request body: unknown fields are refused with a message of our own."""

    error_messages = {"unknown": _l("Unknown field."), "type": _l("Enter an object.")}


class LineSchema(ma.Schema):
    """A document line; its amounts are computed (quantity × unit price, and its tax)."""

    sku = ma.fields.String(allow_none=True)
    label = ma.fields.String()
    quantity = ma.fields.Decimal(as_string=True, metadata=MONEY_DOC)
    unit_price = ma.fields.Decimal(as_string=True, places=2, metadata=MONEY_DOC)
    tax_rate = ma.fields.Decimal(as_string=True, places=2, metadata={
        **MONEY_DOC, "description": "Percent.", "example": "20.00"})
    amount_excl_tax = ma.fields.Decimal(as_string=True, places=2, dump_only=True,
                                        metadata=MONEY_DOC)
    tax_amount = ma.fields.Decimal(as_string=True, places=2, dump_only=True, metadata=MONEY_DOC)


class LineInputSchema(InputSchema):
    """A document line as sent: label required; quantity 1 and tax rate 20 by default."""

    sku = _string(allow_none=True, metadata={"maxLength": 64})
    label = _string(required=True, metadata={"maxLength": 255})
    quantity = _decimal(allow_none=True, metadata=MONEY_INPUT_DOC)
    unit_price = _decimal(allow_none=True, metadata=MONEY_INPUT_DOC)
    tax_rate = _decimal(allow_none=True, metadata={**MONEY_INPUT_DOC, "example": "20.00"})


class DeletedRecordSchema(ma.Schema):
    """A record deleted since the time asked: remove it from your copy."""

    id = ma.fields.Integer()
    external_ref = ma.fields.String(allow_none=True, metadata={
        "description": "Its external reference when it was deleted."})
    deleted_at = ma.fields.AwareDateTime()


class DeletedQueryArgsSchema(CursorPageArgsSchema):
    """Deleted records since a time, oldest first."""

    since = timestamp(required=True, metadata={
        "description": "Deletions at or after this time: the X-Sync-Watermark of your last "
                       "read."})


@dataclass(frozen=True)
class RecordSchemas:
    """The schemas of one entity."""

    output: type[ma.Schema]
    create: type[ma.Schema] | None
    update: type[ma.Schema] | None
    query: type[ma.Schema]
    bulk_item: type[ma.Schema] | None = None


def record_schemas(entity: Entity, name: str, *, writable: bool) -> RecordSchemas:
    """The schemas of `entity`, named after its model (Invoice, InvoiceCreate, …)."""
    create = update = bulk_item = None
    if writable:
        create = InputSchema.from_dict(_input_fields(entity, creating=True),
                                       name=f"{name}CreateSchema")
        update = InputSchema.from_dict(_input_fields(entity, creating=False),
                                       name=f"{name}UpdateSchema")
        bulk_item = InputSchema.from_dict({
            **_input_fields(entity, creating=True),
            "external_ref": _string(required=True, metadata={
                "maxLength": entity.field("external_ref").max_length,
                "description": "The record's key: created when none has it, else updated "
                               "(required fields are required only to create)."})},
            name=f"{name}BulkItemSchema")
    query = RecordQueryArgsSchema.from_dict(_query_fields(entity), name=f"{name}QueryArgsSchema")
    query.entity = entity
    return RecordSchemas(ma.Schema.from_dict(_output_fields(entity), name=f"{name}Schema"),
                         create, update, query, bulk_item)


def _ref_doc(f: Field, what: str) -> dict[str, str]:
    return {"description": f"{english(f.label)} ({f.ref}), {what}."}


def _output_fields(entity: Entity) -> dict[str, ma.fields.Field]:
    fields: dict[str, ma.fields.Field] = {"id": ma.fields.Integer(dump_only=True)}
    for f in entity.fields:
        if f.type != "ref":
            fields[f.name] = _value_field(f, output=True)
            continue
        fields[f"{f.name}_id"] = ma.fields.Integer(allow_none=True, metadata=_ref_doc(
            f, "by id" + ("; null for a partner's token" if f.ref == "users" else "")))
        if f.ref != "users":
            fields[f"{f.name}_ref"] = ma.fields.String(allow_none=True, metadata=_ref_doc(
                f, "its external_ref"))
    if entity.name == "attachments":
        fields["record_type"] = ma.fields.String(metadata={
            "description": "The entity of the record the file is attached to."})
        fields["record_id"] = ma.fields.Integer()
        fields["sha256"] = ma.fields.String()
    fields["custom"] = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(), metadata={
        "description": "Custom-field values by key (a partner's token: those shown in the "
                       "extranet)."})
    if entity.line_model is not None:
        fields["lines"] = ma.fields.List(ma.fields.Nested(LineSchema))
    if entity.name == "invoices":
        fields.update(_overdue_output())
    for name in ("created_at", "updated_at", "archived_at"):
        fields[name] = ma.fields.AwareDateTime(dump_only=True, allow_none=name == "archived_at")
    fields["archived_at"].metadata["description"] = (
        "Set when a full-sync feed stopped sending the record.")
    return fields


OVERDUE_RULE = (
    "An invoice is overdue on a day when its status is `issued` (or `overdue`, as some feeds "
    "send it), its due_on is before that day and its amount_paid is less than its total; the "
    "day is today in the tenant's time zone. Derived when read, never stored: `status` keeps "
    "the stored value (an overdue invoice still says `issued`).")


def _overdue_output() -> dict[str, ma.fields.Field]:
    """An invoice's derived fields (api/record_data.py fills them from the Invoice model)."""
    return {
        "overdue": ma.fields.Boolean(dump_only=True, metadata={
            "description": f"Read-only. Whether the invoice is overdue today. {OVERDUE_RULE}"}),
        "days_late": ma.fields.Integer(dump_only=True, allow_none=True, metadata={
            "description": "Read-only. Days since due_on when overdue (1 the day after it is "
                           "due), else null."}),
    }


def _value_field(f: Field, *, output: bool, **kwargs: Any) -> ma.fields.Field:
    """A field of a non-reference value, typed for output or for input."""
    doc: dict[str, Any] = {"description": english(f.label)}
    if f.type == "money":
        if output:
            return ma.fields.Decimal(as_string=True, places=2, allow_none=True,
                                     metadata={**MONEY_DOC, **doc})
        return _decimal(metadata={**MONEY_INPUT_DOC, **doc}, **kwargs)
    if f.type == "date":
        return ma.fields.Date(allow_none=True, metadata=doc) if output \
            else _date(metadata=doc, **kwargs)
    if f.type == "integer":
        return ma.fields.Integer(allow_none=True, metadata=doc) if output \
            else _integer(metadata=doc, **kwargs)
    if f.type == "datetime":
        return ma.fields.AwareDateTime(allow_none=True, metadata=doc) if output \
            else timestamp(metadata=doc, **kwargs)
    if f.type == "boolean":
        return ma.fields.Boolean(allow_none=True, metadata=doc) if output \
            else ma.fields.Boolean(error_messages=_messages(invalid=_l("Enter true or false.")),
                                   metadata=doc, **kwargs)
    if f.choices:
        doc["enum"] = list(f.choices)
    else:
        doc["maxLength"] = f.max_length
    if f.type == "email":
        doc["format"] = "email"
    return ma.fields.String(allow_none=True, metadata=doc) if output \
        else _string(metadata=doc, **kwargs)


def _input_fields(entity: Entity, *, creating: bool) -> dict[str, ma.fields.Field]:
    fields: dict[str, ma.fields.Field] = {}
    for f in entity.fields:
        if f.type != "ref":
            required = creating and f.required and not has_default(entity, f)
            fields[f.name] = _value_field(f, output=False, required=required,
                                          allow_none=not required)
            continue
        needed = "; required: this or " if creating and f.required else "; or "
        if f.ref == "users":
            fields[f"{f.name}_id"] = _integer(allow_none=True, metadata=_ref_doc(f, "by id"))
            continue
        fields[f"{f.name}_id"] = _integer(allow_none=True, metadata=_ref_doc(
            f, f"by id{needed}{f.name}_ref"))
        fields[f"{f.name}_ref"] = _string(allow_none=True, metadata=_ref_doc(
            f, f"by its external_ref{needed}{f.name}_id"))
    fields["custom"] = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Raw(allow_none=True),
        error_messages={"invalid": _l("Enter an object."), "null": _l("Enter an object.")},
        metadata={
            "description": "Custom-field values by key, typed or as text (`1 234,50`, "
                           "`31/12/2026`, `oui`); null or \"\" removes a value. "
                           + ("Required custom fields must be given."
                              if creating else "Keys not given keep their value.")})
    if entity.line_model is not None:
        fields["lines"] = ma.fields.List(
            ma.fields.Nested(LineInputSchema), error_messages={"invalid": _l("Enter a list.")},
            metadata={"description": "The document's lines; given, they replace all of them "
                                     "and the totals are computed from them."})
    return fields


CF_DOC = (
    "Custom-field filters, repeatable, each `key:value` as in `cf=promoteur:Nord` (the same "
    "as `cf_promoteur=Nord`, a form kept for existing clients). The key is a custom field's "
    "key (text: contains, any case; choice: equals; yes/no: `true` or `false`); dates and "
    "numbers filter by range with `<key>_from`/`<key>_to` (dates) or `<key>_min`/`<key>_max` "
    "(numbers): `cf=montant_min:100`. Only the first colon separates key and value. The "
    "keys are the tenant's (`/api/v1/custom-fields`; a partner's token: those shown in the "
    "extranet); an unknown key answers 400.")


class RecordQueryArgsSchema(CursorPageArgsSchema):
    """A record list's query arguments. Which of them a token may use depends on the token
    and the tenant: the filters of the fields it reads, and the tenant's custom fields."""

    entity: ClassVar[Entity]

    def known_parameters(self) -> list[str]:
        """The parameters this request's token may send (api/blueprint.py checks them)."""
        principal = current_principal()
        filters = filter_parameters(self.entity)
        known = [name for name in self.load_fields
                 if name not in filters or readable(filters[name], principal)]
        for cf in custom_definitions(self.entity, principal):
            known += custom_filter_names(cf)
        return known


def filter_parameters(entity: Entity) -> dict[str, Field]:
    """Each filter's query parameter and the field it filters on."""
    parameters: dict[str, Field] = {}
    for f in entity.fields:
        if not f.filter:
            continue
        if f.type == "ref":
            names = [f"{f.name}_id"] + ([f"{f.name}_ref"] if f.ref != "users" else [])
        elif f.type in ("date", "datetime"):
            names = [f"{f.name}_from", f"{f.name}_to"]
        elif f.type == "money":
            names = [f"{f.name}_min", f"{f.name}_max"]
        else:
            names = [f.name]
        parameters.update(dict.fromkeys(names, f))
    return parameters


def sorts(entity: Entity) -> list[str]:
    """The fields a list sorts on (besides its default)."""
    return [*entity.sortable, "created_at", "id"]


def _query_fields(entity: Entity) -> dict[str, ma.fields.Field]:
    choices = sorts(entity)
    fields: dict[str, ma.fields.Field] = {
        "q": _string(metadata={"description": "Search (contains, any case) in "
                                              + ", ".join(entity.search) + "."}),
        "sort": _string(validate=one_of(choices + [f"-{s}" for s in choices]), metadata={
            "enum": choices + [f"-{s}" for s in choices],
            "description": f"A field, `-` first for descending; default `{entity.default_sort}`."}),
        "archived": _string(validate=one_of(list(ARCHIVED)), metadata={
            "enum": list(ARCHIVED),
            "description": "`false` (default): live records; `true`: archived ones only; "
                           "`all`: both (the default with updated_since)."}),
        "updated_since": timestamp(metadata={
            "description": "Records changed at or after this time, in (updated_at, id) order; "
                           "pass the X-Sync-Watermark of your last read."}),
    }
    for name, f in filter_parameters(entity).items():
        fields[name] = _filter_field(name, f)
    if entity.name == "invoices":
        fields["status"].metadata["description"] += (
            " The stored status: `issued` includes the overdue ones; see `overdue`.")
        fields["overdue"] = ma.fields.Boolean(
            error_messages=_messages(invalid=_l("Enter true or false.")), metadata={
                "description": f"`true`: overdue invoices only; `false`: the others. "
                               f"{OVERDUE_RULE}"})
    for name, attr in entity.extra.get("flags", {}).items():
        fields[name] = ma.fields.Boolean(
            error_messages=_messages(invalid=_l("Enter true or false.")),
            metadata={"description": f"`true`: {attr} is set; `false`: it is not."})
    fields["cf"] = ma.fields.List(_string(), metadata={"description": CF_DOC})
    return fields


def _filter_field(name: str, f: Field) -> ma.fields.Field:
    label = english(f.label)
    if f.type == "ref":
        if name.endswith("_ref"):
            return _string(metadata={"description": f"{label}, by external_ref."})
        hidden = " Not for a partner's token." if f.ref == "users" else ""
        return _integer(metadata={"description": f"{label}, by id.{hidden}"})
    if f.type == "datetime":
        low = name.endswith("_from")
        return timestamp(metadata={"description": f"{label} {'≥' if low else '≤'} this."})
    if f.type == "boolean":
        return ma.fields.Boolean(error_messages=_messages(invalid=_l("Enter true or false.")),
                                 metadata={"description": f"{label} (true or false)."})
    if f.type in ("date", "money"):
        maker = _date if f.type == "date" else _decimal
        low = name.endswith(("_from", "_min"))
        return maker(metadata={"description": f"{label} {'≥' if low else '≤'} this."})
    field = _value_field(f, output=False)
    how = "equals" if f.type in ("choice", "country") else "contains, any case"
    field.metadata["description"] = f"{label} ({how})."
    return field
