"""Streaming readers for tenants' feed files: CSV (any usual encoding and delimiter) and XLSX.

Pure: no database, no Flask app. `open_table()` reads the header at once; `Table.rows()` opens the
file again and yields one `Row` at a time, so no file is ever held in memory whole. Workbooks are
read by importers/workbooks.py, with bounded work whatever the file claims.
"""
from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

from app.csv_cells import FORMULA_START

MB = 1024 * 1024
SNIFF_CHARS = 64 * 1024
SNIFF_RECORDS = 50
DELIMITERS = (";", ",", "\t", "|")  # sniffing preference, best first
DELIMITER_ALIASES = {"tab": "\t", "\\t": "\t"}
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and any password-protected workbook
ZIP_MAGIC = b"PK\x03\x04"

EMPTY_FILE = _l("The file is empty.")
UNDECODABLE = _l("The file cannot be decoded as %(encoding)s.")
RECORD_TOO_LONG = _l("Line %(line)d: a record is longer than %(limit)d characters (a quote left "
                     "open?).")
NOT_A_WORKBOOK = _l("This ZIP file is not a readable Excel workbook (.xlsx).")
TOO_MANY_ROWS = _l("The file has more than %(limit)d rows.")


def message_id(message: Any) -> str:
    """The English msgid of a lazy_gettext string (what a stored error keeps to translate later)."""
    args = getattr(message, "_args", None)  # flask_babel.LazyString keeps its gettext arguments
    return args[0] if args and isinstance(args[0], str) else str(message)


class ReaderError(Exception):
    """A file that cannot be read: a lazy message, its params, and the line when known."""

    def __init__(self, message: Any, *, line: int | None = None, **params: Any) -> None:
        super().__init__(message_id(message), params)
        self.message = message  # lazy_gettext string, rendered with `params` when shown
        self.message_id = message_id(message)
        self.params = params if line is None else {"line": line, **params}
        self.line = line

    def __str__(self) -> str:
        return str(self.message) % self.params


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 500 * MB
    max_rows: int = 5_000_000
    max_field_length: int = 10_000
    max_columns: int = 500
    max_shared_strings: int = 2_000_000  # distinct texts of a workbook, all held in memory
    max_shared_chars: int = 100_000_000

    @property
    def max_record_length(self) -> int:
        """Hard bound on one CSV field or physical line: past it, reading stops (ReaderError)."""
        return max(MB, self.max_columns * (self.max_field_length + 3))


@dataclass(slots=True)
class Row:
    """A data record: `cells` has exactly the header's length ('' or None when empty)."""

    line: int
    cells: list[Any]
    extra_cells: int = 0  # non-empty cells found beyond the header, dropped from `cells`
    long_cells: tuple[int, ...] = ()  # indexes of text cells longer than max_field_length


@dataclass(frozen=True)
class Table:
    path: Path
    kind: str  # "csv" or "xlsx"
    header: list[str]
    header_line: int
    encoding: str | None  # None for xlsx
    delimiter: str | None  # None for xlsx
    limits: Limits
    sheet: str | None = None  # xlsx: the worksheet named by the profile (None: the first)
    # An errors file of Relais sent back fixed: the leading quote its CSV writer put before a
    # cell a spreadsheet would run as a formula (app/csv_cells.py) is taken off again.
    unquote: bool = False

    def rows(self) -> Iterator[Row]:
        """Data rows after the header, lazily; blank rows skipped (but counted against the
        row limit); raises ReaderError."""
        if self.kind == "xlsx":
            return _data_rows(_xlsx_records(self.path, self.sheet, self.limits), self,
                              _blank_values, None)
        records = _csv_records(self.path, self.encoding or "utf-8", self.delimiter or ",",
                               self.limits)
        if self.unquote:
            records = ((line, [unquoted(cell) for cell in cells]) for line, cells in records)
        return _data_rows(records, self, _blank_texts, "")

    def close(self) -> None:
        """Nothing stays open between calls to rows(); kept so callers may release any table."""


def open_table(path: Path | str, *, encoding: str = "auto", delimiter: str = "auto",
               limits: Limits = Limits(), sheet: str | None = None) -> Table:
    """Recognise the file (xlsx or csv, encoding, delimiter) and read its header.

    A workbook is read from the worksheet named `sheet`, else from its first worksheet (tab
    order, hidden ones included, chart sheets skipped); a CSV file ignores `sheet`."""
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ReaderError(_l("The file is larger than %(mb)d MB."), mb=limits.max_bytes // MB)
    if size == 0:
        raise ReaderError(EMPTY_FILE)
    with path.open("rb") as fh:
        magic = fh.read(8)
    if magic.startswith(OLE2_MAGIC):
        raise ReaderError(_l(
            "Excel 97-2003 (.xls) and password-protected workbooks cannot be read: save the file "
            "as .xlsx or CSV."))
    if magic.startswith(ZIP_MAGIC):
        from importers.workbooks import check_archive

        check_archive(path, limits)
        header, line = _read_header(_xlsx_records(path, sheet, limits), _blank_values, limits)
        return Table(path, "xlsx", header, line, None, None, limits, sheet)
    encoding = _resolve_encoding(path, encoding)
    delimiter = _resolve_delimiter(path, encoding, delimiter, limits)
    records = _csv_records(path, encoding, delimiter, limits)
    header, line = _read_header(records, _blank_texts, limits)
    return Table(path, "csv", header, line, encoding, delimiter, limits)


def unquoted(cell: str) -> str:
    """A cell of a CSV Relais wrote, as it was before its formula quote (`'-R1` → `-R1`)."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] and cell[1] in FORMULA_START else cell


# --- Encoding -------------------------------------------------------------------------------

def _latin1_fallback(error: UnicodeError) -> tuple[str, int]:
    """Bytes that the codec cannot decode (0x81, 0x8D… in cp1252) read as latin-1."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start:error.end].decode("latin-1"), error.end


FALLBACK_ERRORS = "relais.latin1"
codecs.register_error(FALLBACK_ERRORS, _latin1_fallback)


def detect_encoding(path: Path) -> str:
    """BOM, else strict UTF-8 over the whole file (streamed), else cp1252: no guessing."""
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"  # Excel's "Unicode text" export
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        try:
            while chunk := fh.read(MB):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def _resolve_encoding(path: Path, encoding: str) -> str:
    if encoding == "auto":
        return detect_encoding(path)
    try:  # TextIOWrapper also refuses codecs that are not text encodings (rot13, zlib…)
        io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    except (LookupError, TypeError, ValueError) as exc:
        raise ReaderError(_l("Unknown encoding “%(encoding)s”."), encoding=str(encoding)) from exc
    # A UTF-8 byte order mark says UTF-8 whatever the profile names: the errors file Relais
    # writes has one, and a Windows-1252 profile takes it back fixed.
    with path.open("rb") as fh:
        if fh.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
    return encoding


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(path.open("rb"), encoding=encoding, errors=FALLBACK_ERRORS,
                            newline=None)  # universal newlines: CRLF, LF and CR all end a line


# --- Delimiter ------------------------------------------------------------------------------

def _resolve_delimiter(path: Path, encoding: str, delimiter: str, limits: Limits) -> str:
    if delimiter != "auto":
        delimiter = DELIMITER_ALIASES.get(delimiter, delimiter)
        if len(delimiter) != 1 or delimiter.isalnum() or delimiter in '"\r\n ':
            raise ReaderError(_l("Unsupported delimiter “%(delimiter)s”."), delimiter=delimiter)
        return delimiter
    try:
        with _open_text(path, encoding) as text:
            sample = text.read(SNIFF_CHARS)
            truncated = bool(text.read(1))
    except UnicodeError as exc:
        raise ReaderError(UNDECODABLE, encoding=encoding) from exc
    csv.field_size_limit(limits.max_record_length)
    return sniff_delimiter(sample.replace("\x00", ""), truncated=truncated)


def sniff_delimiter(sample: str, *, truncated: bool = False) -> str:
    """The candidate whose records all fit the header's column count (>1), by preference.

    Quotes are honoured (csv parses the sample). A record fits when it has at least as many cells
    as the header, and none filled beyond it. With no candidate splitting the header, ','.
    """
    best, best_score, blanks_all = ",", 0.0, None
    for candidate in DELIMITERS:
        counts = _column_counts(sample, candidate, truncated)
        if counts == [] and blanks_all is None and sample.strip():
            blanks_all = candidate  # the file is nothing but this delimiter and spaces
        if not counts or counts[0][1] < 2:
            continue
        width = counts[0][1]
        score = sum(trimmed <= width <= raw for raw, trimmed in counts) / len(counts)
        if score == 1.0:
            return candidate
        if score > best_score:
            best, best_score = candidate, score
    return best if best_score or blanks_all is None else blanks_all


def _column_counts(sample: str, delimiter: str,
                   truncated: bool) -> list[tuple[int, int]] | None:
    """(raw length, length without trailing empty cells) of the sample's first records."""
    counts = []
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
    try:
        for cells in reader:
            trimmed = len(cells)
            while trimmed and not cells[trimmed - 1].strip():
                trimmed -= 1
            if trimmed:
                counts.append((len(cells), trimmed))
            if len(counts) > SNIFF_RECORDS:
                return counts
    except csv.Error:
        return None
    if truncated and len(counts) > 1:
        counts.pop()  # cut by the end of the sample
    return counts


# --- Records --------------------------------------------------------------------------------

def _physical_lines(text: io.TextIOWrapper, bound: int) -> Iterator[str]:
    """The file's lines, each bounded, NUL characters removed (csv and PostgreSQL refuse them)."""
    readline = text.readline
    number = 0
    while line := readline(bound + 1):
        number += 1
        if len(line) > bound:
            raise ReaderError(RECORD_TOO_LONG, line=number, limit=bound)
        yield line.replace("\x00", "")


def _csv_records(path: Path, encoding: str, delimiter: str,
                 limits: Limits) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells) for every record, blank ones included."""
    bound = limits.max_record_length
    csv.field_size_limit(bound)  # process-wide; set before each read, bounded
    with _open_text(path, encoding) as text:
        reader = csv.reader(_physical_lines(text, bound), delimiter=delimiter)
        last = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                message = RECORD_TOO_LONG if "field limit" in str(exc) else _l(
                    "Line %(line)d cannot be read as CSV.")
                raise ReaderError(message, line=last + 1, limit=bound) from exc
            except UnicodeError as exc:  # only a codec without error handlers (idna…)
                raise ReaderError(UNDECODABLE, line=last + 1, encoding=encoding) from exc
            start, last = last + 1, reader.line_num
            yield start, cells


def _xlsx_records(path: Path, sheet: str | None,
                  limits: Limits) -> Iterator[tuple[int, list[Any]]]:
    """(sheet row number, values) for every row the worksheet writes, blank ones included."""
    from importers.workbooks import Workbook

    workbook = Workbook(path, limits)
    try:
        yield from workbook.records(sheet)
    finally:
        workbook.close()


# --- Header and rows ------------------------------------------------------------------------

def _blank_texts(cells: list[str]) -> bool:
    for cell in cells:  # returns at the first cell in practice
        if cell and not cell.isspace():
            return False
    return True


def _blank_values(cells: list[Any]) -> bool:
    for cell in cells:
        if cell is not None and not (isinstance(cell, str) and (not cell or cell.isspace())):
            return False
    return True


def _header_text(value: Any) -> str:
    if value is None:
        return ""
    if getattr(value, "shown", None) is not None:  # a number as its format shows it
        value = value.shown
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, datetime | date | time):
        value = value.isoformat()
    return str(value).replace("\ufeff", "").strip()


def _read_header(records: Iterator[tuple[int, list[Any]]], blank: Callable[[list[Any]], bool],
                 limits: Limits) -> tuple[list[str], int]:
    first = None
    with closing(records):
        for line, cells in records:
            # A workbook's blank and missing rows before its header count, as in _data_rows.
            if blank is _blank_values and line - 1 > limits.max_rows:
                raise ReaderError(TOO_MANY_ROWS, line=line, limit=limits.max_rows)
            if not blank(cells):
                first = line, cells
                break
    if first is None:
        raise ReaderError(EMPTY_FILE)
    line, cells = first
    names = [_header_text(cell) for cell in cells]
    while names and not names[-1]:
        names.pop()
    names = names or [""]  # a header of invisible characters only
    if len(names) > limits.max_columns:
        raise ReaderError(_l("The header has %(count)d columns; at most %(limit)d are allowed."),
                          line=line, count=len(names), limit=limits.max_columns)
    return [name or f"column_{n}" for n, name in enumerate(names, start=1)], line


def _data_rows(records: Iterator[tuple[int, list[Any]]], table: Table,
               blank: Callable[[list[Any]], bool], filler: str | None) -> Iterator[Row]:
    width = len(table.header)
    max_rows = table.limits.max_rows
    max_length = table.limits.max_field_length
    texts = filler == ""  # csv: every cell is a str
    # A workbook's rows count by their numbers, blank and missing ones included: a sheet can
    # number its rows far apart at no cost in size. A CSV file's blank lines are not counted.
    numbered = table.kind == "xlsx"
    count = 0
    header_seen = False
    with closing(records):
        for line, cells in records:
            if not header_seen:
                header_seen = line >= table.header_line and not blank(cells)
                continue
            if numbered and line - table.header_line > max_rows:
                raise ReaderError(TOO_MANY_ROWS, line=line, limit=max_rows)
            if blank(cells):
                continue
            count += 1
            if count > max_rows:
                raise ReaderError(TOO_MANY_ROWS, line=line, limit=max_rows)
            extra = 0
            if len(cells) > width:
                extra = len(cells) - width - sum(blank([c]) for c in cells[width:])
                del cells[width:]
            elif len(cells) < width:
                cells.extend([filler] * (width - len(cells)))
            long_cells: tuple[int, ...] = ()
            if texts:
                if max(map(len, cells)) > max_length:
                    long_cells = tuple(i for i, c in enumerate(cells) if len(c) > max_length)
            else:
                long_cells = tuple(i for i, c in enumerate(cells)
                                   if isinstance(c, str) and len(c) > max_length)
            yield Row(line, cells, extra, long_cells)
