"""Uploaded files: copied to a temporary file under FILES_DIR while hashed and measured."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO

from flask import current_app
from flask_babel import gettext as _

from app.errors import ValidationError

CHUNK = 1024 * 1024
MB = 1024 * 1024


def too_large(limit: int) -> ValidationError:
    if limit >= MB:
        return ValidationError({"file": _("The file is larger than %(mb)d MB.", mb=limit // MB)})
    return ValidationError({"file": _("The file is larger than %(kb)d KB.",
                                      kb=max(limit // 1024, 1))})


def store_stream(stream: IO[bytes], limit: int) -> tuple[Path, str, int]:
    """(temporary path, SHA-256, size) of the stream's copy; refused past `limit` bytes."""
    root = Path(current_app.config["FILES_DIR"]) / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, name = tempfile.mkstemp(dir=root)
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                out.close()
                os.unlink(name)
                raise too_large(limit)
            digest.update(chunk)
            out.write(chunk)
    return Path(name), digest.hexdigest(), size
