"""Reading the PDFs the application serves, as a reader would: text, pages, images."""
from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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


def pyhanko_validation(data: bytes, certificate_pem: str | None = None) -> Any:
    """pyHanko's own validation of the file's last signature, trusting `certificate_pem` or
    else the platform's seal certificate (app/esign.py). pyHanko runs an event loop of its
    own: in a thread of its own, since this one may already run one (Playwright's, after a
    browser test)."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from app import esign

    if certificate_pem:
        root = asn1_x509.Certificate.load(pem.unarmor(certificate_pem.encode())[2])
    else:
        root = load_cert_from_pemder(str(esign.seal_files()[0]))
    signature = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures[-1]
    context = ValidationContext(trust_roots=[root])
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(validate_pdf_signature, signature, context).result()
