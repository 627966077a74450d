"""The extranet's records: lists, CSV exports, detail pages, files and answers to quotes.

The pages use the list, export and record machinery of app/web with the extranet's rules
on top: only the entities of the user's role, no internal field (owner, external
reference), no archived record, custom fields marked visible in the extranet only, no draft
status to filter on. A subscriber, a customer following his own files, has no CSV export
(the agents' working tool) and no column naming his own account on every row.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import False_
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from app.entities import ENTITIES, STATUS_LABELS, Entity, Field
from app.forms import flash_form_errors, options
from app.models import ACTIVITY_KINDS, Attachment, Role
from app.policies import (
    NAMED_REFS,
    PORTAL_ENTITIES,
    get_visible_or_404,
    portal_activities,
    visibility_clause,
)
from app.queries.lists import ListQuery
from app.queries.portal_records import pointing_at, portal_list, shown_ids
from app.queries.timeline import activities_on
from app.services import quotes as quote_service
from app.services.activities import ON_RECORDS, add_activity
from app.web.documents import pdf_response
from app.web.exports import csv_response, export_rows
from app.web.lists import custom_columns, list_page
from app.web.records import attachment_file, record_attachments
from app.web.transactions import transaction
from portal import bp

# The tenant's own bookkeeping: never shown, filtered or sorted on in the extranet.
INTERNAL_FIELDS = frozenset({"owner", "external_ref"})
# A subscriber's documents are all his account's: the back office's "customer" column
# would only repeat his own name.
SUBSCRIBER_HIDDEN = frozenset({"account"})
# Roles with the CSV export of their lists.
EXPORTING_ROLES = frozenset({Role.AGENT})
# Archived records never show; `q` is searched here, over the customer's name too.
IGNORED_ARGS = frozenset({"archived", "q"})
# The records found from another one, by the column that points back at it.
CHILDREN = {
    "accounts": (("deals", "account_id"), ("contracts", "account_id"), ("quotes", "account_id"),
                 ("orders", "account_id"), ("deliveries", "account_id"),
                 ("invoices", "account_id")),
    "deals": (("quotes", "deal_id"),),
    "quotes": (("orders", "quote_id"),),
    "orders": (("deliveries", "order_id"), ("invoices", "order_id")),
}
RELATED_LIMIT = 10


class PortalActivityForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=options(
        (kind, STATUS_LABELS[kind]) for kind in ACTIVITY_KINDS))
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Details"), validators=[Optional(), Length(max=20000)])


class QuoteAnswerForm(FlaskForm):
    decision = RadioField(_l("Your answer"), choices=options([("accept", _l("Accept")),
                                                              ("refuse", _l("Refuse"))]),
                          validators=[InputRequired(_l("Choose to accept or refuse."))])
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(
        max=quote_service.MAX_COMMENT,
        message=_l("Enter a comment of at most %(max)d characters."))])


@dataclass
class Related:
    """Some records linked to the one shown, and where to find all of them."""

    entity: Entity
    rows: list[Any]
    more: bool
    all_url: str | None


@bp.app_template_global()
def portal_entities() -> list[str]:
    """The extranet lists of the current user, in menu order."""
    if not current_user.is_authenticated:
        return []
    return list(PORTAL_ENTITIES.get(current_user.role, ()))


@bp.get("/<entity_name>/")
def record_list(entity_name: str):
    entity = _portal_entity(entity_name)
    context = list_page(entity, request.args, query=_list_query(entity, request.args),
                        fields=portal_fields(entity))
    return render_template("portal/list.html", **context,
                           refs=ref_access(context["columns"], context["page"].rows))


@bp.app_template_global()
def portal_can_export() -> bool:
    """Whether the current user's lists have a CSV export."""
    return current_user.is_authenticated and current_user.role in EXPORTING_ROLES


@bp.get("/<entity_name>/export.csv")
def record_export(entity_name: str):
    entity = _portal_entity(entity_name)
    if not portal_can_export():
        abort(404)
    columns = portal_fields(entity)
    header, rows = export_rows(entity, request.args, query=_list_query(entity, request.args),
                               columns=columns, refs=partial(ref_access, columns))
    return csv_response(entity, header, rows)


@bp.get("/<entity_name>/<int:record_id>")
def record_detail(entity_name: str, record_id: int):
    entity = _portal_entity(entity_name)
    record = _load(entity, record_id)
    answerable = entity.name == "quotes" and record.status == "sent"
    fields = portal_fields(entity)
    with_activities = _shows_activities(entity)
    return render_template(
        "portal/detail.html", entity=entity, record=record, fields=fields,
        custom_fields=custom_columns(entity), refs=ref_access(fields, [record]),
        related=_related(entity, record), attachments=record_attachments(entity.name, record.id),
        answer_form=QuoteAnswerForm() if answerable else None, can_edit=False,
        activities=activities_on(entity.name, record.id, current_user)
        if with_activities else None,
        activity_form=PortalActivityForm() if with_activities else None)


@bp.post("/<entity_name>/<int:record_id>/activities")
def activity_add(entity_name: str, record_id: int):
    """An agent's note, call, task or meeting on one of his records (when the tenant allows)."""
    entity = _portal_entity(entity_name)
    if not _shows_activities(entity):
        abort(404)
    record = _load(entity, record_id)
    form = PortalActivityForm()
    if form.validate_on_submit():
        with transaction(user_errors=True) as saved:
            add_activity(record, {"kind": form.kind.data, "subject": form.subject.data.strip(),
                                  "body": (form.body.data or "").strip() or None})
        if saved:
            flash(_("Activity added."), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("portal.record_detail", entity_name=entity.name,
                            record_id=record_id, _anchor="activities"))


def _shows_activities(entity: Entity) -> bool:
    """Agents see activities on their records when their tenant shows them; others never."""
    return entity.name in ON_RECORDS and current_user.role == Role.AGENT \
        and portal_activities(current_user)


@bp.get("/<entity_name>/<int:record_id>/pdf")
def record_pdf(entity_name: str, record_id: int):
    entity = _portal_entity(entity_name)
    return pdf_response(entity, _load(entity, record_id))


@bp.get("/attachments/<int:attachment_id>/download")
def attachment_download(attachment_id: int):
    attachment = get_visible_or_404(Attachment, attachment_id, current_user)
    # The file of a record the extranet does not show (archived, or of a kind outside the
    # user's extranet) is not his to download either.
    if attachment.record_type not in ENTITIES or not _shows_ref(attachment.record_type):
        abort(404)
    _load(ENTITIES[attachment.record_type], attachment.record_id)
    return attachment_file(attachment_id)


@bp.post("/quotes/<int:record_id>/answer")
def answer_quote(record_id: int):
    quote = _load(_portal_entity("quotes"), record_id)
    target = url_for("portal.record_detail", entity_name="quotes", record_id=quote.id)
    form = QuoteAnswerForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(target)
    accepted = form.decision.data == "accept"
    with transaction(user_errors=True) as saved:
        quote_service.answer_quote(quote, accepted, form.comment.data)
    if not saved:
        return redirect(target)
    flash(_("Quote accepted.") if accepted else _("Quote refused."), "success")
    return redirect(target)


def portal_fields(entity: Entity) -> list[Field]:
    """The entity's fields an extranet user sees: no internal field, and related records only
    of the kinds in his extranet, or his customers' and partner's names (a subscriber sees
    no partner and no deal)."""
    hidden = INTERNAL_FIELDS | (SUBSCRIBER_HIDDEN if current_user.role == Role.SUBSCRIBER
                                else frozenset())
    return [_without_drafts(f) for f in entity.fields if f.name not in hidden
            and (f.type != "ref" or _shows_ref(f.ref))]


def _without_drafts(f: Field) -> Field:
    """A status without "draft": app/policies.py never shows a draft in the extranet."""
    if "draft" not in f.choices:
        return f
    return replace(f, choices=tuple(c for c in f.choices if c != "draft"))


def _shows_ref(kind: str) -> bool:
    if kind in portal_entities():
        return True
    return kind in NAMED_REFS and not isinstance(
        visibility_clause(ENTITIES[kind].model, current_user), False_)


def _portal_entity(name: str) -> Entity:
    if name not in portal_entities():
        abort(404)
    return ENTITIES[name]


def _load(entity: Entity, record_id: int) -> Any:
    """A record the user may see and that is not archived; 404 otherwise."""
    record = get_visible_or_404(entity.model, record_id, current_user)
    if record.archived_at is not None:
        abort(404)
    return record


def _list_query(entity: Entity, args: Mapping[str, str]) -> ListQuery:
    """The back office's list query without archived records nor filters or sorts on hidden
    fields, searching the number (or name) and the customer's name, never the external
    reference."""
    shown = {f.name for f in portal_fields(entity)}
    return portal_list(entity, args, current_user, hidden={f.name for f in entity.fields} - shown,
                       ignored=IGNORED_ARGS, custom=custom_columns(entity))


def ref_access(fields: Iterable[Field], records: Iterable[Any]) -> dict[tuple[str, int], bool]:
    """The related records of `records` (through `fields`) that the user may see, by
    (entity name, id), mapped to whether they have an extranet page to link to. One query
    per related field, whatever the number of records; the others are not shown at all."""
    access: dict[tuple[str, int], bool] = {}
    records = list(records)
    for f in fields:
        if f.type != "ref" or f.ref == "users":
            continue
        ids = {getattr(record, f.attr) for record in records} - {None}
        if not ids:
            continue
        linkable = f.ref in portal_entities()
        access |= {(f.ref, i): linkable
                   for i in shown_ids(ENTITIES[f.ref].model, ids, current_user)}
    return access


def _related(entity: Entity, record: Any) -> list[Related]:
    """The user's records pointing at this one (a quote's orders, an order's invoices…)."""
    sections = []
    for name, column in CHILDREN.get(entity.name, ()):
        if name not in portal_entities():
            continue
        child = ENTITIES[name]
        rows = pointing_at(child.model, column, record.id, current_user, RELATED_LIMIT + 1)
        if not rows:
            continue
        more = len(rows) > RELATED_LIMIT
        all_url = url_for("portal.record_list", entity_name=name, account=record.id) \
            if more and column == "account_id" else None
        sections.append(Related(child, rows[:RELATED_LIMIT], more, all_url))
    return sections
