"""Documents sent to their customer by e-mail, the PDF attached: until now no mail of Relais
carried a quote or an invoice, and the customer only saw the document if he was handed it."""
from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from app import mail
from app.documents import LANGUAGES, MEDIA_TYPE, document_pdf
from app.errors import ValidationError
from app.extensions import db
from app.i18n import day, money
from app.models import Tenant
from app.services.audit import record_event
from app.services.records import update_record
from app.tenancy import current_tenant_id


def send_document(kind: str, record: Any, to: str | None, language: str) -> str:
    """Mail the record's PDF to `to` (its customer's e-mail when empty) in `language`; return
    the address. A draft quote becomes "sent": the customer may now answer it."""
    address = _address(to or record.account.email)
    language = language if language in LANGUAGES else LANGUAGES[0]
    mail.ensure_configured()
    if kind == "quotes" and record.status == "draft":
        update_record(record, {"status": "sent"}, partial=True)
    tenant = db.session.get(Tenant, current_tenant_id())
    pdf = document_pdf(kind, record, tenant, language)
    with mail.in_language(language):
        message = mail.compose(
            address, _("%(document)s %(number)s — %(name)s", document=pdf.title,
                       number=pdf.number, name=tenant.name),
            "document", sender_name=tenant.name, greeting=_("Hello,"),
            paragraphs=_paragraphs(kind, record, pdf.title, pdf.number),
            signature=tenant.name,
            attachments=[mail.MailAttachment(pdf.filename, pdf.content, MEDIA_TYPE)])
    record_event("document_sent", kind, record.id, None,
                 {"to": address, "file": pdf.filename})
    mail.send(message)
    return address


def _address(raw: str | None) -> str:
    text = (raw or "").strip()
    if not text:
        raise ValidationError({"to": _("The customer has no e-mail address: enter one.")})
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError({"to": _("Enter a valid e-mail address.")}) from exc


def _paragraphs(kind: str, record: Any, title: str, number: str) -> list[str]:
    lines = [_("Please find attached: %(document)s %(number)s.", document=title, number=number)]
    if kind == "quotes" and record.valid_until:
        lines.append(_("Its total is %(total)s incl. tax; it is valid until %(date)s.",
                       total=money(record.total, record.currency), date=day(record.valid_until)))
    elif kind == "invoices" and record.due_on:
        lines.append(_("Its total is %(total)s incl. tax, due on %(date)s.",
                       total=money(record.total, record.currency), date=day(record.due_on)))
    return lines
