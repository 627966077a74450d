"""Lists, detail pages, forms, CSV export and attachments for every entity."""
from __future__ import annotations

from flask import (
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from app.backoffice import bp
from app.backoffice.document_views import document_mail_form
from app.backoffice.forms import (
    ActivityForm,
    AttachmentForm,
    form_to_data,
    record_form,
    ref_label,
    ref_model,
)
from app.backoffice.signing_link_views import signing_panel
from app.custom_fields import definitions
from app.entities import EDITABLE, ENTITIES, Entity
from app.models import Attachment
from app.policies import can_edit, get_visible_or_404
from app.queries.records import suggestions
from app.queries.timeline import timeline
from app.services.activities import ON_RECORDS
from app.services.attachments import add_attachment, delete_attachment
from app.services.records import create_record, delete_record, update_record
from app.web.documents import printable_entities
from app.web.exports import csv_response, export_rows
from app.web.lists import custom_columns, list_page, list_url
from app.web.records import (
    attachment_file,
    audit_changes,
    audit_history,
    audit_trail,
    record_attachments,
)
from app.web.transactions import transaction

LOOKUP_LIMIT = 20


def view_entity(name: str, *, editable: bool = False) -> Entity:
    if name not in ENTITIES or (editable and name not in EDITABLE):
        abort(404)
    return ENTITIES[name]


def require_editor() -> None:
    if not can_edit(current_user):
        abort(403)


@bp.get("/<entity_name>/")
def record_list(entity_name: str):
    entity = view_entity(entity_name)
    return render_template("records/list.html", **list_page(entity, request.args))


@bp.get("/<entity_name>/export.csv")
def record_export(entity_name: str):
    entity = view_entity(entity_name)
    header, rows = export_rows(entity, request.args)
    return csv_response(entity, header, rows)


@bp.get("/<entity_name>/<int:record_id>")
def record_detail(entity_name: str, record_id: int):
    entity = view_entity(entity_name)
    if entity.name == "accounts":
        return redirect(url_for("backoffice.account_360", record_id=record_id))
    record = get_visible_or_404(entity.model, record_id, current_user)
    on_timeline = entity.name in ON_RECORDS
    return render_template(
        "records/detail.html", entity=entity, record=record,
        custom_fields=custom_columns(entity),
        audit=[] if on_timeline else audit_trail(entity.name, record.id),
        timeline=timeline(entity.name, record.id, current_user) if on_timeline else None,
        activity_form=ActivityForm() if on_timeline else None,
        attachments=record_attachments(entity.name, record.id), attachment_form=AttachmentForm(),
        can_edit=can_edit(current_user, record), mail_form=document_mail_form(entity, record),
        signing=signing_panel(entity.name, record))


@bp.route("/<entity_name>/new", methods=["GET", "POST"])
def record_new(entity_name: str):
    entity = view_entity(entity_name, editable=True)
    require_editor()
    fields = definitions(entity.name)
    prefill = {k: request.args.get(k, type=int) for k in ("account", "partner", "order", "deal",
                                                            "quote") if request.args.get(k)}
    form = record_form(entity, fields, request.form if request.method == "POST" else None,
                       data=prefill or None)
    errors: list[str] = []
    if form.validate_on_submit():
        with transaction(form, flash_errors=False) as saved:
            record = create_record(entity, form_to_data(form, entity, fields))
        if saved:
            flash(_("%(entity)s created.", entity=entity.singular), "success")
            return redirect(url_for("backoffice.record_detail", entity_name=entity.name,
                                    record_id=record.id))
        errors = saved.messages
    return render_template("records/form.html", entity=entity, form=form, record=None,
                           custom_fields=fields, errors=errors), 200 if not form.errors else 422


@bp.route("/<entity_name>/<int:record_id>/edit", methods=["GET", "POST"])
def record_edit(entity_name: str, record_id: int):
    entity = view_entity(entity_name, editable=True)
    record = get_visible_or_404(entity.model, record_id, current_user)
    require_editor()
    fields = definitions(entity.name)
    form = record_form(entity, fields, request.form if request.method == "POST" else None,
                       obj=record)
    errors: list[str] = []
    if form.validate_on_submit():
        with transaction(form, flash_errors=False) as saved:
            update_record(record, form_to_data(form, entity, fields), partial=False)
        if saved:
            flash(_("Changes saved."), "success")
            return redirect(url_for("backoffice.record_detail", entity_name=entity.name,
                                    record_id=record.id))
        record = get_visible_or_404(entity.model, record_id, current_user)
        errors = saved.messages
    return render_template("records/form.html", entity=entity, form=form, record=record,
                           custom_fields=fields, errors=errors), 200 if not form.errors else 422


@bp.post("/<entity_name>/<int:record_id>/delete")
def record_delete(entity_name: str, record_id: int):
    entity = view_entity(entity_name, editable=True)
    record = get_visible_or_404(entity.model, record_id, current_user)
    require_editor()
    with transaction(user_errors=True) as saved:
        delete_record(record)
    if not saved:
        return redirect(url_for("backoffice.record_detail", entity_name=entity.name,
                                record_id=record_id))
    flash(_("%(entity)s deleted.", entity=entity.singular), "success")
    return redirect(url_for("backoffice.record_list", entity_name=entity.name))


@bp.get("/lookup/<ref>")
def lookup(ref: str):
    """Suggestions for a related-record field: [{id, label}] matching `q`."""
    if ref not in ENTITIES and not (ref == "users" and current_user.is_staff):
        abort(404)
    model = ref_model(ref)
    column = model.email if ref == "users" else getattr(model, ENTITIES[ref].search[0])
    records = suggestions(model, column, request.args.get("q") or "", current_user,
                          LOOKUP_LIMIT)
    return jsonify([{"id": r.id, "label": ref_label(ref, r)} for r in records])


@bp.post("/<entity_name>/<int:record_id>/attachments")
def attachment_upload(entity_name: str, record_id: int):
    entity = view_entity(entity_name)
    record = get_visible_or_404(entity.model, record_id, current_user)
    require_editor()
    form = AttachmentForm()
    if form.validate_on_submit():
        upload = form.file.data
        with transaction(user_errors=True) as saved:
            add_attachment(record, upload.filename, upload.stream)
        if saved:
            flash(_("File attached."), "success")
    else:
        flash(_("Choose a file."), "danger")
    return redirect(url_for("backoffice.record_detail", entity_name=entity.name,
                            record_id=record_id))


@bp.get("/attachments/<int:attachment_id>/download")
def attachment_download(attachment_id: int):
    return attachment_file(attachment_id)


@bp.post("/attachments/<int:attachment_id>/delete")
def attachment_delete(attachment_id: int):
    attachment = get_visible_or_404(Attachment, attachment_id, current_user)
    require_editor()
    target = url_for("backoffice.record_detail", entity_name=attachment.record_type,
                     record_id=attachment.record_id)
    with transaction():
        delete_attachment(attachment)
    flash(_("File removed."), "success")
    return redirect(target)


bp.add_app_template_global(list_url)
bp.add_app_template_global(audit_changes)
bp.add_app_template_global(printable_entities)
bp.add_app_template_global(audit_history)


@bp.app_template_global()
def editable_entities() -> list[str]:
    return EDITABLE
