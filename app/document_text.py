"""The text of an attached document, for search: Word (.docx: paragraphs, tables, headers and
footers), PDF (each page's text) and OpenDocument (.odt: its paragraphs and headings, those of
its page styles' headers and footers included), plain text files as they are.

Pure: no database, no Flask app. Documents are archives themselves (docx and odt are ZIP
files): their parts are checked like any archive's (app/zip_members.py) before one is parsed,
and reading stops at TEXT_LIMIT characters and MAX_PDF_PAGES pages.
"""

from __future__ import annotations

import mimetypes
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from app.zip_members import ZipLimits, archive_problem, member_refusal

TEXT_LIMIT = 200_000
MAX_PDF_PAGES = 500
# A Word or OpenDocument file's own parts: a CV is a few hundred KB, a report a few MB.
PART_LIMITS = ZipLimits(
    max_members=2_000,
    max_total_bytes=256 * 1024 * 1024,
    max_ratio=100,
    max_member_bytes=128 * 1024 * 1024,
)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
PDF = "application/pdf"
EXTRACTED = {DOCX: "docx", ODT: "odt", PDF: "pdf"}
ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


class UnreadableDocument(Exception):
    """A document whose text cannot be read: damaged, encrypted, or not what its name says."""


def media_type_of(file_name: str) -> str:
    guessed = mimetypes.guess_type(file_name)[0]
    suffix = Path(file_name).suffix.lower()
    return (
        {".docx": DOCX, ".odt": ODT, ".pdf": PDF}.get(suffix)
        or guessed
        or "application/octet-stream"
    )


def extract_text(path: Path, media_type: str) -> str | None:
    """The document's text (None for a kind that has none to read); UnreadableDocument when
    a document of a readable kind cannot be read."""
    kind = EXTRACTED.get(media_type)
    if kind is None:
        return _plain_text(path) if media_type.startswith("text/") else None
    try:
        parts = {"docx": _docx_parts, "odt": _odt_parts, "pdf": _pdf_parts}[kind](path)
        return _joined(parts)
    except UnreadableDocument:
        raise
    except Exception as exc:  # noqa: BLE001 - parsers of damaged files raise anything
        raise UnreadableDocument(str(exc)[:200]) from exc


def _joined(parts: Iterator[str]) -> str:
    out, size = [], 0
    for part in parts:
        text = " ".join(part.split())
        if not text:
            continue
        out.append(text)
        size += len(text) + 1
        if size >= TEXT_LIMIT:
            break
    return "\n".join(out)[:TEXT_LIMIT]


def _plain_text(path: Path) -> str:
    with path.open("rb") as fh:
        raw = fh.read(TEXT_LIMIT)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _checked_package(path: Path) -> None:
    """A docx or odt file's parts, checked before a parser unpacks them."""
    try:
        with zipfile.ZipFile(path) as package:
            members = package.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableDocument("not a ZIP package") from exc
    if archive_problem(members, PART_LIMITS) is not None:
        raise UnreadableDocument("too large once unpacked")
    for member in members:
        refusal = member_refusal(member, PART_LIMITS)
        if refusal is not None:
            raise UnreadableDocument(str(refusal))


# -- Word ----------------------------------------------------------------------------------


def _docx_parts(path: Path) -> Iterator[str]:
    """The body's paragraphs (those of its tables included) in document order, then the
    headers' and footers', parsed by python-docx's XML layer from those parts alone: opening
    the whole package (styles, numbering, theme, settings) would cost three times the
    reading."""
    from docx.oxml.parser import parse_xml

    _checked_package(path)
    with zipfile.ZipFile(path) as package:
        names = package.namelist()
        if "word/document.xml" not in names:
            raise UnreadableDocument("no word/document.xml")
        parts = [
            "word/document.xml",
            *sorted(
                (n for n in names if re.fullmatch(r"word/(header|footer)\d*\.xml", n)),
                key=lambda n: ("footer" in n, n),
            ),
        ]
        for name in parts:
            yield from _paragraph_texts(parse_xml(package.read(name)))


def _paragraph_texts(root: Any) -> Iterator[str]:
    """Each paragraph's text runs (w:t), tabs and breaks as spaces; a paragraph inside a
    text box is read with the one holding it."""
    from docx.oxml.ns import qn

    paragraph, text, tab, brk = qn("w:p"), qn("w:t"), qn("w:tab"), qn("w:br")
    inside = set()
    for element in root.iter(paragraph):
        if element in inside:
            continue
        out = []
        for node in element.iter(text, tab, brk, paragraph):
            if node.tag == text:
                out.append(node.text or "")
            elif node.tag == paragraph:
                inside.add(node)
                out.append(" ")
            else:
                out.append(" ")
        yield "".join(out)


# -- PDF -----------------------------------------------------------------------------------


def _pdf_parts(path: Path) -> Iterator[str]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    if reader.is_encrypted and not reader.decrypt(""):
        raise UnreadableDocument("encrypted")
    for number, page in enumerate(reader.pages):
        if number >= MAX_PDF_PAGES:
            return
        yield page.extract_text() or ""


# -- OpenDocument ----------------------------------------------------------------------------


def _odt_parts(path: Path) -> Iterator[str]:
    _checked_package(path)
    with zipfile.ZipFile(path) as package:
        names = set(package.namelist())
        if "content.xml" not in names:
            raise UnreadableDocument("no content.xml")
        for part in ("content.xml", "styles.xml"):  # styles.xml: the pages' headers, footers
            if part in names:
                root = ElementTree.fromstring(package.read(part))
                yield from _odf_paragraphs(root)


def _odf_paragraphs(element: ElementTree.Element) -> Iterator[str]:
    paragraph = (f"{{{ODF_TEXT}}}p", f"{{{ODF_TEXT}}}h")
    for child in element:
        if child.tag in paragraph:
            yield _odf_text(child)
        else:
            yield from _odf_paragraphs(child)


def _odf_text(element: ElementTree.Element) -> str:
    """A paragraph's text: its spans, spaces (<text:s/>), tabs and line breaks."""
    out = [element.text or ""]
    for child in element:
        tag = child.tag.rpartition("}")[2]
        if tag == "s":
            out.append(" " * min(int(child.get(f"{{{ODF_TEXT}}}c", "1") or 1), 100))
        elif tag in ("tab", "line-break"):
            out.append(" ")
        elif tag != "note":
            out.append(_odf_text(child))
        out.append(child.tail or "")
    return "".join(out)
