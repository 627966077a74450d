"""Files attached to records, stored by SHA-256 under FILES_DIR/<tenant>/, with their text
(app/document_text.py) folded into their search text, so that the search box finds a CV by a
word it holds."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
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
from app.services.audit import audit_row, record_event
from app.services.files import store_stream
from app.services.record_batches import RecordWriter
from app.services.record_rules import chunks
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


@dataclass(frozen=True)
class ReadDocument:
    """A file a feed brought for a record: unpacked to `path`, hashed, its text read."""

    record: Any
    file_name: str
    path: Path
    sha256: str
    size: int
    text: str | None


def attach_documents(documents: list[ReadDocument]) -> int:
    """Attach files read by a feed, through the batch writer of records: a record's file of
    the same name is replaced when its content differs, kept when it is the same; how many
    were attached."""
    if not documents:
        return 0
    entity = entity_of(documents[0].record)
    current: dict[tuple[int, str], list[Attachment]] = {}
    for chunk in chunks(sorted({d.record.id for d in documents})):
        for found in db.session.scalars(select(Attachment).where(
                Attachment.record_type == entity.name, Attachment.record_id.in_(chunk))):
            current.setdefault((found.record_id, found.file_name), []).append(found)
    writer = RecordWriter(ENTITIES["attachments"])
    now = datetime.now(UTC)
    audits = []
    for document in documents:
        name = secure_filename(document.file_name or "")[:255] or "document"
        same_name = current.pop((document.record.id, name), [])
        if any(found.sha256 == document.sha256 for found in same_name):
            document.path.unlink(missing_ok=True)
            continue
        for found in same_name:
            delete_attachment(found)
        _keep(document.path, document.sha256)
        record = document.record
        row = {"record_type": entity.name, "record_id": record.id,
               "account_id": record.id if isinstance(record, Account)
               else getattr(record, "account_id", None),
               "file_name": name, "media_type": media_type_of(name), "size": document.size,
               "sha256": document.sha256, "extracted_text": document.text, "custom": {},
               "created_at": now, "updated_at": now}
        attachment_id = writer.create_one(row)
        audits.append(audit_row("create", "attachments", attachment_id, None, {
            "file_name": name, "size": document.size, "sha256": document.sha256,
            "record_type": entity.name, "record_id": record.id}, now))
    writer.audit(audits)
    return len(audits)


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


def attach_stored(record: Any, file_name: str, sha256: str) -> Attachment | None:
    """Attach again a file the tenant's store still holds (by its hash), as it was named;
    None when the store no longer has it (erased since)."""
    path = storage_path(current_tenant_id(), sha256)
    if not path.is_file():
        return None
    media_type = media_type_of(file_name)
    return _create(record, file_name, media_type, path.stat().st_size, sha256,
                   _extract_text(path, media_type))


def delete_attachment(attachment: Attachment) -> None:
    """Remove the attachment row; the stored file stays if another row uses the same content."""
    before = {"file_name": attachment.file_name, "sha256": attachment.sha256,
              "record_type": attachment.record_type, "record_id": attachment.record_id}
    attachment_id = attachment.id
    db.session.delete(attachment)
    db.session.flush()
    record_event("delete", "attachments", attachment_id, before, None)
