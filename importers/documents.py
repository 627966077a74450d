"""Rows that bring a document: a profile's `documents` column names, on each row, a file of the
ZIP archive the run received (importers/archives.py); the row's record gets it attached, with
its text extracted for search (app/document_text.py).

The engine calls three hooks: `opened` around the run (the file it reads is the archive's
metadata file), `check` before a batch is written (a row whose document is missing, refused
or unreadable fails alone, with its line, before its record is touched) and `attach` once
the batch is written (each written row's record gets its document; the same file again is
left as it is, a new one of the same name replaces it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.document_text import UnreadableDocument, extract_text, media_type_of
from app.extensions import db
from app.models import ImportRun
from app.services.attachments import ReadDocument, attach_documents
from app.zip_members import MemberError, Refusal
from importers.archives import (
    DOCUMENT_SUFFIXES,
    DocumentArchive,
    archive_note,
    is_zip,
    open_archive,
    refusal_reason,
    zip_limits,
)
from importers.items import Item, Problem
from importers.row_messages import message_parts, run_message
from importers.values import header_key

if TYPE_CHECKING:
    from importers.engine import ImportEngine

NOT_IN_ARCHIVE = _l("The document “%(name)s” is not in the archive.")
REFUSED = _l("The document “%(name)s” was refused: %(reason)s.")
NOT_A_DOCUMENT = _l("“%(name)s” is not a Word, PDF or OpenDocument file (.docx, .pdf, .odt).")
UNREADABLE = _l("The document “%(name)s” cannot be read (damaged or password-protected).")
ATTACHED = _l("Documents attached: %(count)d.")


@contextmanager
def opened(engine: ImportEngine) -> Iterator[Path]:
    """The file the engine reads: the run's own, or its ZIP archive's metadata file (the
    archive checked and its refused members noted)."""
    if engine.profile.documents_column is None:
        yield engine.path
        return
    archive = None
    source = engine.path if is_zip(engine.path) else _archive_of(engine.run.documents_run_id)
    if source is not None:
        work_dir = Path(current_app.config["FILES_DIR"]) / "tmp"
        archive = open_archive(source, zip_limits(current_app.config), work_dir)
    engine.documents = RowDocuments(engine, archive)
    try:
        yield archive.metadata if source == engine.path else engine.path
        engine.documents.finish()
    finally:
        if archive is not None:
            archive.close()


def _archive_of(run_id: int | None) -> Path | None:
    """The ZIP archive of run `run_id`, when it is kept: the documents of an errors file of
    it sent back fixed (app/services/feeds.import_corrected_file)."""
    from app.services.feeds import run_file_path

    run = db.session.get(ImportRun, run_id) if run_id is not None else None
    path = run_file_path(run) if run is not None else None
    return path if path is not None and path.exists() and is_zip(path) else None


class RowDocuments:
    """The documents of one run's rows."""

    def __init__(self, engine: ImportEngine, archive: DocumentArchive | None) -> None:
        self.engine = engine
        self.archive = archive
        self.header = engine.profile.documents_column or ""
        self.index: int | None = None
        self.ready: dict[int, tuple[str, Path, str, int, str | None]] = {}  # by line
        self.attached = 0

    def bind(self, header: list[str]) -> list[str]:
        """Find the documents column in the file's header; the missing one, if it is."""
        wanted = header_key(self.header)
        self.index = next((n for n, name in enumerate(header) if header_key(name) == wanted), None)
        return [self.header] if self.index is None else []

    def check(self, items: list[Item]) -> list[Item]:
        """Unpack and read each row's document; a row whose document fails fails (recorded);
        the rows that may go in."""
        ok = []
        for item in items:
            problem = self._prepare(item)
            if problem is not None:
                item.problems.append(problem)
                self.engine.fail(item)
            else:
                ok.append(item)
        return ok

    def _prepare(self, item: Item) -> Problem | None:
        raw = (
            item.raw[self.index] if self.index is not None and self.index < len(item.raw) else None
        )
        name = str(raw or "").strip()
        if not name:
            return None  # a row without a document goes in without one
        shown = name[:200]
        found = self.archive.find(name) if self.archive is not None else None
        if found is None:
            return Problem(self.header, name, NOT_IN_ARCHIVE, {"name": shown})
        if isinstance(found, Refusal):
            return Problem(self.header, name, REFUSED, {"name": shown, **refusal_reason(found)})
        suffix = PurePosixPath(found.filename).suffix.lower()
        if suffix not in DOCUMENT_SUFFIXES:
            return Problem(self.header, name, NOT_A_DOCUMENT, {"name": shown})
        try:
            path = self.archive.unpack(found)
        except MemberError:
            return Problem(self.header, name, UNREADABLE, {"name": shown})
        try:
            text = extract_text(path, media_type_of(found.filename))
        except UnreadableDocument:
            path.unlink(missing_ok=True)
            return Problem(self.header, name, UNREADABLE, {"name": shown})
        sha256, size = _digest(path)
        file_name = PurePosixPath(found.filename.replace("\\", "/")).name
        self.ready[item.line] = (file_name, path, sha256, size, text)
        return None

    def attach(self, items: list[Item]) -> None:
        """Attach their documents to the records the written rows went into."""
        ready = [
            (item, self.ready.pop(item.line))
            for item in items
            if item.line in self.ready and not item.problems
        ]
        if not ready or self.engine.run.is_dry_run:
            for _item, (_name, path, *_rest) in ready:
                path.unlink(missing_ok=True)
            return
        key_column = self.engine.key_column
        records = {
            str(getattr(record, self.engine.profile.key)): record
            for record in db.session.scalars(
                select(self.engine.model).where(key_column.in_([item.key for item, _doc in ready]))
            )
        }
        found = []
        for item, (file_name, path, sha256, size, text) in ready:
            record = records.get(item.key)
            if record is None:  # refused by the database after all: nothing to attach to
                path.unlink(missing_ok=True)
                continue
            found.append(ReadDocument(record, file_name, path, sha256, size, text))
        self.attached += attach_documents(found)

    def finish(self) -> None:
        """The run's message: documents attached, and the archive's refused members, kept by
        id and values (read in the reader's language)."""
        parts: list[tuple[Any, dict[str, Any]]] = []
        if self.attached:
            parts.append((ATTACHED, {"count": self.attached}))
        if self.archive is not None and (note := archive_note(self.archive)):
            parts.append(note)
        if parts:
            run = self.engine.run
            run.message_id, run.message_params = message_parts(*parts)
            run.message = run_message(run)[:2000]


def _digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
