"""A run's failing rows as a CSV the tenant fixes and sends back: the original header and
cells (formulas neutralised, as in every CSV Relais writes), plus one column saying what went
wrong (the profile ignores that column), written in the current language: the downloading
user's in the back office and the API (his setting, else his browser's, else the tenant's),
the tenant's default language on the command line."""
from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from app.csv_cells import safe_cell
from app.errors import ValidationError
from app.extensions import db
from app.models import ImportRowError, ImportRun
from app.queries.feeds import definition_at
from app.services.feeds import run_file_path
from importers.archives import is_zip, open_archive, zip_limits
from importers.convert import header_key
from importers.profile import parse_profile
from importers.readers import ReaderError, open_table
from importers.row_messages import error_message
from importers.runs import limits


def _file_layout(run: ImportRun) -> tuple[list[str], str]:
    """The header and delimiter of the run's file, read as the run read it (its profile
    version's worksheet, encoding and delimiter; an archive's metadata file)."""
    try:
        options = parse_profile(definition_at(run.profile, run.profile_version),
                                check_values=False)
        encoding, delimiter, sheet = options.encoding, options.delimiter, options.sheet
        documents = options.documents_column is not None
    except ValidationError:
        encoding, delimiter, sheet, documents = "auto", "auto", None, False
    path, archive = run_file_path(run), None
    try:
        if documents and is_zip(path):  # an archive of documents: its metadata file
            archive = open_archive(path, zip_limits(current_app.config),
                                   Path(current_app.config["FILES_DIR"]) / "tmp")
            path = archive.metadata
        table = open_table(path, encoding=encoding, delimiter=delimiter, limits=limits(),
                           sheet=sheet)
        header, delimiter = table.header, table.delimiter or ";"
        table.close()
        return header, delimiter
    except (ReaderError, OSError):
        return [], ";"
    finally:
        if archive is not None:
            archive.close()


def is_errors_file(header: list[str], mapped: Iterable[str] = ()) -> bool:
    """Whether a file's header has the two columns an errors file adds, in one of the
    languages it is written in (at the end, or moved while the rows were fixed): the file
    is one sent back fixed. A name among the profile's own columns (`mapped`) counts only
    when the header holds it once more."""
    names = Counter(header_key(cell) for cell in header)
    names.subtract(header_key(name) for name in mapped)
    languages = current_app.config["LANGUAGES"]
    return len(header) > 2 and any(
        all(names[header_key(name)] > 0 for name in _tail_in(language))
        for language in languages)


def _tail_in(language: str) -> tuple[str, str]:
    with force_locale(language):
        return _("Line"), _("Error")


_READ = ("line", "column", "message", "message_id", "message_params", "raw")


def stream_errors_csv(run: ImportRun) -> Iterator[str]:
    """The CSV, a piece at a time: the file's layout read now, from the run the view loaded;
    its rows while the response streams, by the run's id alone (the view's session, and the
    run with it, are gone by then)."""
    header, delimiter = _file_layout(run)
    return _csv(run.id, header, delimiter)


def _csv(run_id: int, header: list[str], delimiter: str) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([safe_cell(cell) for cell in (*header, _("Line"), _("Error"))])
    # Plain rows, a thousand at a time: never the whole run in memory, nor 100,000 objects.
    stmt = select(*(getattr(ImportRowError, name) for name in _READ)).where(
        ImportRowError.run_id == run_id).order_by(ImportRowError.line, ImportRowError.id)
    rows = db.session.execute(stmt.execution_options(yield_per=1000))
    for line, errors in groupby(rows, key=lambda e: e.line):
        errors = list(errors)
        raw = list(errors[0].raw or [])
        raw += [""] * (len(header) - len(raw))
        messages = " ; ".join(
            _("%(column)s: %(message)s", column=e.column, message=error_message(e))
            if e.column else error_message(e) for e in errors)
        cells = ("" if cell is None else safe_cell(str(cell)) for cell in raw)
        writer.writerow([*cells, str(line), safe_cell(messages)])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
