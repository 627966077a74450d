"""A document's PDF in the back office: shown, saved, or e-mailed to the customer."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField

from app.backoffice import bp
from app.documents import PRINTABLE
from app.entities import ENTITIES, Entity
from app.forms import options
from app.policies import can_edit, get_visible_or_404
from app.services.document_mail import send_document
from app.web.documents import pdf_response
from app.web.transactions import transaction


class DocumentMailForm(FlaskForm):
    to = EmailField(_l("To"))
    language = SelectField(_l("Language"), choices=options((("fr", "Français"),
                                                            ("en", "English"))))


def document_mail_form(entity: Entity, record: Any) -> DocumentMailForm | None:
    """The "send by e-mail" form of a printable record the user may change, else None."""
    if entity.name not in PRINTABLE or not can_edit(current_user, record):
        return None
    return DocumentMailForm(data={"to": record.account.email or "",
                                  "language": g.tenant.default_locale})


def _printable(entity_name: str) -> Entity:
    if entity_name not in PRINTABLE:
        abort(404)
    return ENTITIES[entity_name]


@bp.get("/<entity_name>/<int:record_id>/pdf")
def record_pdf(entity_name: str, record_id: int):
    entity = _printable(entity_name)
    return pdf_response(entity, get_visible_or_404(entity.model, record_id, current_user))


@bp.post("/<entity_name>/<int:record_id>/send")
def document_send(entity_name: str, record_id: int):
    entity = _printable(entity_name)
    record = get_visible_or_404(entity.model, record_id, current_user)
    if not can_edit(current_user, record):
        abort(403)
    form = DocumentMailForm()
    target = url_for("backoffice.record_detail", entity_name=entity.name, record_id=record_id)
    if not form.validate_on_submit():
        flash(_("Choose the language of the document."), "danger")
        return redirect(target)
    with transaction(user_errors=True) as saved:
        address = send_document(entity.name, record, form.to.data, form.language.data)
    if saved:
        flash(_("%(entity)s sent to %(email)s.", entity=entity.singular, email=address),
              "success")
    return redirect(target)
