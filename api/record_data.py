"""How records go out of and into the API.

Out: a record as the token may see it: its fields, the custom values it may see, its related
records by id and external_ref (only those the token may see), its lines.
In: a request body turned into what app/services/records.py takes: related records given by id
(`account_id`) or by external_ref (`account_ref`), resolved through the token's visibility.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import g
from flask_babel import gettext as _
from sqlalchemy import select

from api.auth import TokenPrincipal
from app.clock import local_today
from app.custom_fields import definitions
from app.entities import ENTITIES, Entity, Field
from app.errors import ValidationError
from app.extensions import db
from app.models import CustomField, Invoice
from app.policies import visible

LINE_OUTPUT = ("sku", "label", "quantity", "unit_price", "tax_rate", "amount_excl_tax",
               "tax_amount")


def custom_definitions(entity: Entity, principal: TokenPrincipal) -> list[CustomField]:
    """The active custom fields the token may see (a partner's: those shown in the extranet),
    read once per request."""
    cache = g.setdefault("api_custom_fields", {})
    if entity.name not in cache:
        fields = definitions(entity.name)
        if principal.partner_id is not None:
            fields = [f for f in fields if f.is_portal_visible]
        cache[entity.name] = fields
    return cache[entity.name]


def readable(f: Field, principal: TokenPrincipal) -> bool:
    """Whether the token reads this field's values: a partner's token never reads staff users
    (a customer's owner). Its filters and sorts are those of the fields it reads."""
    return not (f.type == "ref" and f.ref == "users" and principal.partner_id is not None)


def _related(f: Field, records: Sequence[Any], principal: TokenPrincipal) -> dict[int, Any]:
    """{id: external_ref} of the records `f` points at that the token may see: one query."""
    ids = {getattr(r, f.attr) for r in records} - {None}
    if not ids:
        return {}
    model = ENTITIES[f.ref].model
    stmt = visible(select(model.id, model.external_ref).where(model.id.in_(ids)), model,
                   principal)
    return dict(db.session.execute(stmt).tuples().all())


def present(entity: Entity, records: Sequence[Any], principal: TokenPrincipal
            ) -> list[dict[str, Any]]:
    """The records as the API shows them to `principal`, with a fixed number of queries."""
    keys = {f.key for f in custom_definitions(entity, principal)}
    refs = {f.name: _related(f, records, principal) for f in entity.fields
            if f.type == "ref" and f.ref != "users"}
    return [_one(entity, record, keys, refs, principal) for record in records]


def present_one(entity: Entity, record: Any, principal: TokenPrincipal) -> dict[str, Any]:
    return present(entity, [record], principal)[0]


def _one(entity: Entity, record: Any, keys: set[str], refs: dict[str, dict[int, Any]],
         principal: TokenPrincipal) -> dict[str, Any]:
    item: dict[str, Any] = {"id": record.id}
    for f in entity.fields:
        value = getattr(record, f.attr)
        if f.type != "ref":
            item[f.name] = value
        elif f.ref == "users":
            item[f"{f.name}_id"] = value if readable(f, principal) else None
        else:
            known = refs[f.name]
            shown = value is not None and value in known
            item[f"{f.name}_id"] = value if shown else None
            item[f"{f.name}_ref"] = known[value] if shown else None
    if entity.name == "attachments":
        item.update(record_type=record.record_type, record_id=record.record_id,
                    sha256=record.sha256)
    item["custom"] = {k: v for k, v in (record.custom or {}).items() if k in keys}
    if entity.line_model is not None:
        item["lines"] = [{name: getattr(line, name) for name in LINE_OUTPUT}
                         for line in record.lines]
    if isinstance(record, Invoice):
        late = record.days_late_on(local_today())
        item.update(overdue=late is not None, days_late=late)
    item.update(created_at=record.created_at, updated_at=record.updated_at,
                archived_at=record.archived_at)
    return item


def service_data(entity: Entity, body: dict[str, Any], principal: TokenPrincipal, *,
                 creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The service's data for a request body, and the body's name of each reference (to name
    the service's errors as the client wrote them). Unknown references are refused."""
    data = {k: v for k, v in body.items() if k in ("custom", "lines")}
    names: dict[str, str] = {}
    errors: dict[str, str] = {}
    for f in entity.fields:
        if f.type != "ref":
            if f.name in body:
                data[f.name] = body[f.name]
            continue
        id_key, ref_key = f"{f.name}_id", f"{f.name}_ref"
        names[f.name] = ref_key if ref_key in body else id_key
        if id_key in body and ref_key in body:
            errors[ref_key] = _("Give %(id)s or %(ref)s, not both.", id=id_key, ref=ref_key)
        elif ref_key in body:
            try:
                data[f.name] = _by_external_ref(f, body[ref_key], principal)
            except ValueError as exc:
                errors[ref_key] = str(exc)
        elif id_key in body:
            if not readable(f, principal):
                errors[id_key] = _("Unknown record.")
            data[f.name] = body[id_key]
    if creating and principal.partner_id is not None and _has_field(entity, "partner") \
            and "partner" not in data and "partner_ref" not in errors:
        data["partner"] = principal.partner_id  # a partner's records are his by default
    errors.update(_hidden_custom_keys(entity, data.get("custom"), principal))
    if errors:
        raise ValidationError(errors)
    return data, names


def _has_field(entity: Entity, name: str) -> bool:
    return any(f.name == name for f in entity.fields)


def _by_external_ref(f: Field, ref: Any, principal: TokenPrincipal) -> int | None:
    if ref is None or not str(ref).strip():
        return None
    model = ENTITIES[f.ref].model
    stmt = visible(select(model.id).where(model.external_ref == str(ref).strip()), model,
                   principal)
    record_id = db.session.scalar(stmt)
    if record_id is None:
        raise ValueError(_("Unknown record."))
    return record_id


def _hidden_custom_keys(entity: Entity, custom: Any, principal: TokenPrincipal
                        ) -> dict[str, str]:
    """A partner's token writes only the custom fields it may see; others are unknown to it."""
    if principal.partner_id is None or not isinstance(custom, dict):
        return {}
    keys = {f.key for f in custom_definitions(entity, principal)}
    return {f"custom.{key}": _("Unknown custom field “%(key)s”.", key=key[:50])
            for key in custom if key not in keys}


def client_errors(exc: ValidationError, names: dict[str, str]) -> ValidationError:
    """A service's errors keyed as the client wrote its body (`account` → `account_id`)."""
    return ValidationError({names.get(key, key): message for key, message in exc.errors.items()})
