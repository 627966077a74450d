"""Rows of a nightly CSV file recognised unchanged by the bytes of their line, a block at a
time, at about the cost of reading the file.

Where a block of the file (a few MB, cut at a line's end) holds no quote character, no NUL,
no carriage return but before a line feed and no line longer than a cell may be, each of its
lines is one record whose cells are its bytes cut at the delimiter. A row's fingerprint is
then a BLAKE2b digest of its line's bytes, salted with the profile's salt
(importers/fingerprints.py) and with what decides how those bytes are read: the file's
encoding, delimiter and header. Per block, by loops that run in C: the lines are split and
hashed, their keys taken by one regular expression and noted in the run's key log (full sync
sees every key, a repeated key is found as before), and their digests looked up in those
stored on the live records of the block's key range (one statement returning one value).
The usual night, a block whose lines are, in order, the records of its range: one statement
returns their digests joined and the range's least and greatest key, the block is found
unchanged by one comparison and noted as a range by its ends; no key is read from the lines
or sent back (the key log reads them again from the file if a key noted later falls in the
range).
Only the lines not recognised are decoded and read by csv, and go through the column path
(importers/column_import.py), whose records take their line's fingerprint when written or
found equal.

The first block that does not qualify ends this reading: the rest of the file is read by
csv_batches from that line on, its rows fingerprinted by their cells as before.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Iterator
from functools import partial
from itertools import compress
from operator import not_
from typing import TYPE_CHECKING

from importers import readers
from importers.csv_columns import Resume, RowBatch, csv_batches
from importers.readers import Table

if TYPE_CHECKING:
    from importers.column_import import ColumnImport

BLOCK_BYTES = 2 * readers.MB
LINE_FORMAT = 1  # raise when what a line's digest covers changes
DIGEST = 16  # bytes of a digest
# Encodings where a line feed, a carriage return, a quote, NUL and the delimiter are single
# bytes that no other character's bytes contain.
ENCODINGS = {"utf-8", "utf-8-sig", "cp1252", "latin-1", "iso8859-1", "iso8859-15", "ascii"}
# Rows of blocks found unchanged given as one batch: each batch saves the run's progress (a
# commit) and collects garbage.
PENDING_ROWS = 100_000
_LONE_CR = re.compile(rb"\r(?!\n)").search  # a carriage return not before a line feed


def applies(table: Table) -> bool:
    if table.kind != "csv" or not table.encoding or not table.delimiter:
        return False
    try:
        name = codecs.lookup(table.encoding).name
    except LookupError:
        return False
    return name in ENCODINGS and table.delimiter.isascii()


def line_salt(salt: bytes, table: Table) -> bytes:
    """The profile's salt with what turns a line's bytes into cells."""
    text = json.dumps(["lines", LINE_FORMAT, salt.hex(), codecs.lookup(table.encoding).name,
                       table.delimiter, table.header], ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def batches(table: Table, size: int, importer: ColumnImport, salt: bytes) -> Iterator[RowBatch]:
    """The rows of the file not recognised unchanged, `size` at most a batch, each with its
    line's fingerprint and the rows recognised before it; csv_batches past the first block
    that is not read by its lines."""
    reader = _LineReader(table, importer, line_salt(salt, table))
    with table.path.open("rb") as file:
        data = file.read(BLOCK_BYTES)
        carry = b""
        while data:
            block = carry + data
            data = file.read(BLOCK_BYTES)
            cut = block.rfind(b"\n") + 1
            lines = reader.lines(block, cut)
            if lines is None:
                break
            carry = block[cut:]
            yield from reader.block(lines, size)
        else:
            if not carry:
                yield from reader.flush()
                return
    yield from reader.flush()
    # The rest of the file (or all of it) as csv reads it; with its first block, when it
    # holds the header, from the file's beginning.
    yield from csv_batches(table, size, reader.resume if reader.line else None)


class _LineReader:
    def __init__(self, table: Table, importer: ColumnImport, salt: bytes) -> None:
        self.table, self.importer = table, importer
        self.engine, self.bulk = importer.engine, importer.bulk
        self.encoding, self.delimiter = table.encoding, table.delimiter
        self.width = len(table.header)
        self.max_length = table.limits.max_field_length
        self.max_rows = table.limits.max_rows
        key = importer.columns[importer.key_at]
        self.key_index, self.key_limit = key.column.index, key.text_limit
        separator = re.escape(table.delimiter)
        cell = f"[^{separator}\\n]*"
        self.keys_of = re.compile(f"^(?:{cell}{separator}){{{self.key_index}}}({cell})",
                                  re.MULTILINE).findall
        self.hash = hashlib.blake2b(digest_size=16, salt=salt)
        self.offset = 0  # bytes read by lines
        self.line = 0  # lines read by lines (the header's included), 0 before the first block
        self.count = 0  # data rows read by lines
        self.pending = 0  # rows of blocks found unchanged not yet given in a batch
        # Whether the next block is first compared by its range's ends (`_unchanged`): None
        # for the rest of the run once a range could not be noted by its ends.
        self.by_ends: bool | None = True

    @property
    def resume(self) -> Resume:
        return Resume(self.offset, self.line + 1, self.count)

    def lines(self, block: bytes, cut: int) -> list[bytes] | None:
        """The lines of the block up to `cut` (the header's too in the first one), when
        they can be read by their lines; else None."""
        if cut == 0 or b'"' in block or b"\x00" in block:
            return None
        if b"\r" in block and _LONE_CR(block, 0, cut):  # one scan, not two counts
            return None
        body = block[:cut] if cut < len(block) else block
        lines = body.split(b"\n")
        lines.pop()  # after the last line feed
        if self.count + len(lines) > self.max_rows or max(map(len, lines)) > self.max_length \
                or (self.line == 0 and len(lines) < self.table.header_line):
            return None  # csv says where the limit is passed or which cell is too long
        return lines

    def block(self, lines: list[bytes], size: int) -> Iterator[RowBatch]:
        start = self.offset  # the block's first byte in the file
        self.offset += sum(map(len, lines)) + len(lines)
        first = self.line + 1
        self.line += len(lines)
        if first == 1:  # the first block: the header and the blank lines before it
            skip = self.table.header_line
            start += sum(map(len, lines[:skip])) + skip
            lines, first = lines[skip:], skip + 1
        if not lines:
            return
        digests = self._digests(lines)
        if self.by_ends and self._unchanged(lines, digests, first, start):
            self.count += len(lines)
            self.pending += len(lines)
            if self.pending >= PENDING_ROWS:
                yield from self.flush()
            return
        numbers = range(first, first + len(lines))
        found = self._stored(lines)
        keys: list[str | None] | None = None
        same: list[bool] | None = None
        repeated: dict[int, int] = {}
        if found is not None:
            stored = found[0]
            if stored == b"".join(digests):
                # Every line, in order, is the one that made its record, and the records of
                # the range are all there; no key to read from the lines.
                same = [True] * len(lines)
                if self.by_ends is False:  # the next block by its range's ends again
                    self.by_ends = True
            else:  # compared in place: each line with the record of its rank in the range
                same = [stored[at:at + DIGEST] == digest for at, digest in zip(
                    range(0, len(stored), DIGEST), digests, strict=True)]
                # A line equal to its record's digest has its key; the others are read.
                other = [at for at, equal in enumerate(same) if not equal]
                read = self._keys(b"\n".join([lines[at] for at in other]), len(other))
                if read != [found[1][at] for at in other]:
                    same = None  # not the same records: key by key
            if same is not None:
                keys = found[1]
        if same is not None and self.engine.note_range(keys, found[2], first):
            pass  # every key noted with its range (none seen before)
        else:
            if keys is None:
                keys = self._keys(b"\n".join(lines), len(lines))
            keyed = len(keys) - keys.count(None)
            if keyed == len(keys):
                repeated = self.engine.note_keys(list(zip(keys, numbers, strict=True)))
            else:
                at = [i for i, key in enumerate(keys) if key is not None]
                noted = self.engine.note_keys([(keys[i], numbers[i]) for i in at])
                repeated = {at[position]: line for position, line in noted.items()}
            if same is None:
                same = self._same(digests, [key for key in keys if key is not None])
            if keyed < len(keys):
                for index, key in enumerate(keys):
                    if key is None:
                        same[index] = False
        for index in repeated:
            same[index] = False
        recognised = sum(same)
        self.count += recognised
        kept = list(compress(range(len(lines)), map(not_, same)))
        recognised += self.pending  # with the blocks found unchanged before
        self.pending = 0
        yield from self._read(kept, lines, first, digests, repeated, recognised, size)

    def flush(self) -> Iterator[RowBatch]:
        """The rows of the blocks found unchanged since the last batch, as one batch."""
        if self.pending:
            yield RowBatch(digests=[], repeated={}, recognised=self.pending)
            self.pending = 0

    def _unchanged(self, lines: list[bytes], digests: list[bytes], first: int,
                   start: int) -> bool:
        """Whether the block is, line for line in the key's order, the live records between
        its first line's key and its last one's, by one comparison of their digests with
        the lines' (the usual night); then noted as a range by its ends, its keys not read.
        After a block that is not, the next ones are read with their records' keys
        (`_stored`) until one is found unchanged again: a file with changes spread
        throughout pays one statement a block, not two."""
        if self.importer.all_new:
            return False
        bounds = self._keys(lines[0] + b"\n" + lines[-1], 2)
        if None in bounds:
            return False
        found = self.bulk.summary_of_range(bounds, len(lines))
        if found is None or found[0] != b"".join(digests):
            self.by_ends = False
            return False
        # Each line's digest is its record's: the first line's key is the first record's.
        load = partial(self._keys_at, start, self.offset, len(lines))  # to the block's end
        if self.engine.note_range_of(found[1], found[2], (bounds[0], bounds[1]), first, load):
            return True
        self.by_ends = None  # keys noted one at a time meet ranges: by the keys from now on
        return False

    def _keys_at(self, start: int, end: int, count: int) -> list[str]:
        """The keys of the `count` lines between bytes `start` and `end` of the file, read
        again (a range noted by its ends, opened)."""
        with self.table.path.open("rb") as file:
            file.seek(start)
            body = file.read(end - start)
        keys = self._keys(body[:-1], count)
        if None in keys or len(keys) != count:  # the file is the run's own copy: never
            raise RuntimeError("the lines of a range noted by its ends changed")
        return keys

    def _stored(self, lines: list[bytes]) -> tuple[bytes, list[str], str] | None:
        """The digests of the live records from the first line's key to the last one's,
        in the key's order, their keys and those keys joined by line feeds, when there are
        as many as lines (then they are the lines' records when the lines' keys, in order,
        are theirs); else None."""
        if self.importer.all_new:  # the tenant's first records: none is stored
            return None
        bounds = self._keys(lines[0] + b"\n" + lines[-1], 2)
        if None in bounds:
            return None
        found = self.bulk.digests_of_range(bounds, len(lines))
        if found is None or len(found[0]) != DIGEST * len(lines):
            return None
        keys = found[1].split("\n")
        return (found[0], keys, found[1]) if len(keys) == len(lines) else None

    def _keys(self, body: bytes, count: int) -> list[str | None]:
        """Each line's key as the column path reads it (stripped; None when empty, too
        long or absent)."""
        # One decoding of the block: a line feed is the same byte in every encoding here.
        text = body.decode(self.encoding, readers.FALLBACK_ERRORS)
        found = self.keys_of(text)
        if len(found) != count:  # a line with fewer cells: its key, line by line
            separator, at = self.delimiter, self.key_index
            found = [line.split(separator, at + 1)[at] if line.count(separator) >= at
                     else "" for line in text.split("\n")]
        keys: list[str | None] = list(map(str.strip, found))
        limit = self.key_limit
        if "" in keys or max(map(len, keys)) > limit:
            keys = [key if key and len(key) <= limit else None for key in keys]
        return keys

    def _digests(self, lines: list[bytes]) -> list[bytes]:
        found = []
        append, copy = found.append, self.hash.copy
        for line in lines:
            digest = copy()
            digest.update(line)
            append(digest.digest())
        return found

    def _same(self, digests: list[bytes], keys: list[str]) -> list[bool]:
        """Whether each digest is stored on a live record of `keys`' range (or of `keys`)."""
        if not keys or self.importer.all_new:  # all_new: no record held one at the start
            return [False] * len(digests)
        found = self.bulk.digests_of_range(keys, len(keys))
        if found is None:  # keys far apart (a file not in their order): by key
            stored = set(self.bulk.digests(keys).values())
        else:
            joined, size = found[0], len(found[0])
            stored = set(map(joined.__getitem__, map(slice, range(0, size, DIGEST), range(
                DIGEST, size + DIGEST, DIGEST))))
        return list(map(stored.__contains__, digests))

    def _read(self, kept: list[int], lines: list[bytes], first: int, digests: list[bytes],
              repeated: dict[int, int], recognised: int, size: int) -> Iterator[RowBatch]:
        """The kept lines read by csv (each one record), blank ones dropped, in batches."""
        decode, errors, width = self.encoding, readers.FALLBACK_ERRORS, self.width
        blank = readers._blank_texts
        texts = [lines[i].decode(decode, errors) for i in kept]
        batch = RowBatch(digests=[], repeated={}, recognised=recognised)
        for index, cells in zip(kept, csv.reader(texts, delimiter=self.delimiter),
                                strict=True):
            if not cells or ((not cells[0] or cells[0].isspace()) and blank(cells)):
                continue
            self.count += 1
            if len(cells) != width:
                if len(cells) > width:
                    extra = len(cells) - width - sum(blank([c]) for c in cells[width:])
                    del cells[width:]
                    if extra:
                        batch.extra[len(batch)] = extra
                else:
                    cells.extend([""] * (width - len(cells)))
            if index in repeated:
                batch.repeated[len(batch)] = repeated[index]
            batch.lines.append(first + index)
            batch.cells.append(cells)
            batch.digests.append(digests[index])
            if len(batch) >= size:
                yield batch
                batch = RowBatch(digests=[], repeated={})
        if len(batch) or batch.recognised:
            yield batch
