"""The files exports write: CSV for French accounting software (`;`, Windows-1252), CSV in
UTF-8 with a BOM, or an XLSX workbook; one row at a time, in bounded memory.

Windows-1252 cannot hold every character a record may carry (Polish names, emoji, Asian
scripts…). The policy, the same for every export (docs/exports.md): such a character is
replaced, never dropped silently and never a reason to fail the file. Its replacement is its
closest plain form (ő → o, Ł → L, ﬁ → fi, a non-breaking thin space → a space),
otherwise "?". The run counts the cells so changed and names the first of them (line
and column), so that whoever reads the file knows which rows to check.
"""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.csv_cells import safe_cell
from app.values import local_zone

MEDIA_TYPES = {
    "csv_cp1252": "text/csv; charset=windows-1252",
    "csv_utf8": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXTENSIONS = {"csv_cp1252": "csv", "csv_utf8": "csv", "xlsx": "xlsx"}
CHUNK_ROWS = 1000
REPLACEMENTS_NAMED = 20  # the run's message names this many replaced cells
# Letters Unicode does not decompose, written as their base letter (Łódź → Lódz).
PLAIN_LETTERS = str.maketrans(
    {
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Ħ": "H",
        "ħ": "h",
        "ı": "i",
        "ĸ": "k",
        "Ŧ": "T",
        "ŧ": "t",
        "\u2010": "-",
        "\u2011": "-",
        "\u2212": "-",
    }
)


def cp1252_text(text: str) -> str:
    """`text` with each character Windows-1252 lacks replaced (the module's policy)."""
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
            continue
        except UnicodeEncodeError:
            pass
        plain = "".join(
            c
            for c in unicodedata.normalize("NFKD", char.translate(PLAIN_LETTERS))
            if not unicodedata.combining(c)
        )
        try:
            out.append(plain.encode("cp1252").decode("cp1252") if plain else "?")
        except UnicodeEncodeError:
            out.append("?")
    return "".join(out)


def csv_cell(value: Any) -> str:
    """A cell as French spreadsheets and accounting software read it: decimal comma,
    dd/mm/yyyy, oui/non, formulas neutralised (as the list exports)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_cell(value)
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, Decimal | float):
        return format(value, "f").replace(".", ",")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        local = value.astimezone(local_zone()) if value.tzinfo is not None else value
        return local.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, list):
        return safe_cell(", ".join(str(v) for v in value))
    return safe_cell(str(value))


FORMULA_FIRST = "=+-@\t\r"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return safe_cell(value) if value and value[0] in FORMULA_FIRST else value


def _day(value: Any) -> str:
    if value is None:
        return ""
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def _decimal(value: Any) -> str:
    return "" if value is None else format(value, "f").replace(".", ",")


def _int(value: Any) -> str:
    return "" if value is None else str(value)


# A column's cells by its kind (importers/export_rows.column_kinds); "any" asks each value.
CSV_CELLS: dict[str, Callable[[Any], str]] = {
    "text": _text,
    "date": _day,
    "decimal": _decimal,
    "int": _int,
    "written": lambda value: "" if value is None else value,
}


class ExportWriter:
    """Write a header then rows to `path`; `close()` ends the file."""

    def __init__(
        self, path: Path, header: Sequence[str], kinds: Sequence[str] | None = None
    ) -> None:
        self.path = path
        self.header = list(header)
        self.rows = 0
        self.replaced = 0
        self.replaced_cells: list[tuple[int, str]] = []  # (line, column), the first ones

    def write(self, row: Sequence[Any]) -> None:
        raise NotImplementedError

    def write_batch(self, rows: Sequence[Sequence[Any]], skip: int = 0) -> None:
        """Write many rows, each without its first `skip` values (an export's id and
        version)."""
        for row in rows:
            self.write(row[skip:])

    def close(self) -> None:
        raise NotImplementedError

    @property
    def sha256(self) -> str | None:
        """The file's SHA-256 when the writer computed it while writing, else None."""
        return None


class CsvWriter(ExportWriter):
    """`;`-separated, CRLF line ends, in chunks of CHUNK_ROWS rows."""

    def __init__(
        self, path: Path, header: Sequence[str], encoding: str, kinds: Sequence[str] | None
    ) -> None:
        super().__init__(path, header)
        self.encoding = encoding
        kinds = list(kinds or ["any"] * len(header))
        self.cells = [CSV_CELLS.get(kind, csv_cell) for kind in kinds]
        # The fast path: every cell written by the database (None is written empty by the
        # csv module) or text, whose first character alone says whether it needs a quote.
        self.texts = [i for i, kind in enumerate(kinds) if kind == "text"]
        self.fast = all(kind in ("written", "text") for kind in kinds)
        self.stream = path.open("wb")
        self.digest = hashlib.sha256()  # as the bytes go: the file is not read again
        self.buffer = io.StringIO()
        self.csv = csv.writer(self.buffer, delimiter=";", lineterminator="\r\n")
        self.pending: list[list[str]] = []
        if encoding == "utf-8":
            self._write("\ufeff".encode())
        self._emit([[self._fit(csv_cell(h), 1, h) for h in self.header]])

    def write(self, row: Sequence[Any]) -> None:
        self.rows += 1
        if self.fast:
            row = list(row)
            for index in self.texts:
                value = row[index]
                if value and value[0] in FORMULA_FIRST:
                    row[index] = safe_cell(value)
            self.pending.append(row)
        else:
            self.pending.append([cell(v) for cell, v in zip(self.cells, row, strict=True)])
        if len(self.pending) >= CHUNK_ROWS:
            self._flush()

    def write_batch(self, rows: Sequence[Sequence[Any]], skip: int = 0) -> None:
        """The rows at once: on the fast path, the database's text goes to the csv module
        as it came, only the text cells that start like a formula changed."""
        if not self.fast:
            super().write_batch(rows, skip)
            return
        self._flush()
        cells: list[Sequence[Any]] = [row[skip:] for row in rows] if skip else list(rows)
        for index in self.texts:
            for number, row in enumerate(cells):
                value = row[index]
                if value and value[0] in FORMULA_FIRST:
                    fixed = list(row)
                    fixed[index] = safe_cell(value)
                    cells[number] = fixed
        self.rows += len(cells)
        if cells:
            self._emit(cells, first_line=self.rows - len(cells) + 2)

    def write_copied(self, rows: int, data: bytes) -> None:
        """`rows` lines the database wrote (UTF-8, as the csv module writes them): kept as
        they came, or encoded to Windows-1252; a chunk holding a character it lacks is read
        back and written cell by cell, with the replacement policy."""
        self._flush()
        first_line = self.rows + 2
        self.rows += rows
        if self.encoding == "utf-8" or data.isascii():  # ASCII: the same bytes in cp1252
            self._write(data)
            return
        text = data.decode("utf-8")
        try:
            self._write(text.encode(self.encoding))
        except UnicodeEncodeError:
            cells = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
            self._emit(cells, first_line=first_line)

    def _flush(self) -> None:
        if self.pending:
            self._emit(self.pending, first_line=self.rows - len(self.pending) + 2)
            self.pending = []

    def _emit(self, rows: list[list[str]], first_line: int = 1) -> None:
        self.csv.writerows(rows)
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        try:
            self._write(text.encode(self.encoding))
        except UnicodeEncodeError:  # a character cp1252 lacks: fix those rows' cells
            fixed = [
                [
                    self._fit(
                        cell,
                        first_line + offset,
                        self.header[index] if index < len(self.header) else str(index + 1),
                    )
                    for index, cell in enumerate(row)
                ]
                for offset, row in enumerate(rows)
            ]
            self.csv.writerows(fixed)
            text = self.buffer.getvalue()
            self.buffer.seek(0)
            self.buffer.truncate()
            self._write(text.encode(self.encoding))

    def _write(self, data: bytes) -> None:
        self.digest.update(data)
        self.stream.write(data)

    def _fit(self, cell: str, line: int, column: str) -> str:
        if self.encoding != "cp1252" or not isinstance(cell, str):  # None: an empty cell
            return cell
        fitted = cp1252_text(cell)
        if fitted != cell:
            self.replaced += 1
            if len(self.replaced_cells) < REPLACEMENTS_NAMED:
                self.replaced_cells.append((line, column))
        return fitted

    def close(self) -> None:
        self._flush()
        self.stream.close()

    @property
    def sha256(self) -> str | None:
        return self.digest.hexdigest()


class XlsxWriter(ExportWriter):
    """One sheet, written as it goes (openpyxl's write-only mode): numbers and dates as such."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        from openpyxl import Workbook  # loaded by the XLSX exports only
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        super().__init__(path, header)
        self.new_cell, self.illegal = WriteOnlyCell, ILLEGAL_CHARACTERS_RE
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet("Export")
        self.sheet.append([self._cell(h) for h in self.header])

    def _cell(self, value: Any) -> Any:
        if isinstance(value, datetime):
            local = value.astimezone(local_zone()) if value.tzinfo is not None else value
            cell = self.new_cell(self.sheet, value=local.replace(tzinfo=None))
            cell.number_format = "DD/MM/YYYY HH:MM"
            return cell
        if isinstance(value, date):
            cell = self.new_cell(self.sheet, value=value)
            cell.number_format = "DD/MM/YYYY"
            return cell
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if isinstance(value, str):
            # Text stays text: a cell starting with = is not a formula here.
            cell = self.new_cell(self.sheet, value=self.illegal.sub("", value))
            cell.data_type = "s"
            return cell
        return value

    def write(self, row: Sequence[Any]) -> None:
        self.rows += 1
        self.sheet.append([self._cell(v) for v in row])

    def close(self) -> None:
        self.book.save(self.path)


def open_writer(
    fmt: str, path: Path, header: Sequence[str], kinds: Sequence[str] | None = None
) -> ExportWriter:
    makers: dict[str, Callable[[], ExportWriter]] = {
        "csv_cp1252": lambda: CsvWriter(path, header, "cp1252", kinds),
        "csv_utf8": lambda: CsvWriter(path, header, "utf-8", kinds),
        "xlsx": lambda: XlsxWriter(path, header),
    }
    return makers[fmt]()
