"""A feed's ZIP archive of documents: one metadata file (CSV or TXT, read as the profile reads a
CSV file) and the documents its rows name (Word, PDF, OpenDocument).

Nothing is unpacked before every member is checked (app/zip_members.py): the whole archive is
refused when it holds too many members or unpacks to too much; a member with a dangerous name
(an absolute path, `..`), a symbolic link, an encrypted member or one packed too well is
refused alone, named in the run's message, and a row naming it fails with the reason. The
metadata file and each document are copied into a private folder under names chosen here,
never the member's own path.
"""

from __future__ import annotations

import shutil
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from flask_babel import lazy_gettext as _l

from app.zip_members import (
    UNREADABLE,
    MemberError,
    Refusal,
    ZipLimits,
    archive_problem,
    copy_member,
    is_directory,
    member_refusal,
)
from importers.readers import ReaderError, message_id

METADATA_SUFFIXES = (".csv", ".txt")
DOCUMENT_SUFFIXES = (".docx", ".pdf", ".odt")
NOT_AN_ARCHIVE = _l("The file is not a readable ZIP archive.")
NO_METADATA = _l("The archive holds no metadata file (.csv or .txt).")
SEVERAL_METADATA = _l("The archive holds several metadata files (%(names)s): send one.")
METADATA_REFUSED = _l("The metadata file “%(name)s” was refused: %(reason)s.")
MEMBER_REFUSED = _l("“%(name)s” was refused: %(reason)s.")
FILES_REFUSED = _l("Files of the archive refused: %(notes)s")
NOTES_KEPT = 20  # refused members named in a run's message


def is_zip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def fold_name(name: str) -> str:
    """A document's name as rows and members are matched: case and accents aside, `\\` as
    `/`, surrounding spaces dropped."""
    text = unicodedata.normalize("NFKD", name.replace("\\", "/").strip())
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


@dataclass
class DocumentArchive:
    """An opened archive: its metadata file unpacked, its documents found by name."""

    path: Path
    folder: Path
    metadata: Path
    metadata_name: str
    members: dict[str, zipfile.ZipInfo] = field(default_factory=dict)  # folded path → member
    by_base: dict[str, list[zipfile.ZipInfo]] = field(default_factory=dict)  # folded base name
    refused: dict[str, Refusal] = field(default_factory=dict)  # folded path → why
    _zip: zipfile.ZipFile | None = None
    _count: int = 0

    def find(self, name: str) -> zipfile.ZipInfo | Refusal | None:
        """The member a row names: by its path in the archive, else by its file name when
        one member alone has it; a refused member's reason; None when there is none."""
        wanted = fold_name(name)
        if wanted in self.refused:
            return self.refused[wanted]
        if wanted in self.members:
            return self.members[wanted]
        same = self.by_base.get(PurePosixPath(wanted).name, [])
        if len(same) == 1:
            return same[0]
        refused = [
            r
            for key, r in self.refused.items()
            if PurePosixPath(key).name == PurePosixPath(wanted).name
        ]
        return refused[0] if len(refused) == 1 and not same else None

    def unpack(self, member: zipfile.ZipInfo) -> Path:
        """Copy a document out, under a name of our own (MemberError when damaged)."""
        assert self._zip is not None
        self._count += 1
        target = self.folder / f"doc-{self._count}{PurePosixPath(member.filename).suffix[:10]}"
        with target.open("wb") as out:
            copy_member(self._zip, member, out)
        return target

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def notes(self) -> list[tuple[Any, dict[str, Any]]]:
        """The refused members, one sentence each: its message and values (the reason kept
        by its id too, read in the reader's language)."""
        return [(MEMBER_REFUSED, {"name": r.member[:200], **refusal_reason(r)})
                for r in list(self.refused.values())[:NOTES_KEPT]]


def open_archive(path: Path, limits: ZipLimits, work_dir: Path) -> DocumentArchive:
    """Check the archive and unpack its metadata file; ReaderError when the whole archive
    is refused."""
    try:
        archive = zipfile.ZipFile(path)
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ReaderError(NOT_AN_ARCHIVE) from exc
    try:
        problem = archive_problem(members, limits)
        if problem is not None:
            raise ReaderError(problem[0], **problem[1])
        work_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="archive-", dir=work_dir))
        opened = DocumentArchive(path, folder, folder / "metadata", "", _zip=archive)
        metadata = _sort_members(opened, members, limits)
        try:
            _unpack_metadata(opened, metadata)
        except BaseException:
            opened.close()
            raise
        return opened
    except BaseException:
        archive.close()
        raise


def _sort_members(
    opened: DocumentArchive, members: list[zipfile.ZipInfo], limits: ZipLimits
) -> list[zipfile.ZipInfo]:
    """Refused members noted, documents indexed; the metadata files found."""
    metadata = []
    for member in members:
        if is_directory(member) or _is_clutter(member.filename):
            continue
        key = fold_name(member.filename)
        refusal = member_refusal(member, limits)
        if refusal is not None:
            opened.refused[key] = refusal
            continue
        suffix = PurePosixPath(key).suffix
        if suffix in METADATA_SUFFIXES:
            metadata.append(member)
            continue
        opened.members[key] = member
        opened.by_base.setdefault(PurePosixPath(key).name, []).append(member)
    return metadata


def _unpack_metadata(opened: DocumentArchive, metadata: list[zipfile.ZipInfo]) -> None:
    refused_metadata = [
        r for key, r in opened.refused.items() if PurePosixPath(key).suffix in METADATA_SUFFIXES
    ]
    if not metadata and refused_metadata:
        first = refused_metadata[0]
        raise ReaderError(METADATA_REFUSED, name=first.member[:200], **refusal_reason(first))
    if not metadata:
        raise ReaderError(NO_METADATA)
    if len(metadata) > 1:
        raise ReaderError(SEVERAL_METADATA, names=", ".join(m.filename[:100] for m in metadata[:5]))
    member = metadata[0]
    opened.metadata_name = member.filename
    try:
        with opened.metadata.open("wb") as out:
            copy_member(opened._zip, member, out)
    except MemberError as exc:
        raise ReaderError(METADATA_REFUSED, name=member.filename[:200], **refusal_reason(
            Refusal(member.filename, UNREADABLE, {}))) from exc


def _is_clutter(name: str) -> bool:
    """What archivers add beside the files: macOS resource forks, Windows thumbnails."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return any(p == "__MACOSX" for p in parts) or (
        bool(parts) and (parts[-1].startswith("._") or parts[-1] in (".DS_Store", "Thumbs.db"))
    )


def zip_limits(config: Any) -> ZipLimits:
    return ZipLimits(
        max_members=int(config["IMPORT_ZIP_MAX_MEMBERS"]),
        max_total_bytes=int(config["IMPORT_ZIP_MAX_BYTES"]),
        max_ratio=int(config["IMPORT_ZIP_MAX_RATIO"]),
        max_member_bytes=int(config["IMPORT_MAX_BYTES"]),
    )


def archive_note(opened: DocumentArchive) -> tuple[Any, dict[str, Any]] | None:
    """The run's sentence on the archive's refused members, as a message and its values."""
    notes = opened.notes
    if not notes:
        return None
    return FILES_REFUSED, {"notes": notes}


def refusal_reason(refusal: Refusal) -> dict[str, Any]:
    """A refusal as a message's `reason`: its text, and its id and values to read it in the
    reader's language (importers/row_messages.py)."""
    return {"reason": str(refusal), "reason_id": message_id(refusal.message),
            "reason_params": refusal.params}
