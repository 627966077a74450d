"""A collection's list: the back office's filters, search and sort (app/queries/lists.py), with
typed arguments, references by external_ref, cursor pages, and changes since a time."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import request
from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from api.auth import TokenPrincipal, current_principal
from api.errors import QueryParameterError, unknown_parameters
from api.pagination import cursor_page
from api.record_data import custom_definitions, present, readable
from api.schemas.records import filter_parameters
from api.sync import changes_page
from app.entities import ENTITIES, Entity
from app.errors import ValidationError
from app.policies import visible
from app.queries.lists import build_list, custom_filter_names

ARCHIVED = {"true": "1", "all": "all"}


def list_records(entity: Entity, args: dict[str, Any]) -> tuple[list[dict[str, Any]], dict]:
    """One page of the records the token may see, and its headers."""
    started = datetime.now(UTC)  # before any read: the sync watermark starts here
    principal = current_principal()
    since = args.get("updated_since")
    if since is not None and args.get("sort"):
        raise ValidationError({"sort": _("A list read with updated_since is ordered by "
                                         "updated_at and id.")})
    _check_sort(entity, args.get("sort"), principal)
    query = build_list(entity, _list_args(entity, args, principal), principal,
                       custom_definitions(entity, principal))
    if query.invalid:
        names = {f.name: f"{f.name}_id" for f in entity.fields if f.type == "ref"}
        raise ValidationError({names.get(k, k): v for k, v in query.invalid.items()})
    model = entity.model
    stmt = _ref_filters(entity, query.stmt, args, principal)
    if entity.line_model is not None:
        stmt = stmt.options(selectinload(model.lines))
    if since is not None:
        rows, headers = changes_page(stmt.where(model.updated_at >= since), model.updated_at,
                                     model.id, args, started)
    else:
        rows, headers = cursor_page(stmt, query.sort_column, model.id, args,
                                    descending=query.descending)
    return present(entity, rows, principal), headers


def _list_args(entity: Entity, args: dict[str, Any], principal: TokenPrincipal
               ) -> dict[str, str]:
    """The arguments build_list reads, as text: typed ones, and custom-field filters, given
    as `cf_<key>=value` or `cf=<key>:value`."""
    out = {k: v for k, v in request.args.items() if k.startswith("cf_")}
    out.update(_generic_custom_filters(entity, args.get("cf") or [], principal))
    for name in ("q", "sort"):
        if args.get(name):
            out[name] = args[name]
    if args.get("overdue") is not None:
        out["overdue"] = "true" if args["overdue"] else "false"
    archived = args.get("archived") or ("all" if args.get("updated_since") else "false")
    if archived in ARCHIVED:
        out["archived"] = ARCHIVED[archived]
    for name, f in filter_parameters(entity).items():
        value = args.get(name)
        if value is None or name == f"{f.name}_ref":  # by external_ref: _ref_filters
            continue
        out[f.name if f.type == "ref" else name] = \
            value.isoformat() if isinstance(value, date) else str(value)
    for name in entity.extra.get("flags", {}):
        if args.get(name) is not None:
            out[name] = str(args[name]).lower()
    return out


def _generic_custom_filters(entity: Entity, given: list[str], principal: TokenPrincipal
                            ) -> dict[str, str]:
    """`cf=promoteur:Nord` as `cf_promoteur=Nord`; 400 for a key the token does not know."""
    known = [name for cf in custom_definitions(entity, principal)
             for name in custom_filter_names(cf)]
    out: dict[str, str] = {}
    unknown: list[str] = []
    for item in given:
        key, colon, value = item.partition(":")
        if not colon or not key:
            raise ValidationError({"cf": _("Write key:value, such as promoteur:Nord.")})
        if f"cf_{key}" not in known:
            unknown.append(f"cf={key}")
        out[f"cf_{key}"] = value
    if unknown:
        raise unknown_parameters(unknown, [f"cf={name.removeprefix('cf_')}" for name in known])
    return out


def _check_sort(entity: Entity, sort: str | None, principal: TokenPrincipal) -> None:
    """A token sorts only on the fields it reads."""
    name = (sort or "").lstrip("-")
    if name in entity.sortable and not readable(entity.field(name), principal):
        raise QueryParameterError(
            _("This token may not sort on %(name)s.", name=name),
            {"sort": [_("“%(value)s” is not one of the choices.", value=sort)]})


def _ref_filters(entity: Entity, stmt: Select, args: dict[str, Any],
                 principal: TokenPrincipal) -> Select:
    """`<ref>_ref=…`: records whose related record, seen by the token, has that external_ref
    (none when it does not see such a record)."""
    for f in entity.fields:
        value = args.get(f"{f.name}_ref")
        if f.type != "ref" or f.ref == "users" or value is None:
            continue
        model = ENTITIES[f.ref].model
        related = visible(select(model.id).where(model.external_ref == value), model, principal)
        stmt = stmt.where(getattr(entity.model, f.attr).in_(related))
    return stmt
