"""Files attached to records, stored by SHA-256 under FILES_DIR/<tenant>/."""
from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import IO, Any

from flask import current_app
from flask_babel import gettext as _
from werkzeug.utils import secure_filename

from app.entities import entity_of
from app.errors import ValidationError
from app.extensions import db
from app.models import Account, Attachment
from app.services.audit import record_event
from app.services.files import store_stream
from app.tenancy import current_tenant_id

TEXT_LIMIT = 200_000


def storage_path(tenant_id: int, sha256: str) -> Path:
    return Path(current_app.config["FILES_DIR"]) / str(tenant_id) / sha256[:2] / sha256


def _extract_text(path: Path, media_type: str) -> str | None:
    if not media_type.startswith("text/"):
        return None
    raw = path.read_bytes()[:TEXT_LIMIT]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def add_attachment(record: Any, file_name: str, stream: IO[bytes]) -> Attachment:
    """Attach an uploaded file to a record."""
    entity = entity_of(record)
    name = secure_filename(file_name or "")[:255]
    if not name:
        raise ValidationError({"file": _("Choose a file.")})
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    tmp, sha256, size = store_stream(stream, limit)
    if size == 0:
        tmp.unlink()
        raise ValidationError({"file": _("The file is empty.")})
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    final = storage_path(current_tenant_id(), sha256)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    account_id = record.id if isinstance(record, Account) else getattr(record, "account_id", None)
    attachment = Attachment(
        record_type=entity.name, record_id=record.id, account_id=account_id, file_name=name,
        media_type=media_type, size=size, sha256=sha256, custom={},
        extracted_text=_extract_text(final, media_type),
    )
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
