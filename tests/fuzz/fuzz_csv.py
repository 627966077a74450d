"""Any bytes as a tenant's CSV file: encoding and delimiter detected or pinned (to any codec a
profile may name), read by the reader (`Table.rows()`) and by the engine's batched reader
(`csv_batches`), which must give the same rows and the same error at the same line.

Input: a choice byte for the encoding, one for the delimiter, one for the limits, then the file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import atheris

with atheris.instrument_imports(include=["importers.readers", "importers.csv_columns"]):
    from importers import readers
    from importers.csv_columns import can_batch, csv_batches

from tests.fuzz.common import pick, scratch

# What profiles name (auto, the usual ones) and codecs that are no usual text encoding.
ENCODINGS = ["auto", "utf-8", "cp1252", "latin-1", "utf-16", "utf-8-sig", "utf-32", "utf-7",
             "idna", "undefined", "rot13", "ascii", "mac-roman", "iso8859-15", "punycode"]
DELIMITERS = ["auto", ";", ",", "\t", "|", "tab", "::", "a", '"']


@dataclass(frozen=True)
class ShortRecords(readers.Limits):
    """Limits whose record bound a small input can pass (the real one is at least 1 MB)."""

    @property
    def max_record_length(self) -> int:
        return 40


LIMITS = [readers.Limits(max_bytes=2 * 1024 * 1024, max_rows=2_000, max_field_length=1_000,
                         max_columns=100),
          readers.Limits(max_rows=5, max_field_length=8, max_columns=4),
          ShortRecords(max_rows=50, max_field_length=10, max_columns=10)]


def _rows(table: readers.Table) -> tuple[list[tuple[Any, ...]], tuple[str, Any] | None]:
    rows = []
    try:
        for row in table.rows():
            assert len(row.cells) == len(table.header)
            rows.append((row.line, row.cells, row.extra_cells, row.long_cells))
    except readers.ReaderError as exc:
        return rows, (exc.message_id, exc.line)
    return rows, None


def _batched(table: readers.Table, size: int) -> tuple[list[tuple[Any, ...]],
                                                       tuple[str, Any] | None]:
    rows = []
    try:
        for batch in csv_batches(table, size):
            for index, line in enumerate(batch.lines):
                rows.append((line, batch.cells[index], batch.extra.get(index, 0),
                             batch.long.get(index, ())))
    except readers.ReaderError as exc:
        return rows, (exc.message_id, exc.line)
    return rows, None


def fuzz(data: bytes) -> None:
    if len(data) < 3:
        return
    path = scratch / "feed.csv"
    path.write_bytes(data[3:])
    try:
        table = readers.open_table(path, encoding=pick(ENCODINGS, data[0]),
                                   delimiter=pick(DELIMITERS, data[1]),
                                   limits=pick(LIMITS, data[2]))
    except readers.ReaderError as exc:
        str(exc)  # the message renders with its parameters
        return
    rows, error = _rows(table)
    if not can_batch(table):
        return
    size = 1 if data[2] % 2 else 3
    batched, batch_error = _batched(table, size)
    # A batch cut by an error is not yielded: the rows read before it are a prefix.
    assert batch_error == error, (batch_error, error)
    if error is None or size == 1:
        assert batched == rows, (batched, rows)
    else:
        assert batched == rows[:len(batched)], (batched, rows)
