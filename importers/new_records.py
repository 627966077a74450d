"""New records of the batch path: their columns, and each column's values for a batch.

The values are what SQLAlchemy would bind for the engine's insert (`new_row`, then the
model's column defaults), prepared a column at a time: amounts from cents (SQLite binds
Decimal as float, and cents / 100 is that same double), dates as SQLite stores them, custom
values as JSON (remembered: the same values come back), constants once per batch.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any

from app.extensions import db
from app.search_text import search_text
from app.services.record_batches import default_value
from app.services.record_rules import takes_account_partner

if TYPE_CHECKING:
    from importers.column_import import ColumnImport

MEMORY = 50_000  # custom JSON texts remembered
Values = Callable[[list[int], datetime], Any]  # (the batch's rows to insert, now) → values


class NewRecords:
    def __init__(self, batch: ColumnImport) -> None:
        self.batch = batch
        engine = batch.engine
        table = engine.model.__table__
        self.dialect = db.engine.dialect
        self.sqlite = batch.bulk.sqlite
        self.names: list[str] = ["tenant_id"]
        self.values: list[Values] = [lambda rows, now: repeat(batch.tenant_id, len(rows))]
        for n, column in enumerate(batch.columns):
            target = column.column.target
            if target.kind == "field":
                self._add(target.name, self._field(n, table.c[target.name]))
            elif target.kind == "ref" and target.name != "partner":
                self._add(f"{target.name}_id",
                          self._picked(lambda name=target.name: batch.ids[name]))
        if takes_account_partner(engine.entity):
            # the partner given, else the customer's (engine.new_row)
            self._add("partner_id", self._picked(self._partners))
        elif any(c.column.target.kind == "ref" and c.column.target.name == "partner"
                 for c in batch.columns):
            self._add("partner_id", self._picked(lambda: batch.ids["partner"]))
        self._add("custom", self._custom(table.c.custom))
        if engine.writer.searched:
            self._add("search_text", self._search_text())
        if batch.fingerprinted:  # each row's own (importers/fingerprints.py)
            self._add("import_digest", self._picked(lambda: batch.digests))
        run = engine.run
        for name, value in (("created_at", None), ("updated_at", None),
                            ("import_run_id", run.id), ("import_profile_id", run.profile_id)):
            self._add(name, self._constant(table.c[name], value))
        for name, default in engine.writer.defaults:  # what the model's insert fills in
            if name not in self.names:
                self._add(name, self._constant(table.c[name], default_value(default)))
        self.required = self._required()
        key = engine.profile.key
        self.unique_key = ("tenant_id", key) if key in engine.writer.unique else ()

    def _add(self, name: str, values: Values) -> None:
        self.names.append(name)
        self.values.append(values)

    def insert(self, rows: list[int], now: datetime) -> list[int]:
        """The batch's `rows` as new records, in one statement; those a unique key refused
        (PostgreSQL: a key or a number another write took since the batch read them), left
        out for the row path (when the key is a unique one of the table). SQLite, and a
        row refused for another reason (a number already used), refuse the whole batch."""
        columns = [values(rows, now) for values in self.values]
        bulk = self.batch.bulk
        if self.sqlite:
            bulk.insert(self.names, zip(*columns, strict=True))
            return []
        key = self.batch.profile.key
        written = bulk.insert(self.names, zip(*columns, strict=True), returning=(key,),
                              skip_taken=self.unique_key)
        if len(written) == len(rows):
            return []
        inserted = {str(key) for key, in written}
        keys = self.batch.keys
        return [i for i in rows if keys[i] not in inserted]

    # -- each column's values -------------------------------------------------------------------

    def _picked(self, source: Callable[[], Any]) -> Values:
        def values(rows: list[int], now: datetime) -> list[Any]:
            found = source()
            return [found[i] for i in rows]

        return values

    def _partners(self) -> Any:
        given, of_accounts = self.batch.ids.get("partner"), self.batch.partners
        if given is None:
            return of_accounts or Nones()
        if of_accounts is None:
            return given
        return [account if partner is None else partner
                for partner, account in zip(given, of_accounts, strict=True)]

    def _field(self, n: int, column: Any) -> Values:
        batch = self.batch
        kind = next(kind for at, _name, kind in batch.compared if at == n)
        if kind == "date" and self.sqlite:
            return self._picked(lambda: batch.compared_values(n, "date", column.name))
        if kind == "money":
            convert = _cents_float if self.sqlite else _cents_text
        else:
            convert = column.type._cached_bind_processor(self.dialect)

        def values(rows: list[int], now: datetime) -> list[Any]:
            found = batch.values[n]
            if convert is None:
                return [found[i] for i in rows]
            return [None if found[i] is None else convert(found[i]) for i in rows]

        return values

    def _custom(self, column: Any) -> Values:
        batch = self.batch
        # PostgreSQL: the JSON text itself, which COPY reads into jsonb (the driver's Json
        # wrapper would be serialised again for every row, remembered or not).
        process = json.dumps if not self.sqlite \
            else column.type._cached_bind_processor(self.dialect) or json.dumps
        keys = [key for _n, key in batch.customs]
        memory: dict[tuple, Any] = {}

        def values(rows: list[int], now: datetime) -> list[Any]:
            columns = [batch.values[n] for n, _key in batch.customs]
            if len(memory) > MEMORY:
                memory.clear()
            texts = []
            for i in rows:
                given = tuple(column[i] for column in columns)
                try:
                    text = memory.get(given)
                except TypeError:  # a list among them (multiple choice): not remembered
                    text, remember = None, False
                else:
                    remember = True
                if text is None:
                    text = process({key: value for key, value in zip(keys, given, strict=True)
                                    if value is not None})
                    if remember:
                        memory[given] = text
                texts.append(text)
            return texts

        return values

    def _search_text(self) -> Values:
        """Each new record's search text, from the searched fields the file gives (a field
        it does not give is empty on a new record, as in the writer's own rows)."""
        batch, engine = self.batch, self.batch.engine
        at = {c.column.target.name: n for n, c in enumerate(batch.columns)
              if c.column.target.kind == "field"}
        given = [name for name in engine.writer.searched
                 if name in at or name == engine.profile.key]

        def values(rows: list[int], now: datetime) -> list[str]:
            lists = [batch.keys if name not in at else batch.values[at[name]] for name in given]
            return [search_text(engine.entity, {name: found[i] for name, found
                                                in zip(given, lists, strict=True)})
                    for i in rows]

        return values

    def _constant(self, column: Any, value: Any) -> Values:
        process = column.type._cached_bind_processor(self.dialect)
        stamped = value is None and column.key in ("created_at", "updated_at")

        def values(rows: list[int], now: datetime) -> Any:
            found = now if stamped else value
            if process is not None and found is not None:
                found = process(found)
            return repeat(found, len(rows))

        return values

    # -- required values ------------------------------------------------------------------------

    def _required(self) -> list[tuple[str, Any]] | bool | None:
        """Where each required value of a new row is (engine.missing_required's fields):
        ("field", column), ("ref", name) or ("partners", None); True when every new row
        lacks one; None when none is required."""
        batch, engine = self.batch, self.batch.engine
        fields = {c.column.target.name: n for n, c in enumerate(batch.columns)
                  if c.column.target.kind == "field"}
        refs = {name for _n, name in batch.refs}
        checks: list[tuple[str, Any]] = []
        for spec in engine.entity.fields:
            if spec.name not in engine.required:
                continue
            if spec.type == "ref" and spec.name in refs:
                checks.append(("ref", spec.name))
            elif spec.type != "ref" and spec.name in fields:
                checks.append(("field", fields[spec.name]))
            elif spec.attr == "partner_id" and "partner_id" in self.names:
                checks.append(("partners", None))
            else:
                return True
        customs = {key: n for n, key in batch.customs}
        for cf in engine.custom_fields.values():
            if cf.is_required:
                if cf.key not in customs:
                    return True
                checks.append(("field", customs[cf.key]))
        return checks or None

    def required_values(self) -> list[Any] | None:
        """The batch's lists whose None means a required value is missing; None: all lack."""
        batch = self.batch
        found = []
        for kind, at in self.required if isinstance(self.required, list) else ():
            found.append(batch.ids[at] if kind == "ref" else
                         (batch.partners or Nones()) if kind == "partners" else batch.values[at])
        return None if self.required is True else found


class Nones:
    """A list of None, as long as needed."""

    def __getitem__(self, index: int) -> None:
        return None


def _cents_float(cents: int) -> float:
    return cents / 100


def _cents_text(cents: int) -> str:
    # cents / 100 is within half a unit in the last place of the amount, far below half a
    # cent for any amount under MONEY_LIMIT (1e12): rounded to 2 places it is exact.
    return "%.2f" % (cents / 100)
