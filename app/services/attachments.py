"""Files attached to records, stored by SHA-256 under FILES_DIR/<tenant>/, with their text
(app/document_text.py) folded into their search text, so that the search box finds a CV by a
word it holds."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import IO, Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.utils import secure_filename

from app.document_text import UnreadableDocument, extract_text, media_type_of
from app.entities import ENTITIES, entity_of
from app.errors import ValidationError
from app.extensions import db
from app.models import Account, Attachment
from app.search_text import search_text
from app.services.audit import record_event
from app.services.files import store_stream
from app.tenancy import current_tenant_id

log = logging.getLogger(__name__)


def storage_path(tenant_id: int, sha256: str) -> Path:
    return Path(current_app.config["FILES_DIR"]) / str(tenant_id) / sha256[:2] / sha256


def _extract_text(path: Path, media_type: str) -> str | None:
    """An uploaded file's text; a damaged document is kept all the same, without text."""
    try:
        return extract_text(path, media_type)
    except UnreadableDocument as exc:
        log.info("no text read from %s: %s", path.name, exc)
        return None


def add_attachment(record: Any, file_name: str, stream: IO[bytes]) -> Attachment:
    """Attach an uploaded file to a record."""
    name = secure_filename(file_name or "")[:255]
    if not name:
        raise ValidationError({"file": _("Choose a file.")})
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    tmp, sha256, size = store_stream(stream, limit)
    if size == 0:
        tmp.unlink()
        raise ValidationError({"file": _("The file is empty.")})
    media_type = media_type_of(name)
    final = _keep(tmp, sha256)
    return _create(record, name, media_type, size, sha256, _extract_text(final, media_type))


def attach_document(record: Any, file_name: str, path: Path, *, sha256: str, size: int,
                    text: str | None) -> Attachment | None:
    """Attach a file read by a feed (its text already extracted): a record's file of the
    same name is replaced when its content differs; None when it is the same file."""
    entity = entity_of(record)
    name = secure_filename(file_name or "")[:255] or "document"
    current = db.session.scalars(select(Attachment).where(
        Attachment.record_type == entity.name, Attachment.record_id == record.id,
        Attachment.file_name == name)).all()
    if any(found.sha256 == sha256 for found in current):
        path.unlink(missing_ok=True)
        return None
    for found in current:
        delete_attachment(found)
    _keep(path, sha256)
    return _create(record, name, media_type_of(name), size, sha256, text)


def _keep(path: Path, sha256: str) -> Path:
    """Move a file into the tenant's store, under its hash."""
    final = storage_path(current_tenant_id(), sha256)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, final)
    return final


def _create(record: Any, name: str, media_type: str, size: int, sha256: str,
            text: str | None) -> Attachment:
    entity = entity_of(record)
    account_id = record.id if isinstance(record, Account) else getattr(record, "account_id", None)
    attachment = Attachment(
        record_type=entity.name, record_id=record.id, account_id=account_id, file_name=name,
        media_type=media_type, size=size, sha256=sha256, custom={}, extracted_text=text,
        search_text=search_text(ENTITIES["attachments"],
                                {"file_name": name, "extracted_text": text}))
    db.session.add(attachment)
    db.session.flush()
    record_event("create", "attachments", attachment.id, None,
                 {"file_name": name, "size": size, "sha256": sha256,
                  "record_type": entity.name, "record_id": record.id})
    return attachment


def delete_attachment(attachment: Attachment) -> None:
    """Remove the attachment row; the stored file stays if another row uses the same content."""
    before = {"file_name": attachment.file_name, "sha256": attachment.sha256,
              "record_type": attachment.record_type, "record_id": attachment.record_id}
    attachment_id = attachment.id
    db.session.delete(attachment)
    db.session.flush()
    record_event("delete", "attachments", attachment_id, before, None)
