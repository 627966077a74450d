"""The keys a run has seen and the line of each one's first row, in bounded memory.

A dict while the file is small; past `SPILL` keys, a private temporary SQLite database (a file
in the temporary directory, deleted when closed) whose page cache is capped: a repeated key is
still found exactly, with its first line, whatever the file's size.

A block of rows whose keys are, in the database's order, exactly those of the live records
between its first key and its last (importers/unchanged_lines.py) is noted as a range: its
keys joined in one value kept aside (in the temporary database), not one entry a key. Its keys
are looked at only when a key noted one at a time falls between its least and greatest (in
Python's order, which every member of the range is within whatever the database's collation):
the range is then noted key by key, and the repeat found exactly as before. A range whose
interval meets another range's or a key already noted is refused (the caller notes its keys one
at a time). A range may also be given by its ends alone (`record_range_of`, a block found
unchanged by one comparison of its digests with the database's): its keys are read again from
the file only if it is opened. Full sync reads `bounds`: every record of the database between
a range's first and last key was in the file (importers/engine.py).
"""
from __future__ import annotations

import json
import sqlite3
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable
from operator import eq

SPILL = 100_000  # keys kept in a dict (about 10 MB) before moving to the temporary database
SCANNED = 2_000  # keys of the dict compared with a range given by its ends, at most
CACHE_KIB = 8 * 1024  # page cache of the temporary database
CHUNK = 5_000


class KeyLog:
    def __init__(self, spill: int | None = None) -> None:
        self.spill = SPILL if spill is None else spill
        self.memory: dict[str, int] = {}
        self.store: sqlite3.Connection | None = None
        # Ranges not yet noted key by key: (least, greatest in Python's order, first line,
        # id of its keys in `kept`), sorted and disjoint; `lows` their least keys.
        self.ranges: list[tuple[str, str, int, int]] = []
        self.lows: list[str] = []
        self.kept: sqlite3.Connection | None = None
        # Ranges given by their ends (record_range_of): their keys read again when needed.
        self.loaders: dict[int, Callable[[], list[str]]] = {}
        self.next_loader = -1
        # (first, last key) of every range noted, in the database's order: for full sync.
        self.bounds: list[tuple[str, str]] = []

    def get(self, key: str) -> int | None:
        """The first line of `key`, or None (one key at a time: the path with lines)."""
        return self.record([(key, 0)], dry=True).get(0)

    def add(self, key: str, line: int) -> None:
        self.record([(key, line)])

    def record(self, pairs: list[tuple[str, int]], *, dry: bool = False) -> dict[int, int]:
        """Note the (key, line) pairs in order; the first line of each pair whose key was
        seen before (earlier in the file or earlier in `pairs`), by index in `pairs`."""
        if self.ranges:
            self._open_ranges(key for key, _line in pairs)
        if self.store is None:
            return self._record_in_memory(pairs, dry)
        if not pairs:
            return {}
        repeats: dict[int, int] = {}
        first_here = dict(pairs)
        if len(first_here) < len(pairs):  # a key repeated within `pairs`: its first line
            first_here = {}
            for index, (key, line) in enumerate(pairs):
                first = first_here.get(key)
                if first is None:
                    first_here[key] = line
                else:
                    repeats[index] = first
        if dry:
            earlier = self._stored(list(first_here))
        else:
            with self.store:  # one transaction: a commit per key would cost more than all
                cursor = self._insert(first_here)
            if cursor.rowcount == len(first_here):
                return repeats  # the usual batch: no key seen in an earlier one
            earlier = {key: line for key, line in self._stored(list(first_here)).items()
                       if line != first_here[key]}  # lines are unique: these came before
        for index, (key, _line) in enumerate(pairs):
            if key in earlier:
                repeats[index] = earlier[key]
        return repeats

    def record_range(self, keys: list[str], joined: str, first: int) -> bool:
        """Note `keys` (in the database's order, `joined` by line feeds, the first on line
        `first`, the others on the lines after it) as one range; False, nothing noted, when it
        cannot be (a key repeated or seen before, or an interval met): note them one by one."""
        if not keys or any(map(eq, keys, keys[1:])):  # in order, a repeat is next to itself
            return False
        low, high = min(keys), max(keys)
        at = bisect_right(self.lows, high)
        if at and self.ranges[at - 1][1] >= low:
            return False  # another range's interval
        try:
            if self.memory and not self.memory.keys().isdisjoint(keys):
                return False
            if self.store is not None:
                within = [key for (key,) in self.store.execute(
                    "SELECT key FROM seen WHERE key BETWEEN ? AND ?", (low, high))]
                if within and not set(within).isdisjoint(keys):
                    return False
            if self.kept is None:
                self.kept = _temporary()
                self.kept.execute("CREATE TABLE kept (id INTEGER PRIMARY KEY, keys TEXT)")
            kept = self.kept.execute("INSERT INTO kept (keys) VALUES (?)", (joined,)).lastrowid
        except (sqlite3.Error, UnicodeEncodeError):  # a key SQLite cannot carry
            return False
        insort(self.ranges, (low, high, first, kept))
        insort(self.lows, low)
        self.bounds.append((keys[0], keys[-1]))
        return True

    def record_range_of(self, low: str, high: str, ends: tuple[str, str], first: int,
                        load: Callable[[], list[str]]) -> bool:
        """Note a range by its ends alone: `low` and `high` its least and greatest key in
        Python's order, `ends` its first and last in the database's, its first key on line
        `first`; `load()` gives its keys in order (read again from the file) when a key noted
        one at a time falls in its interval. The caller vouches that they are distinct and
        exactly those of the live records between the ends. False, nothing noted, when it
        cannot be or when a key noted one at a time lies in its interval (then the caller
        gives the keys themselves to record_range)."""
        if low > high:
            return False
        at = bisect_right(self.lows, high)
        if at and self.ranges[at - 1][1] >= low:
            return False  # another range's interval
        memory = self.memory
        if memory and (len(memory) > SCANNED or any(low <= key <= high for key in memory)):
            return False
        try:
            if self.store is not None and self.store.execute(
                    "SELECT 1 FROM seen WHERE key BETWEEN ? AND ? LIMIT 1",
                    (low, high)).fetchone():
                return False
        except (sqlite3.Error, UnicodeEncodeError):  # a key SQLite cannot carry
            return False
        kept = self.next_loader  # negative: not a row of `kept`
        self.next_loader -= 1
        self.loaders[kept] = load
        insort(self.ranges, (low, high, first, kept))
        insort(self.lows, low)
        self.bounds.append(ends)
        return True

    def _open_ranges(self, keys: Iterable[str]) -> None:
        """Note key by key the ranges whose interval holds one of `keys`."""
        ranges, lows, hit = self.ranges, self.lows, set()
        for key in keys:
            at = bisect_right(lows, key)
            if at and ranges[at - 1][1] >= key:
                hit.add(at - 1)
        if not hit:
            return
        opened = [ranges[at] for at in sorted(hit)]
        for at in sorted(hit, reverse=True):
            del ranges[at], lows[at]
        for _low, _high, first, kept in opened:
            if kept < 0:
                keys = self.loaders.pop(kept)()
            else:
                (joined,) = self.kept.execute("SELECT keys FROM kept WHERE id = ?",
                                              (kept,)).fetchone()
                self.kept.execute("DELETE FROM kept WHERE id = ?", (kept,))
                keys = joined.split("\n")
            self.record(list(zip(keys, range(first, first + len(keys)), strict=True)))

    def _insert(self, first_here: dict[str, int]) -> sqlite3.Cursor:
        keys, lines = list(first_here), list(first_here.values())
        if lines[-1] - lines[0] == len(lines) - 1:  # the usual: a row per line, lines in a row
            try:
                return self.store.execute(
                    "INSERT OR IGNORE INTO seen SELECT value, ? + key FROM json_each(?)",
                    (lines[0], json.dumps(keys)))
            except sqlite3.Error:  # a key JSON cannot carry: one row at a time
                pass
        return self.store.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)",
                                      first_here.items())

    def _record_in_memory(self, pairs: list[tuple[str, int]], dry: bool) -> dict[int, int]:
        memory = self.memory
        keys = [key for key, _line in pairs]
        if not dry and len(set(keys)) == len(keys) and memory.keys().isdisjoint(keys):
            memory.update(pairs)  # the usual batch: every key new
        else:
            repeats: dict[int, int] = {}
            added: dict[str, int] = {}
            for index, (key, line) in enumerate(pairs):
                first = memory.get(key, added.get(key))
                if first is not None:
                    repeats[index] = first
                else:
                    added[key] = line
            if not dry:
                memory.update(added)
            if len(memory) > self.spill:
                self._spill()
            return repeats
        if len(memory) > self.spill:
            self._spill()
        return {}

    def _spill(self) -> None:
        store = _temporary()
        store.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, line INTEGER NOT NULL) "
                      "WITHOUT ROWID")
        with store:
            store.executemany("INSERT INTO seen VALUES (?, ?)", self.memory.items())
        self.store, self.memory = store, {}

    def _stored(self, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(keys), CHUNK):
            chunk = json.dumps(keys[start:start + CHUNK])
            found.update(self.store.execute(
                "SELECT key, line FROM seen WHERE key IN (SELECT value FROM json_each(?))",
                (chunk,)))
        return found

    def missing(self, keys: Iterable[str]) -> list[str]:
        """The keys this run has not seen."""
        keys = list(keys)
        if self.ranges:
            self._open_ranges(keys)
        if self.store is None:
            return [key for key in keys if key not in self.memory]
        seen = self._stored(keys)
        return [key for key in keys if key not in seen]

    def __contains__(self, key: str) -> bool:
        return not self.missing([key])

    def close(self) -> None:
        for store in (self.store, self.kept):
            if store is not None:
                store.close()
        self.store = self.kept = None
        self.memory, self.ranges, self.lows, self.loaders = {}, [], [], {}


def _temporary() -> sqlite3.Connection:
    store = sqlite3.connect("")  # "": a private temporary file
    store.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    store.execute("PRAGMA journal_mode = OFF")
    store.execute("PRAGMA synchronous = OFF")
    return store
