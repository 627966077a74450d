"""List pages, in both faces: the page of records, its filter form, its links."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, flash, url_for
from flask_babel import get_locale, pgettext
from flask_babel import gettext as _
from flask_login import current_user

from app.clock import local_today
from app.custom_fields import definitions
from app.entities import STATUS_LABELS, Entity, Field
from app.models import CustomField
from app.policies import can_edit
from app.queries.keyset import InvalidCursor, Page, keyset_page
from app.queries.lists import MAX_QUERY, NUMBER_TYPES, ListQuery, build_list, count_capped

# Custom fields shown as columns of the table, and on each card of the phone layout.
TABLE_CUSTOM_COLUMNS = 4
CARD_CUSTOM_FIELDS = 3


@dataclass(frozen=True)
class FilterInput:
    """One input of a list's filter form: a query parameter, its label and its widget."""

    name: str
    label: str
    kind: str  # "text", "date", "select", or "hidden" (a related record, set by a link)
    options: tuple[tuple[str, str], ...] = ()  # a select's (value, label), after "—"
    maxlength: int | None = None


def list_url(query: Any, endpoint: str = "backoffice.record_list", **extra: Any) -> str:
    """The URL of a list (or its export) with its active filters and sort, plus `extra`."""
    params = {**query.active, "sort": query.sort, **extra}
    return url_for(endpoint, entity_name=query.entity.name, **params)


def custom_columns(entity: Entity) -> list[CustomField]:
    """The custom fields shown to the current user: agents and subscribers see only those
    marked visible in the extranet."""
    fields = definitions(entity.name)
    if current_user.is_authenticated and not current_user.is_staff:
        fields = [f for f in fields if f.is_portal_visible]
    return fields


def list_page(entity: Entity, args: Any, *, query: ListQuery | None = None,
              fields: Sequence[Field] | None = None) -> dict[str, Any]:
    """What a list page shows; the extranet passes its own query and fields."""
    custom = custom_columns(entity)
    query = query or build_list(entity, args, current_user, custom, today=local_today())
    fields = entity.fields if fields is None else fields
    size = current_app.config["PAGE_SIZE"]
    page = first_page_unless_valid(
        lambda after, before: keyset_page(query.stmt, query.sort_column, entity.model.id,
                                          descending=query.descending, size=size,
                                          after=after, before=before), args)
    total, capped = count_capped(query.stmt)
    return {
        "entity": entity, "query": query, "page": page, "total": total, "capped": capped,
        "columns": [f for f in fields if f.in_list],
        "table_custom_fields": custom[:TABLE_CUSTOM_COLUMNS],
        "card_custom_fields": custom[:CARD_CUSTOM_FIELDS],
        "filter_inputs": list(filter_inputs([f for f in fields if f.filter], custom)),
        "search_maxlength": MAX_QUERY, "can_edit": can_edit(current_user),
        "status_labels": STATUS_LABELS,
    }


def filter_inputs(filters: Sequence[Field], custom: Sequence[CustomField]
                  ) -> Iterator[FilterInput]:
    """The filter form's inputs, in order: the entity's filters, then its custom fields'.
    A date or an amount is a range of two inputs (`_from`/`_to`, `_min`/`_max`), as
    app/queries/lists.py reads them."""
    for f in filters:
        if f.type in ("date", "datetime", "money"):  # a date-time is filtered by days
            yield from _range(f.name, f.label, "date" if f.type == "datetime" else f.type)
        elif f.type == "boolean":
            yield FilterInput(f.name, f.label, "select", (
                (pgettext("a filter's value", "yes"), _("Yes")),
                (pgettext("a filter's value", "no"), _("No"))))
        elif f.type == "choice":
            yield FilterInput(f.name, f.label, "select",
                              tuple((c, STATUS_LABELS.get(c, c)) for c in f.choices))
        elif f.type == "ref":
            yield FilterInput(f.name, f.label, "hidden")
        else:
            yield FilterInput(f.name, f.label, "text", maxlength=MAX_QUERY)
    locale = str(get_locale())
    for cf in custom:
        name, label = f"cf_{cf.key}", cf.label(locale)
        if cf.type == "date" or cf.type in NUMBER_TYPES:
            yield from _range(name, label, cf.type)
        elif cf.type == "boolean":
            yield FilterInput(name, label, "select", (
                (pgettext("a filter's value", "yes"), _("Yes")),
                (pgettext("a filter's value", "no"), _("No"))))
        elif cf.type in ("choice", "multi_choice"):
            yield FilterInput(name, label, "select", tuple((c, c) for c in cf.choices or ()))
        else:
            yield FilterInput(name, label, "text", maxlength=MAX_QUERY)


def _range(name: str, label: Any, type_: str) -> Iterator[FilterInput]:
    low, high = ("from", "to") if type_ == "date" else ("min", "max")
    kind = "date" if type_ == "date" else "text"
    yield FilterInput(f"{name}_{low}", f"{label} ≥", kind)
    yield FilterInput(f"{name}_{high}", f"{label} ≤", kind)


def first_page_unless_valid(read: Callable[[str | None, str | None], Page], args: Any) -> Page:
    """The page `read(after, before)` gives for the request's cursor; for a cursor no page gave
    (edited, cut, from another sort), the first page and a message, as a stale link would."""
    try:
        return read(args.get("after"), args.get("before"))
    except InvalidCursor:
        flash(_("This link to a page of the list is no longer valid: here is the first page."),
              "warning")
        return read(None, None)
