"""Reading the PDFs the application serves, as a reader would: text, pages, images."""
from __future__ import annotations

import io
import re

from pypdf import PdfReader

SPACES = str.maketrans({"\u202f": " ", "\xa0": " "})


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text, spaces folded (no-break spaces as plain ones)."""
    assert data.startswith(b"%PDF-"), data[:50]
    reader = PdfReader(io.BytesIO(data))
    return [re.sub(r"\s+", " ", page.extract_text().translate(SPACES)) for page in reader.pages]


def pdf_text(data: bytes) -> str:
    return " ".join(pdf_pages(data))


def pdf_image_count(data: bytes) -> int:
    """How many images the pages draw (a logo is one)."""
    return sum(len(page.images) for page in PdfReader(io.BytesIO(data)).pages)
