"""Which rows of a batch are new, unchanged or different from the records they key.

One statement per batch, on tuples in the file's terms (amounts in cents, dates as the
database stores them, related records by id): SQLite compares them itself and sends back only
the rows that differ; PostgreSQL sends the records (binary) and Python compares tuples. Equal
here is equal for the engine too; every row found different is checked again by the engine's
`plan_update` on the ORM's values, which also makes the update and its audit. Those values
(`records`) come from the same statement, the columns the engine's `existing` reads added to
it: a changed row's record is not read a second time.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importers.column_import import ColumnImport

MEMORY = 50_000  # custom JSON texts remembered, parsed or as compared
_MISSING = object()
_TEXT = {str, type(None)}


class ExistingRecords:
    def __init__(self, batch: ColumnImport) -> None:
        self.batch = batch
        self.bulk = batch.bulk
        self.customs = [key for _n, key in batch.customs]
        self.selected = [*(self.bulk.cents(name) if kind == "money" else name
                           for _n, name, kind in batch.compared),
                         "id", "archived_at", self.bulk.json_text("custom"), "updated_at"]
        self.width = 1 + len(batch.compared)
        self.returned = batch.engine.record_columns()
        # The records of the rows the last `differing` found different, by key.
        self.records: dict[str, dict[str, Any]] = {}
        # What tells whether a record found equal by the last `differing` was written since:
        # its updated_at as read then, by key (when Python compared), and on SQLite the
        # database's data_version before the read.
        self.updated: dict[str, Any] = {}
        self.version: int | None = None
        self.parsed: dict[str, dict[str, Any]] = {}
        self.compared_custom: dict[tuple, Any] = {}

    def differing(self, good: list[int], keys: list[str],
                  lists: list[list[Any]]) -> dict[int, bool | None]:
        """Rows whose record is missing (→ None) or differs or is archived (→ True), by
        position in `good`; `lists` holds the compared values of those rows."""
        self.records, self.updated = {}, {}
        self.version = self.bulk.data_version()
        found = self._by_the_database(good, keys, lists)
        if found is None:
            found = self._in_python(good, keys, lists)
        return found

    def _by_the_database(self, good: list[int], keys: list[str],
                         lists: list[list[Any]]) -> dict[int, bool | None] | None:
        """SQLite: the comparison in SQL. None on PostgreSQL, and when a value is of a type
        SQLite is not given."""
        if not self.bulk.sqlite:
            return None
        compared = []
        for (_n, name, kind), values in zip(self.batch.compared, lists, strict=True):
            if kind == "value":
                if not set(map(type, values)) <= _TEXT:
                    return None
                compared.append((name, "text"))
            else:
                compared.append((name, {"money": "cents", "ref": "id"}.get(kind, kind)))
        custom_values: list[Any] = []
        if self.customs:
            columns = [self.batch.values[n] for n, _key in self.batch.customs]
            rows = zip(*[[values[i] for i in good] for values in columns], strict=True)
            custom_values = list(map(self._as_compared, rows))
            if None in custom_values:
                return None
        found = self.bulk.differing(compared, self.customs, keys, lists, custom_values,
                                    self.batch.profile.mode == "insert", self.returned)
        read = {keys[position]: row for position, row in found.items() if row[0] is not None}
        self.records = self.batch.engine.writer.records(self.returned, read)
        return {position: None if row[0] is None else True
                for position, row in found.items()}

    def _as_compared(self, values: tuple) -> tuple | None:
        """A row's custom values as SQLite's json_extract gives them back (remembered: they
        repeat); None when one cannot be."""
        memory = self.compared_custom
        try:
            found = memory.get(values, _MISSING)
        except TypeError:  # a list among them (multiple choice)
            return _as_json_extract(values)
        if found is _MISSING:
            if len(memory) > MEMORY:
                memory.clear()
            found = memory[values] = _as_json_extract(values)
        return found

    def _in_python(self, good: list[int], keys: list[str],
                   lists: list[list[Any]]) -> dict[int, bool | None]:
        existing = self.bulk.existing([*self.selected, *self.returned], keys)
        width, insert_only = self.width, self.batch.profile.mode == "insert"
        found: dict[int, bool | None] = {}
        read: dict[str, tuple] = {}
        for position, (i, row) in enumerate(zip(good, zip(keys, *lists, strict=True),
                                                strict=True)):
            current = existing.get(row[0])
            if current is None:
                found[position] = None
            elif not insert_only and not (current[:width] == row and current[width + 1] is None
                                          and self._same_custom(i, current[width + 2])):
                found[position] = True
                read[row[0]] = current
                self.updated[row[0]] = current[width + 3]  # its fingerprint's guard too
            else:
                self.updated[row[0]] = current[width + 3]
        self.records = self.batch.engine.writer.records(self.returned, read,
                                                        1 + len(self.selected))
        return found

    def as_read(self, keys: list[str]) -> list[Any] | None:
        """For records the last `differing` read (found equal, or changed), by key: each one's
        updated_at as read then, which storing their fingerprints checks (a write since, by
        a form or a token, would otherwise hide behind the fingerprint); None for each when
        SQLite compared them itself and no other connection has committed since (called
        under the batch's write lock, nothing can then); None when one has: the records are
        left without a fingerprint, compared again by the next run."""
        if self.updated:
            return [self.updated[key] for key in keys]
        if self.version is not None and self.bulk.data_version() == self.version:
            return [None] * len(keys)
        return None

    def _same_custom(self, i: int, stored: str | None) -> bool:
        if not self.customs:
            return True
        current = self._parsed(stored)
        values = self.batch.values
        return all(current.get(key) == values[n][i] for n, key in self.batch.customs)

    def _parsed(self, stored: str | None) -> dict[str, Any]:
        """A record's custom values from their JSON text (the same texts come back often)."""
        if stored is None:
            return {}
        memory = self.parsed
        found = memory.get(stored)
        if found is None:
            if len(memory) > MEMORY:
                memory.clear()
            found = memory[stored] = json.loads(stored) or {}
        return found


def _as_json_extract(values: tuple) -> tuple | None:
    found = []
    for value in values:
        if isinstance(value, list | dict):
            value = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        elif not isinstance(value, str | int | float | None):
            return None
        found.append(value)
    return tuple(found)
