"""PDF documents as the back office and the extranet serve them: shown in the browser (and in
the quote's preview frame) or, with `?download=1`, saved; in `?lang=` or the reader's language."""
from __future__ import annotations

import io
from typing import Any

from flask import Response, abort, g, request, send_file
from flask_babel import get_locale
from flask_login import current_user

from app.documents import LANGUAGES, MEDIA_TYPE, PRINTABLE, document_pdf
from app.entities import Entity


def printable_entities() -> tuple[str, ...]:
    """The entities that have a PDF (for the templates)."""
    return PRINTABLE


def reader_language() -> str:
    """`?lang=fr|en` when given, else the language the pages are shown in."""
    asked = request.args.get("lang", "")
    return asked if asked in LANGUAGES else str(get_locale())[:2]


def pdf_response(entity: Entity, record: Any) -> Response:
    """The record's PDF (404 for a kind that has none)."""
    if entity.name not in PRINTABLE:
        abort(404)
    pdf = document_pdf(entity.name, record, g.tenant, reader_language(), current_user)
    response = send_file(io.BytesIO(pdf.content), mimetype=MEDIA_TYPE,
                         as_attachment=request.args.get("download") == "1",
                         download_name=pdf.filename, max_age=0)
    # A customer's document: no shared cache; framed only by this site's own pages.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
    return response
