"""Printed documents: quotes, orders, invoices, delivery notes and contracts as PDF.

One layout for all of them (app/documents/layout.py), filled per kind (content.py), in the
tenant's colour and with its logo and legal mentions, in the reader's language. A PDF is
rendered on demand from the record as it stands, never stored: what is downloaded, previewed
or mailed is the record of that moment. Every face (back office, extranet, API, mail) calls
`document_pdf` after loading the record through the visibility rules.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app.documents.content import KINDS, Sees, printout
from app.documents.layout import render
from app.extensions import db
from app.mail import in_language
from app.models import Tenant
from app.policies import visible
from app.services.attachments import storage_path
from app.services.tenant_settings import COLOR, DEFAULT_COLOR

PRINTABLE = tuple(KINDS)
LANGUAGES = ("fr", "en")
MEDIA_TYPE = "application/pdf"


@dataclass(frozen=True)
class PdfFile:
    filename: str
    content: bytes
    title: str  # "Facture", in the document's language
    number: str


def document_pdf(kind: str, record: Any, tenant: Tenant, language: str,
                 reader: Any = None) -> PdfFile:
    """The PDF of `record` (an entity of PRINTABLE) in `language` ("fr" or "en"), as `reader`
    (a user or a token's principal; None for staff's own mail) may read it: a related record
    he may not see (a customer, an order) is not named, as on the record's page."""
    with in_language(language if language in LANGUAGES else LANGUAGES[0]):
        doc = printout(kind, record, tenant, _seer(reader))
        name = _file_stem(doc.title, doc.number)
    color = tenant.portal_color if tenant.portal_color and COLOR.fullmatch(tenant.portal_color) \
        else DEFAULT_COLOR
    logo = storage_path(tenant.id, tenant.logo_sha256) if tenant.logo_sha256 else None
    return PdfFile(f"{name}.pdf", render(doc, color=color, logo=logo), doc.title, doc.number)


def _seer(reader: Any) -> Sees:
    if reader is None:
        return lambda model, record_id: True

    def sees(model: type, record_id: int | None) -> bool:
        if record_id is None:
            return False
        stmt = visible(select(model.id).where(model.id == record_id), model, reader)
        return db.session.scalar(stmt) is not None

    return sees


def _file_stem(title: str, number: str) -> str:
    """"facture-F2026-001": ASCII letters, digits, dots and dashes only."""
    ascii_text = unicodedata.normalize("NFKD", f"{title}-{number}").encode("ascii", "ignore")
    return re.sub(r"[^A-Za-z0-9.-]+", "-", ascii_text.decode()).strip("-.").lower() or _(
        "document")
