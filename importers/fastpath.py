"""The engine's batch path: a CSV file into an entity without lines, a batch at a time.

The steps and their order are the engine's (importers/engine.py): convert, refuse rows with
problems or repeated keys, resolve references, read the existing records, classify, write,
fall back to row by row in a batch the database refused. What changes is the unit of work:

- Cells are converted a column at a time (importers/batches.py); a row becomes a Python
  object (an engine Item) only when it fails, changes a record, or its batch is refused.
- Existing records are read with one statement per batch, as tuples in the file's terms
  (amounts in cents, dates as the database stores them), and a row whose tuple equals its
  record's is unchanged: no dict, no Decimal, no write. A row whose tuple differs is checked
  again by the engine's own `_changes` on the ORM's values (exact), which also makes the
  update, its audit event and its diff.
- New records are written with executemany or COPY (importers/bulk.py).
- References are read once per run and remembered (the run holds its profile's lock; a
  reference is resolved as it was when first met).
"""
from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from itertools import chain, count, repeat
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, Numeric
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.entities import ENTITIES
from app.extensions import db
from app.tenancy import current_tenant_id
from importers.batches import BatchColumn, RowBatch, can_batch, cents_to_decimal, csv_batches
from importers.bulk import BulkSQL
from importers.convert import Column
from importers.readers import Table

if TYPE_CHECKING:
    from importers.engine import ImportEngine, Item

REFERENCE_MEMORY = 200_000  # related records remembered per reference column
CUSTOM_MEMORY = 50_000  # custom JSON texts remembered, parsed or built
FULL_COLLECTION_EVERY = 50  # batches


def applies(engine: ImportEngine, table: Table) -> bool:
    return not engine.profile.has_lines and can_batch(table)


class BatchImport:
    """One run of the batch path; `engine` records failures, counts and progress."""

    def __init__(self, engine: ImportEngine, columns: list[Column]) -> None:
        self.engine = engine
        self.profile = profile = engine.profile
        self.tenant_id = current_tenant_id()
        if engine.run.tenant_id != self.tenant_id:
            raise RuntimeError("the run belongs to another tenant")
        table = engine.model.__table__
        self.bulk = BulkSQL(table, profile.key, self.tenant_id)
        self.columns = [BatchColumn(column, profile.decimal) for column in columns]
        self.key_at = next(n for n, c in enumerate(columns)
                           if c.target.kind == "field" and c.target.name == profile.key)
        self.key_is_text = self.columns[self.key_at].text_limit is not None
        # What an existing record is compared on: mapped fields and references, in order.
        self.compared: list[tuple[int, str, str]] = []  # (column, table column, kind)
        for n, column in enumerate(columns):
            target = column.target
            if target.kind == "field":
                name, batch_column = target.name, self.columns[n]
                if batch_column.money and not _is_cents(table.c[name]):
                    batch_column.money = None  # converted as the profile says, not in cents
                kind = "money" if batch_column.money else "value"
                if engine.entity.field(name).type == "date" \
                        and isinstance(table.c[name].type, Date):
                    kind = "date"
                self.compared.append((n, name, kind))
            elif target.kind == "ref":
                self.compared.append((n, f"{target.name}_id", "ref"))
        self.customs = [(n, c.target.name) for n, c in enumerate(columns)
                        if c.target.kind == "custom"]
        self.refs = [(n, c.target.name) for n, c in enumerate(columns)
                     if c.target.kind == "ref"]
        expressions = [self.bulk.cents(name) if kind == "money" else name
                       for _n, name, kind in self.compared]
        self.selected = [*expressions, "id", "archived_at", self.bulk.json_text("custom")]
        self.width = 1 + len(self.compared)
        self.reference_memory: dict[str, dict[str, tuple[int, int | None]]] = {
            name: {} for _n, name in self.refs}
        self.preloaded: set[str] = set()
        self.custom_memory: dict[Any, Any] = {}
        self.compared_custom: dict[tuple, Any] = {}
        self.iso: dict[date, str] = {}
        self.writes = _Writes(self)

    def run(self, table: Table, size: int) -> None:
        self.batch_rows = size
        with _collecting_between_batches() as collect:
            for batch in csv_batches(table, size):
                self.process(batch)
                collect()

    # -- one batch ------------------------------------------------------------------------------

    def process(self, batch: RowBatch) -> None:
        engine = self.engine
        self.batch, self.items = batch, {}
        cells_of = list(zip(*batch.cells, strict=True))
        problems: dict[int, list] = {index: [engine.extra_cells_problem(count)]
                                     for index, count in batch.extra.items()}
        values = []
        for column in self.columns:
            cells = cells_of[column.column.index]
            converted, failures = column.convert(cells)
            for index, exc in failures:
                problems.setdefault(index, []).append(
                    engine.cell_problem(column.column.target, cells[index], exc))
            values.append(converted)
        self.values = values
        keys = values[self.key_at]
        if not self.key_is_text:
            keys = [None if key in (None, "") else str(key) for key in keys]
        self.keys = keys
        if None in keys:
            for index, key in enumerate(keys):
                if key is None and index not in problems:
                    problems[index] = [engine.empty_key_problem()]
        good = [i for i in range(len(batch)) if i not in problems] if problems \
            else list(range(len(batch)))
        lines = batch.lines
        repeats = engine.seen.record([(keys[i], lines[i]) for i in good])
        for position, first in repeats.items():
            index = good[position]
            problems[index] = [engine.repeated_key_problem(keys[index], first, lines[index])]
        self._fail(problems)
        if repeats:
            good = [i for i in good if i not in problems]
        self.ids: dict[str, list[Any]] = {}
        self.partners: list[Any] | None = None
        good = self._resolve(good)
        if good:
            self._classify_and_write(good)
        engine.run.rows_done += len(batch)
        engine._save_progress()

    def _fail(self, problems: dict[int, list]) -> None:
        for index in sorted(problems):
            item = self._failed_item(index)
            item.problems = problems[index]
            self.engine._fail(item)

    def _failed_item(self, index: int) -> Item:
        from importers.engine import Item

        return Item(line=self.batch.lines[index], raw=list(self.batch.cells[index]))

    # -- references -----------------------------------------------------------------------------

    def _resolve(self, good: list[int]) -> list[int]:
        """Ids of related records by their external_ref; rows naming an unknown one fail."""
        problems: dict[int, list] = {}
        for n, name in self.refs:
            refs = self.values[n]
            memory = self.reference_memory[name]
            named = {refs[i] for i in good}
            named.discard(None)
            wanted = named.difference(memory)
            if wanted and name not in self.preloaded:
                spec = self.engine.entity.field(name)
                model = ENTITIES[spec.ref].model
                table, with_partner = model.__table__, hasattr(model, "partner_id") \
                    and name == "account"
                if not memory and self._worth_preloading(table):
                    self.preloaded.add(name)
                    memory.update(self.bulk.references(table, with_partner, None))
                    wanted = ()
                elif len(memory) + len(wanted) > REFERENCE_MEMORY:
                    memory.clear()
                    wanted = named
                if wanted:
                    memory.update(self.bulk.references(table, with_partner, sorted(wanted)))
            hits = list(map(memory.get, refs))
            self.ids[name] = [hit[0] if hit else None for hit in hits]
            if name == "account":
                self.partners = [hit[1] if hit else None for hit in hits]
            for i in good:
                if hits[i] is None and refs[i] is not None:
                    problems.setdefault(i, []).append(
                        self.engine.unknown_reference_problem(name, refs[i]))
        if not problems:
            return good
        self._fail(problems)
        return [i for i in good if i not in problems]

    def _worth_preloading(self, table: Any) -> bool:
        """All the tenant's related records at once, rather than those of each batch, when
        they are fewer than the file's rows (as its size and first batch tell) and fit."""
        batch, run = self.batch, self.engine.run
        if len(batch) < self.batch_rows:
            return False  # the whole file is this batch
        chars = sum(map(len, chain.from_iterable(batch.cells))) + len(batch) * len(
            batch.cells[0])
        rows = run.file_size * len(batch) / max(chars, 1)
        return self.bulk.count(table) <= min(REFERENCE_MEMORY, rows)

    # -- classifying and writing ----------------------------------------------------------------

    def _compared_values(self, n: int, kind: str, name: str) -> list[Any]:
        if kind == "ref":
            return self.ids[name[:-3]]
        values = self.values[n]
        if kind == "date" and self.bulk.sqlite:  # stored as the text SQLAlchemy writes
            iso = self.iso
            if len(iso) > CUSTOM_MEMORY:
                iso.clear()
            return [None if d is None else iso.get(d) or iso.setdefault(d, d.isoformat())
                    for d in values]
        return values

    def _classify_and_write(self, good: list[int]) -> None:
        engine, mode = self.engine, self.profile.mode
        keys = [self.keys[i] for i in good]
        lists = [self._compared_values(n, kind, name) for n, name, kind in self.compared]
        if len(good) < len(self.batch):
            lists = [[values[i] for i in good] for values in lists]
        found = self._differing(good, keys, lists)
        if found is None:
            found = self._differing_here(good, keys, lists)
        creates: list[int] = []
        changed: list[int] = []
        failed: list[Item] = []
        unchanged = len(good) - len(found)
        for position in sorted(found):
            i = good[position]
            if found[position] is not None:
                changed.append(i)
            elif mode == "update":
                item = self.item(i)
                item.problems.append(engine.no_record_problem(keys[position]))
                failed.append(item)
            else:
                creates.append(i)
        from importers.engine import Plan

        now = datetime.now(UTC)
        plan = Plan(unchanged=unchanged)
        if changed:  # checked again, and planned, by the engine on the ORM's values
            items = [self.item(i) for i in changed]
            current = engine._existing([item.key for item in items])
            for item in items:
                if item.key in current:
                    engine._plan_update(plan, item, current[item.key], None, now)
                else:  # deleted since the first read
                    creates.append(self.keys.index(item.key))
            creates.sort()
        plan.creates = self._required(creates, failed, now)
        plan.failed = sorted(failed, key=lambda item: item.line)
        try:
            with db.session.begin_nested():
                if not engine.run.is_dry_run:
                    if plan.creates:
                        self.writes.insert(plan.creates, now)
                    engine._write(Plan(updates=plan.updates, audits=plan.audits))
        except (IntegrityError, DBAPIError, self.bulk.errors):
            plan = engine._write_row_by_row([self.item(i) for i in good], plan.failed)
        engine._account(plan)

    def _differing(self, good: list[int], keys: list[str],
                   lists: list[list[Any]]) -> dict[int, int | None] | None:
        """Rows whose record is missing or differs, by position in `good`, found by the
        database; None when a compared value is of a type it is not given."""
        compared = []
        for (_n, name, kind), values in zip(self.compared, lists, strict=True):
            if kind == "value":
                if not set(map(type, values)) <= _TEXT:
                    return None
                compared.append((name, "text"))
            elif kind == "money":
                compared.append((name, "cents"))
            else:
                compared.append((name, "id" if kind == "ref" else kind))
        customs = [key for _n, key in self.customs]
        custom_values: list[Any] = []
        if customs:
            columns = [self.values[n] for n, _key in self.customs]
            rows = zip(*[[values[i] for i in good] for values in columns], strict=True)
            custom_values = list(map(self._custom_compared, rows))
            if None in custom_values and self.bulk.sqlite:
                return None
        return self.bulk.differing(compared, customs, keys, lists, custom_values,
                                   self.profile.mode == "insert")

    def _custom_compared(self, values: tuple) -> Any:
        """A row's custom values as the database compares them (remembered: they repeat)."""
        memory = self.compared_custom
        try:
            found = memory.get(values, _MISSING)
        except TypeError:  # a list among them (multiple choice)
            return _custom_for(self.bulk.sqlite, values, [key for _n, key in self.customs])
        if found is _MISSING:
            if len(memory) > CUSTOM_MEMORY:
                memory.clear()
            found = memory[values] = _custom_for(self.bulk.sqlite, values,
                                                 [key for _n, key in self.customs])
        return found

    def _differing_here(self, good: list[int], keys: list[str],
                        lists: list[list[Any]]) -> dict[int, int | None]:
        """The same as _differing, compared in Python on the records' columns."""
        existing = self.bulk.existing(self.selected, keys)
        width, insert_only = self.width, self.profile.mode == "insert"
        found: dict[int, int | None] = {}
        for position, (i, row) in enumerate(zip(good, zip(keys, *lists, strict=True),
                                                strict=True)):
            current = existing.get(row[0])
            if current is None:
                found[position] = None
            elif not insert_only and not (current[:width] == row and current[width + 1] is None
                                          and self._same_custom(i, current[width + 2])):
                found[position] = current[width]
        return found

    def _same_custom(self, i: int, stored: str | None) -> bool:
        if not self.customs:
            return True
        current = self._custom_of(stored)
        values = self.values
        return all(current.get(key) == values[n][i] for n, key in self.customs)

    def _custom_of(self, stored: str | None) -> dict[str, Any]:
        """A record's custom values from their JSON text (the same texts come back often)."""
        if stored is None:
            return {}
        memory = self.custom_memory
        found = memory.get(stored)
        if found is None:
            if len(memory) > CUSTOM_MEMORY:
                memory.clear()
            found = memory[stored] = json.loads(stored) or {}
        return found

    def _required(self, creates: list[int], failed: list[Item], now: datetime) -> list[int]:
        """New rows lacking a required value fail, named by the engine's own check."""
        checks = self.writes.required
        if not creates or checks is None:
            return creates
        lists = None if checks is True else [self._required_values(*c) for c in checks]
        kept = []
        for i in creates:
            if lists is None or any(values[i] is None for values in lists):
                item = self.item(i)
                problem = self.engine._missing_required(self.engine._new_row(item, now))
                if problem is not None:
                    item.problems.append(problem)
                    failed.append(item)
                    continue
            kept.append(i)
        return kept

    def _required_values(self, kind: str, at: Any) -> Any:
        if kind == "ref":
            return self.ids[at]
        if kind == "partners":
            return self.partners or _Nones()
        return self.values[at]

    def item(self, i: int) -> Item:
        """Row `i` as the engine's _convert and _resolve_refs would have made it."""
        found = self.items.get(i)
        if found is not None:
            return found
        item = self._failed_item(i)
        item.key = self.keys[i]
        for column, values in zip(self.columns, self.values, strict=True):
            target, value = column.column.target, values[i]
            if column.is_money and column.money:
                value = cents_to_decimal(value)
            if target.kind == "field":
                item.values[target.name] = value
            elif target.kind == "ref":
                if value is not None:
                    item.refs[target.name] = value
                else:
                    item.values[f"{target.name}_id"] = None
            elif target.kind == "custom":
                item.custom[target.name] = value
        for _n, name in self.refs:
            if name in item.refs:
                item.values[f"{name}_id"] = self.ids[name][i]
                if name == "account":
                    item.values.setdefault("_account_partner_id", self.partners[i])
        self.items[i] = item
        return item


_gc_lock = threading.Lock()
_gc_runs = 0
_gc_was_enabled = True


@contextmanager
def _collecting_between_batches() -> Iterator[Callable[[], None]]:
    """Cyclic garbage collected between batches, not every 700 allocations: a batch makes
    hundreds of thousands of short-lived lists and tuples, and each automatic collection
    walks the survivors again (a tenth of the run's time). The collector is process-wide:
    runs in other threads share the setting, and the last one out turns it back on."""
    global _gc_runs, _gc_was_enabled
    with _gc_lock:
        _gc_runs += 1
        if _gc_runs == 1:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
    batches = count(1)

    def collect() -> None:
        gc.collect(2 if next(batches) % FULL_COLLECTION_EVERY == 0 else 1)

    try:
        yield collect
    finally:
        with _gc_lock:
            _gc_runs -= 1
            if _gc_runs == 0 and _gc_was_enabled:
                gc.enable()


_MISSING = object()
_TEXT = {str, type(None)}


def _custom_for(sqlite: bool, values: tuple, keys: list[str]) -> Any:
    """SQLite: the values as json_extract gives them back (None when one cannot be);
    PostgreSQL: a JSON object of the values that are not None."""
    if not sqlite:
        return json.dumps({k: v for k, v in zip(keys, values, strict=True) if v is not None})
    found = []
    for value in values:
        if isinstance(value, list | dict):
            value = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        elif not isinstance(value, str | int | float | None):
            return None
        found.append(value)
    return tuple(found)


def _is_cents(column: Any) -> bool:
    return isinstance(column.type, Numeric) and column.type.scale == 2


class _Writes:
    """How new rows of the batch path are written: the columns, and their values per row."""

    def __init__(self, batch: BatchImport) -> None:
        self.batch = batch
        engine = batch.engine
        table = engine.model.__table__
        dialect = db.engine.dialect
        self.sqlite = batch.bulk.sqlite
        self.names: list[str] = ["tenant_id"]
        self.values: list[Callable[[list[int], dict[str, Any]], Any]] = [
            lambda rows, now: repeat(batch.tenant_id, len(rows))]
        for n, column in enumerate(batch.columns):
            target = column.column.target
            if target.kind == "field":
                self._add(target.name, self._field(n, table.c[target.name], dialect))
            elif target.kind == "ref":
                self._add(f"{target.name}_id", self._picked(lambda name=target.name:
                                                            batch.ids[name]))
        if "partner_id" in table.c and "partner_id" not in self.names \
                and engine.entity.name != "accounts":
            self._add("partner_id", self._picked(lambda: batch.partners or _Nones()))
        self._add("custom", self._custom(table.c.custom, dialect))
        run = engine.run
        for name, value in (("created_at", None), ("updated_at", None),
                            ("import_run_id", run.id), ("import_profile_id", run.profile_id)):
            self._add(name, self._constant(table.c[name], dialect, value))
        for column in table.columns:  # what SQLAlchemy's insert fills in from the model
            if column.key in self.names or column.primary_key or column.default is None:
                continue
            default = column.default
            if not (default.is_scalar or default.is_callable):
                raise NotImplementedError(f"default of {column.key}")
            value = default.arg if default.is_scalar else default.arg(None)
            self._add(column.key, self._constant(column, dialect, value))
        self.required = self._required_checks()

    def _add(self, name: str, values: Callable[[list[int], datetime], Any]) -> None:
        self.names.append(name)
        self.values.append(values)

    def insert(self, rows: list[int], now: datetime) -> None:
        columns = [values(rows, now) for values in self.values]
        self.batch.bulk.insert(self.names, zip(*columns, strict=True))

    # -- column values ------------------------------------------------------------------------

    def _picked(self, source: Callable[[], list[Any]]) -> Callable:
        def values(rows: list[int], now: datetime) -> list[Any]:
            found = source()
            return [found[i] for i in rows]

        return values

    def _field(self, n: int, column: Any, dialect: Any) -> Callable:
        batch = self.batch
        kind = next(kind for at, _name, kind in batch.compared if at == n)
        if kind == "money":
            if self.sqlite:  # SQLAlchemy binds Decimal as float: the same double as cents/100
                def convert(cents: int | None) -> Any:
                    return None if cents is None else cents / 100
            else:
                convert = _cents_text
        elif kind == "date" and self.sqlite:
            name = column.name

            def values(rows: list[int], now: datetime) -> list[Any]:
                found = batch._compared_values(n, "date", name)
                return [found[i] for i in rows]

            return values
        else:
            convert = column.type._cached_bind_processor(dialect)

        def values(rows: list[int], now: datetime) -> list[Any]:
            found = batch.values[n]
            if convert is None:
                return [found[i] for i in rows]
            return [None if found[i] is None else convert(found[i]) for i in rows]

        return values

    def _custom(self, column: Any, dialect: Any) -> Callable:
        batch = self.batch
        process = column.type._cached_bind_processor(dialect)
        memory: dict[tuple, Any] = {}

        def values(rows: list[int], now: datetime) -> list[Any]:
            lists = [batch.values[n] for n, _key in batch.customs]
            keys = [key for _n, key in batch.customs]

            def values_of(i: int) -> list[Any]:
                return [values[i] for values in lists]

            texts = []
            if len(memory) > CUSTOM_MEMORY:
                memory.clear()
            for i in rows:
                given = tuple(values[i] for values in lists)
                try:
                    text = memory.get(given)
                except TypeError:  # a list among them (multiple choice): not remembered
                    given, text = None, None
                if text is None:
                    custom = {k: v for k, v in zip(keys, values_of(i), strict=True)
                              if v is not None}
                    text = process(custom) if process else json.dumps(custom)
                    if given is not None:
                        memory[given] = text
                texts.append(text)
            return texts

        return values

    def _constant(self, column: Any, dialect: Any, value: Any) -> Callable:
        process = column.type._cached_bind_processor(dialect)

        def values(rows: list[int], now: datetime) -> Any:
            found = now if value is None and column.key in ("created_at", "updated_at") \
                else value
            if process is not None and found is not None:
                found = process(found)
            return repeat(found, len(rows))

        return values

    def _required_checks(self) -> list[tuple[str, Any]] | bool | None:
        """Where each required value of a new row is: ("field", column), ("ref", name) or
        ("partners", None); True when every new row lacks one; None when none is required."""
        batch, engine = self.batch, self.batch.engine
        from importers.engine import _has_default

        names = {c.column.target.name: n for n, c in enumerate(batch.columns)
                 if c.column.target.kind == "field"}
        refs = {name for _n, name in batch.refs}
        checks: list[tuple[str, Any]] = []
        for spec in engine.entity.fields:
            if not spec.required or _has_default(spec.name):
                continue
            if spec.type == "ref" and spec.name in refs:
                checks.append(("ref", spec.name))
            elif spec.type != "ref" and spec.name in names:
                checks.append(("field", names[spec.name]))
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


class _Nones:
    def __getitem__(self, index: int) -> None:
        return None


def _cents_text(cents: int | None) -> str | None:
    if cents is None:
        return None
    sign, cents = ("-", -cents) if cents < 0 else ("", cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"
