"""The text read from attached documents, and the checks on archive members: pure, no
database."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from reportlab.pdfgen import canvas

from app.document_text import DOCX, PDF, UnreadableDocument, extract_text
from app.feed_schedule import is_valid_cron, last_deadlines
from app.zip_members import ZipLimits, member_refusal
from tests.importers.test_archives import word_file


def test_a_word_file_gives_its_paragraphs_tables_header_and_footer(tmp_path: Path):
    path = tmp_path / "cv.docx"
    path.write_bytes(
        word_file("Chef de chantier", table=[["Permis", "C"]], header="Candidature spontanée")
    )
    text = extract_text(path, DOCX)
    assert text.splitlines() == ["Chef de chantier", "Permis", "C", "Candidature spontanée"]


def test_a_password_protected_pdf_is_unreadable(tmp_path: Path):
    out = io.BytesIO()
    page = canvas.Canvas(out, encrypt="secret")
    page.drawString(72, 720, "confidentiel")
    page.save()
    path = tmp_path / "cv.pdf"
    path.write_bytes(out.getvalue())
    with pytest.raises(UnreadableDocument):
        extract_text(path, PDF)


def test_a_word_file_packing_a_bomb_is_unreadable_before_it_is_parsed(tmp_path: Path):
    path = tmp_path / "bombe.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("word/document.xml", b"<" + b" " * (50 * 1024 * 1024) + b"/>")
    with pytest.raises(UnreadableDocument):
        extract_text(path, DOCX)


@pytest.mark.parametrize(
    "name, refused",
    [
        ("/etc/passwd", True),
        ("\\\\server\\share\\cv.docx", True),
        ("C:\\cv.docx", True),
        ("C:/cv.docx", True),
        ("../cv.docx", True),
        ("cv/../../cv.docx", True),
        ("..\\cv.docx", True),
        ("cv/dupont.docx", False),
        ("cv..final.docx", False),
    ],
)
def test_member_names_out_of_the_archive_are_refused(name: str, refused: bool):
    member = zipfile.ZipInfo(name)
    member.file_size, member.compress_size = 10, 10
    assert (member_refusal(member, ZipLimits()) is not None) is refused


def test_deadlines_follow_the_tenant_time_zone_across_a_clock_change():
    paris = ZoneInfo("Europe/Paris")
    assert is_valid_cron("30 6 * * 1-5") and not is_valid_cron("30 6 * *")
    # Monday 30 March 2026, after the change to summer time: 06:30 in Paris is 04:30 UTC.
    deadline, before = last_deadlines(
        "30 6 * * 1-5", 0, paris, datetime(2026, 3, 30, 5, 0, tzinfo=UTC)
    )
    assert deadline == datetime(2026, 3, 30, 4, 30, tzinfo=UTC)
    assert before == datetime(2026, 3, 27, 5, 30, tzinfo=UTC)  # the Friday, winter time
