"""CSV rows read in batches and converted column by column (the engine's hot path).

`csv_batches` yields exactly the rows `Table.rows()` yields (same cells, lines, extra cells,
long cells, same errors at the same row), a batch at a time and without a generator per line:
the file is decoded in blocks that csv reads through `chain`. `BatchColumn` converts one column
of a batch with the profile's own converter, taking shortcuts that give the same values: text
stripped as a list, amounts in the usual French and English shapes parsed as a whole column,
other cells remembered by value (dates, statuses, currencies and custom fields repeat).
Amounts come out in cents (an int): what the database comparison and writes need.
"""
from __future__ import annotations

import codecs
import csv
import inspect
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain
from typing import Any

from importers import readers
from importers.convert import Column
from importers.readers import RECORD_TOO_LONG, ReaderError, Table

BLOCK_CHARS = 256 * 1024
# Decoding with the latin-1 fallback never fails for these: reading ahead is safe.
SAFE_ENCODINGS = {"utf-8", "utf-8-sig", "cp1252", "latin-1", "iso8859-1", "iso8859-15",
                  "utf-16", "ascii"}
# Characters str.splitlines breaks on besides "\n" (universal newlines already made \r "\n").
_OTHER_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
MEMO_LIMIT = 50_000  # values remembered per column, then forgotten and remembered again


@dataclass
class RowBatch:
    """Data rows of one batch: line numbers and cells (the header's width), and the rare
    extra and long cells by index in the batch."""

    lines: list[int] = field(default_factory=list)
    cells: list[list[str]] = field(default_factory=list)
    extra: dict[int, int] = field(default_factory=dict)
    long: dict[int, tuple[int, ...]] = field(default_factory=dict)
    # Rows read by their lines (importers/unchanged_lines.py): each row's fingerprint, the
    # rows whose key was seen before (index → first line), and the rows recognised unchanged
    # before this batch, which it does not hold. None: rows read by csv alone.
    digests: list[bytes] | None = None
    repeated: dict[int, int] | None = None
    recognised: int = 0

    def __len__(self) -> int:
        return len(self.lines)


def can_batch(table: Table) -> bool:
    if table.kind != "csv" or not table.encoding or table.unquote:
        return False
    try:
        return codecs.lookup(table.encoding).name in SAFE_ENCODINGS
    except LookupError:
        return False


class _Seen:
    long_line = False  # a physical line longer than max_field_length was read


@dataclass(frozen=True)
class Resume:
    """Where csv_batches starts instead of the file's beginning: past the header, at the
    start of a line (`offset` in bytes, `line` its number), `count` data rows before it."""

    offset: int
    line: int
    count: int


def _line_blocks(text: Any, bound: int, max_length: int, seen: _Seen,
                 number: int = 0) -> Iterator[list[str]]:
    """The file's physical lines, a block at a time, as readers._physical_lines gives them:
    a line longer than `bound` raises when csv reaches it, NULs are dropped after the check.
    `number`: the lines before the first one read."""
    carry = ""
    while True:
        data = text.read(BLOCK_CHARS)
        at_end = not data
        if carry:
            data, carry = carry + data, ""
        if at_end:
            if not data:
                return
            body, lines = data, [data]  # the last line, with no newline
        else:
            cut = data.rfind("\n") + 1
            if cut == 0:  # no complete line yet
                if len(data) > bound:
                    raise ReaderError(RECORD_TOO_LONG, line=number + 1, limit=bound)
                carry = data
                continue
            body, carry = data[:cut], data[cut:]
            lines = body.splitlines(True) if not _OTHER_BREAKS.search(body) else \
                [part + "\n" for part in body.split("\n")[:-1]]
        longest = max(map(len, lines))
        if longest > max_length:
            seen.long_line = True
        if longest > bound:
            first = next(i for i, line in enumerate(lines) if len(line) > bound)
            yield _without_nul(lines[:first])
            raise ReaderError(RECORD_TOO_LONG, line=number + first + 1, limit=bound)
        number += len(lines)
        yield _without_nul(lines) if "\x00" in body else lines
        if at_end:
            return
        if len(carry) > bound:
            raise ReaderError(RECORD_TOO_LONG, line=number + 1, limit=bound)


def _without_nul(lines: list[str]) -> list[str]:
    return [line.replace("\x00", "") for line in lines]


def csv_batches(table: Table, size: int, resume: Resume | None = None) -> Iterator[RowBatch]:
    """Table.rows() of a CSV table, `size` rows at a time (the last batch may be shorter);
    from `resume` on when given."""
    limits = table.limits
    bound = limits.max_record_length
    width, max_rows, max_length = len(table.header), limits.max_rows, limits.max_field_length
    blank = readers._blank_texts
    csv.field_size_limit(bound)
    seen = _Seen()
    before = resume.line - 1 if resume else 0  # lines before the first one read
    with _text(table, resume) as text:
        reader = csv.reader(chain.from_iterable(_line_blocks(text, bound, max_length, seen,
                                                             before)),
                            delimiter=table.delimiter)
        batch = RowBatch()
        lines, rows = batch.lines, batch.cells
        last, count = before, resume.count if resume else 0
        header_seen = resume is not None
        try:
            for cells in reader:
                start, last = last + 1, before + reader.line_num
                if not cells or ((not cells[0] or cells[0].isspace()) and blank(cells)):
                    continue
                if not header_seen:
                    header_seen = True
                    continue
                count += 1
                if count > max_rows:
                    raise ReaderError(readers._l("The file has more than %(limit)d rows."),
                                      line=start, limit=max_rows)
                if len(cells) != width:
                    if len(cells) > width:
                        extra = len(cells) - width - sum(blank([c]) for c in cells[width:])
                        del cells[width:]
                        if extra:
                            batch.extra[len(lines)] = extra
                    else:
                        cells.extend([""] * (width - len(cells)))
                if (seen.long_line or last != start) and max(map(len, cells)) > max_length:
                    batch.long[len(lines)] = tuple(i for i, c in enumerate(cells)
                                                   if len(c) > max_length)
                lines.append(start)
                rows.append(cells)
                if len(lines) >= size:
                    yield batch
                    batch = RowBatch()
                    lines, rows = batch.lines, batch.cells
        except csv.Error as exc:
            message = RECORD_TOO_LONG if "field limit" in str(exc) else readers._l(
                "Line %(line)d cannot be read as CSV.")
            raise ReaderError(message, line=last + 1, limit=bound) from exc
        if lines:
            yield batch


def _text(table: Table, resume: Resume | None) -> io.TextIOWrapper:
    """The file as text (readers._open_text), from `resume` on when given."""
    if resume is None:
        return readers._open_text(table.path, table.encoding)
    raw = table.path.open("rb")
    raw.seek(resume.offset)
    return io.TextIOWrapper(raw, encoding=table.encoding, errors=readers.FALLBACK_ERRORS,
                            newline=None)


# --- Converting a column of a batch ---------------------------------------------------------

Failures = list[tuple[int, Exception]]  # (index in the batch, what the converter raised)


class BatchColumn:
    """One mapped column, converted a batch at a time with the column's own converter."""

    def __init__(self, column: Column, decimal: str) -> None:
        self.column = column
        self.convert_cell = column.convert
        self.text_limit = _text_limit(column.convert)
        self.is_money = _is_money(column.convert)
        self.money = _MONEY_SHAPES.get(decimal) if self.is_money else None
        self.memo: dict[str, Any] | None = None if self.text_limit else {}

    def convert(self, cells: list[str]) -> tuple[list[Any], Failures]:
        """The column's values (money in cents, None where a cell failed) and its failures."""
        if self.text_limit is not None:
            return self._texts(cells)
        if self.money is not None:
            found = _money_column(cells, self.money)
            if found is not None:
                return found, []
            return self._each(cells, self._cents)
        return self._remembered(cells)

    def _texts(self, cells: list[str]) -> tuple[list[Any], Failures]:
        """values.parse_text: stripped, None when empty, an error past the limit."""
        texts = [cell.strip() for cell in cells]
        failures: Failures = []
        if texts and max(map(len, texts)) > self.text_limit:
            for index, text in enumerate(texts):
                if len(text) > self.text_limit:
                    failures.append((index, _raised(self.convert_cell, cells[index])))
                    texts[index] = None
        if "" in texts:
            texts = [text or None for text in texts]
        return texts, failures

    def _cents(self, raw: str) -> int | None:
        match = self.money.cell(raw)
        if match is not None:
            return _cents_of(match)
        value = self.convert_cell(raw)
        return None if value is None else int(value.scaleb(2))

    def _each(self, cells: list[str], convert: Any) -> tuple[list[Any], Failures]:
        values: list[Any] = []
        failures: Failures = []
        append = values.append
        for index, raw in enumerate(cells):
            try:
                append(convert(raw))
            except ValueError as exc:  # InvalidValue included
                append(None)
                failures.append((index, exc))
        return values, failures

    def _remembered(self, cells: list[str]) -> tuple[list[Any], Failures]:
        memo = self.memo
        get = memo.get
        missing = _MISSING
        values = [get(cell, missing) for cell in cells]
        failures: Failures = []
        if missing in values:
            convert = self.convert_cell
            if len(memo) > MEMO_LIMIT:
                memo.clear()
            for index, value in enumerate(values):
                if value is missing:
                    raw = cells[index]
                    try:
                        value = convert(raw)
                    except ValueError as exc:
                        values[index] = None
                        failures.append((index, exc))
                        continue
                    memo[raw] = values[index] = value
        return values, failures


_MISSING = object()


def _raised(convert: Any, raw: Any) -> Exception:
    try:
        convert(raw)
    except ValueError as exc:
        return exc
    raise AssertionError("the converter accepted what the shortcut refused")  # pragma: no cover


def _text_limit(convert: Any) -> int | None:
    """max_length when `convert` is importers.values.parse_text's parser, else None."""
    if getattr(convert, "__qualname__", "") != "parse_text.<locals>.parse" \
            or convert.__module__ != "importers.values":
        return None
    limit = inspect.getclosurevars(convert).nonlocals.get("max_length")
    return limit if isinstance(limit, int) else None


def _is_money(convert: Any) -> bool:
    """True for importers.convert's amount converter (a decimal parser, quantized to cents)."""
    return getattr(convert, "__qualname__", "") == "_money_converter.<locals>.convert" \
        and convert.__module__ == "importers.convert"


# --- Amounts --------------------------------------------------------------------------------
# Only shapes whose meaning is the same under the profile's decimal setting, and that the
# converter parses to at most 12 integer digits (under MONEY_LIMIT): 1234 / 1234,5 /
# 1 234,56 (space, no-break or narrow no-break space, the same throughout) with "," where it
# is the decimal separator, 1,234.56 / 1234.56 with "." where that is. Anything else (signs,
# spaces around, €, three decimals...) goes through the converter itself.

_GROUPS = r"[0-9]{1,3}(?:(?: [0-9]{3}){1,3}|(?:\u00a0[0-9]{3}){1,3}|(?:\u202f[0-9]{3}){1,3})"


@dataclass(frozen=True)
class _MoneyShapes:
    cell: Any  # fullmatch of one cell: groups (whole, fraction)
    column: Any  # fullmatch of a whole column joined by "\n", every cell with two decimals
    separators: str  # characters to drop before int() on a matched column


def _shapes(decimals: str, groups: str) -> _MoneyShapes:
    whole = rf"(?:[0-9]{{1,12}}|{groups})"
    cell = re.compile(rf"({whole})(?:[{decimals}]([0-9]{{1,2}}))?").fullmatch
    two = rf"{whole}[{decimals}][0-9]{{2}}"
    column = re.compile(rf"(?:{two}\n)*{two}").fullmatch
    return _MoneyShapes(cell, column, " \u00a0\u202f,.")


_EN_GROUPS = r"[0-9]{1,3}(?:,[0-9]{3}){1,3}"
_MONEY_SHAPES = {
    # In auto, "1,234" alone is 1.234 (a lone comma is the decimal separator): 1,234 groups
    # only before a decimal point.
    "auto": _shapes(",.", f"(?:{_GROUPS}|{_EN_GROUPS}(?=\\.))"),
    ",": _shapes(",", _GROUPS),
    ".": _shapes(".", f"(?:{_GROUPS}|{_EN_GROUPS})"),
}


def _cents_of(match: Any) -> int:
    whole, fraction = match.group(1), match.group(2)
    if not whole.isdigit():
        whole = whole.replace(" ", "").replace("\u00a0", "").replace("\u202f", "") \
            .replace(",", "")
    cents = int(whole) * 100
    if fraction:
        cents += int(fraction) * (10 if len(fraction) == 1 else 1)
    return cents


def _money_column(cells: list[str], shapes: _MoneyShapes) -> list[int] | None:
    """Every cell of the column in cents when all have the usual two-decimal shape."""
    if not cells:
        return []
    joined = "\n".join(cells)
    if not shapes.column(joined):
        return None
    for char in shapes.separators:
        if char in joined:
            joined = joined.replace(char, "")
    values = list(map(int, joined.split("\n")))
    return values if len(values) == len(cells) else None


def cents_to_decimal(cents: int | None) -> Decimal | None:
    return None if cents is None else Decimal(cents).scaleb(-2)
