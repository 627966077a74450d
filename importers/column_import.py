"""A CSV file into an entity without lines, a column of a batch at a time (the engine's
fast path).

The steps and their order are the engine's (importers/engine.py): convert, refuse rows with
problems or repeated keys, resolve references, compare with the existing records, write,
fall back to row by row in a batch the database refused. What changes is the unit of work:

- Cells are converted a column at a time (importers/csv_columns.py); a row becomes a Python
  object (an Item) only when it fails, changes a record, or its batch is refused.
- Existing records are compared with one statement per batch (importers/existing_records.py):
  an unchanged row costs no dict, no Decimal and no write. A row found different is planned
  again by the engine (`plan_update`), which makes its update, audit event and diff. The
  tenant's first records of an entity are not compared: its table held none of them.
- New records go in with executemany or COPY (importers/new_records.py, app/services/
  record_sql.py), changed ones and their audit events through the engine's record writer
  (app/services/record_batches.py), whose savepoint and row-by-row fallback apply.
- A row whose fingerprint (importers/fingerprints.py) is the one stored on the record of its
  key is unchanged before any cell is converted: per row, its key noted, a hash and a
  comparison. The others go through the steps above; the records they create, and those found
  equal and not written by anyone since the batch read them, take their fingerprint.
- Related records are read once per run (all of them when they are fewer than the file's
  rows) and remembered: the run holds its profile's lock, and a reference is resolved as it
  was when first met (one renamed meanwhile: the fingerprints of the records naming it are
  forgotten again at the run's end).
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import chain
from operator import eq, itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, Numeric

from app.entities import ENTITIES
from app.models import ACTIVITY_RECORDS
from app.services.fingerprints import RENAMES_BEFORE_START, forget_changed_since
from app.services.record_sql import READ_AT, collecting_between_batches
from app.services.webhook_outbox import enqueue_created
from app.tenancy import current_tenant_id
from importers import fingerprints, unchanged_lines
from importers.convert import Column
from importers.csv_columns import (
    BatchColumn,
    RowBatch,
    can_batch,
    cents_to_decimal,
    csv_batches,
)
from importers.existing_records import ExistingRecords
from importers.items import Item, Plan
from importers.new_records import NewRecords
from importers.readers import Table

if TYPE_CHECKING:
    from importers.engine import ImportEngine

REFERENCE_MEMORY = 200_000  # related records remembered per reference column
DATE_MEMORY = 50_000  # dates remembered as SQLite stores them


def applies(engine: ImportEngine, table: Table) -> bool:
    """Files without lines, except activities that name a record besides their customer:
    the row path checks that record is the customer's (ImportEngine.link_problem)."""
    links = {f"{name}s" for name in ACTIVITY_RECORDS}
    linked = engine.entity.name == "activities" and any(
        t.kind == "ref" and engine.entity.field(t.name).ref in links
        for t in engine.profile.targets)
    return not engine.profile.has_lines and not linked and can_batch(table)


class ColumnImport:
    """One run of the column path; `engine` plans what changes, records failures, counts and
    progress."""

    def __init__(self, engine: ImportEngine, columns: list[Column]) -> None:
        self.engine = engine
        self.profile = profile = engine.profile
        self.tenant_id = current_tenant_id()
        if engine.run.tenant_id != self.tenant_id:
            raise RuntimeError("the run belongs to another tenant")
        table = engine.model.__table__
        self.bulk = engine.writer.sql
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
        # The columns of the file holding the table's unique fields besides the key.
        self.unique_at = {c.target.name: n for n, c in enumerate(columns)
                          if c.target.kind == "field" and c.target.name in engine.writer.unique}
        self.refs = [(n, c.target.name) for n, c in enumerate(columns)
                     if c.target.kind == "ref"]
        # The columns of a start and an end date (engine.date_pair), when both are mapped.
        dates = {c.target.name: n for n, c in enumerate(columns) if c.target.kind == "field"}
        self.dates_at = [dates[name] for name in engine.date_pair or ()
                         if name in dates] if engine.date_pair else []
        self.reference_memory: dict[str, dict[str, tuple[int, int | None]]] = {
            name: {} for _n, name in self.refs}
        self.preloaded: set[str] = set()
        self.iso: dict[date, str] = {}
        # Fingerprints, where a row's key is its stripped cell (a key through a value
        # mapping is not): their function once the file's width is known, a batch's.
        self.fingerprinted = self.key_is_text
        self.digests_of: Any = None
        self.digests: list[bytes] | None = None
        self.changed_at: dict[str, int] = {}  # a changed row's place in the batch, by key
        self.existing = ExistingRecords(self)
        self.new = NewRecords(self)
        # The tenant's first records of the entity: a key of the file cannot name a record
        # (repeats are refused before), so batches are not compared with the table. A record
        # another write creates meanwhile under a key of the file is still found: the unique
        # key refuses that row, which the row path then plans again.
        self.all_new = profile.mode != "update" and bool(self.new.unique_key) \
            and not self.bulk.holds_any()

    def run(self, table: Table, size: int) -> None:
        self.batch_rows = size
        batches = csv_batches(table, size)
        if self.fingerprinted:
            engine = self.engine
            salt = fingerprints.salt(engine.run.profile_id, self.profile, engine.custom_fields,
                                     engine.limits.max_field_length)
            self.digests_of = fingerprints.row_digests(
                salt, [c.column.index for c in self.columns], len(table.header))
            if unchanged_lines.applies(table):
                batches = unchanged_lines.batches(table, size, self, salt)
        with collecting_between_batches() as collect:
            for batch in batches:
                self.process(batch)
                # The batch's rows and values let go before the collection, which would
                # otherwise walk them all (a tenth of a first import's own CPU time).
                del batch
                self.batch = self.items = self.values = self.keys = None
                self.ids, self.partners, self.digests = {}, None, None
                collect()
        if self.fingerprinted and self.refs and not self.engine.run.is_dry_run:
            self._forget_renamed_references()

    def _forget_renamed_references(self) -> None:
        """The fingerprints of the records naming a record whose reference changed while
        the run ran (or a customer whose partner did), forgotten once more at its end. The
        run resolves a reference as it first met it (remembered across batches): a row
        naming a customer renamed since took its fingerprint as if the customer still bore
        that name, and the rename's own forgetting (app/services/fingerprints.py) may have
        come before the run stored it."""
        started = self.engine.run.started_at
        if started is None:
            return
        forget_changed_since(self.engine.entity.name,
                             {self.engine.entity.field(name).ref for _n, name in self.refs},
                             started - RENAMES_BEFORE_START)

    # -- one batch ------------------------------------------------------------------------------

    def process(self, batch: RowBatch) -> None:
        engine = self.engine
        rows = len(batch)
        repeated: dict[int, int] | None = None
        if batch.digests is not None:  # read by its lines: keys noted, unchanged rows out
            self.digests, repeated = batch.digests, batch.repeated
            rows += batch.recognised
            engine.outcome.unchanged += batch.recognised
            engine.outcome.fingerprinted += batch.recognised
            if batch.recognised:
                engine.has_keys = True
        elif self.digests_of is not None:
            batch, self.digests, repeated = self._without_fingerprinted(batch)
        if not len(batch):
            engine.run.rows_done += rows
            engine.save_progress()
            return
        self.batch, self.items = batch, {}
        with engine.errors_after_write():
            self._check_and_write(batch, repeated)
        engine.run.rows_done += rows
        engine.save_progress()

    def _check_and_write(self, batch: RowBatch, repeated: dict[int, int] | None) -> None:
        """The batch's rows converted, checked and written; the failed ones recorded."""
        engine = self.engine
        cells_of = list(zip(*batch.cells, strict=True))
        problems: dict[int, list] = {index: [engine.extra_cells_problem(count)]
                                     for index, count in batch.extra.items()}
        too_long: dict[int, set[int]] = {}  # column → rows whose cell is over the limit
        for index, at_columns in batch.long.items():
            for at in at_columns:
                too_long.setdefault(at, set()).add(index)
        values = []
        for column in self.columns:
            at, target = column.column.index, column.column.target
            cells, long = cells_of[at], too_long.get(at, ())
            converted, failures = column.convert(cells)
            for index, exc in failures:
                if index not in long:
                    problems.setdefault(index, []).append(
                        engine.cell_problem(target, cells[index], exc))
            for index in long:
                converted[index] = None
                problems.setdefault(index, []).append(
                    engine.long_cell_problem(target, cells[index]))
            values.append(self._defaulted(column, converted))
        self.values = values
        keys = values[self.key_at]
        if not self.key_is_text:
            keys = [None if key in (None, "") else str(key) for key in keys]
        self.keys = keys
        keyed = range(len(batch))
        if None in keys:
            keyed = [index for index, key in enumerate(keys) if key is not None]
            for index, key in enumerate(keys):
                if key is None and index not in problems:
                    problems[index] = [engine.empty_key_problem()]
        lines = batch.lines
        if repeated is None:
            repeats = engine.note_keys([(keys[i], lines[i]) for i in keyed])
            repeated = {keyed[position]: first for position, first in repeats.items()}
        for index, first in repeated.items():
            if index not in problems:
                problems[index] = [engine.repeated_key_problem(keys[index], first,
                                                               lines[index])]
        self.ids: dict[str, list[Any]] = {}
        self.partners: list[Any] | None = None
        self._resolve(problems)  # a failed row's unknown customer is told with its other errors
        self._fail(problems)
        good = [i for i in range(len(batch)) if i not in problems] if problems \
            else list(range(len(batch)))
        if good:
            self._classify_and_write(good)

    def _without_fingerprinted(self, batch: RowBatch
                               ) -> tuple[RowBatch, list[bytes], dict[int, int]]:
        """The batch's rows that their fingerprint does not say unchanged, with their
        fingerprints and repeated keys (index → first line); the others counted unchanged.
        Every key is noted, in the file's order: full sync sees it, a repeat is found."""
        engine, key = self.engine, self.columns[self.key_at]
        at, limit = key.column.index, key.text_limit
        keys: list[str | None] = list(map(str.strip, map(itemgetter(at), batch.cells)))
        if "" in keys or max(map(len, keys), default=0) > limit:
            keys = [k if k and len(k) <= limit else None for k in keys]
        for index, columns in batch.long.items():
            if at in columns:  # the key's cell is over the length limit: a row error
                keys[index] = None
        lines = batch.lines
        if None in keys:
            keyed = [i for i, k in enumerate(keys) if k is not None]
            repeats = engine.note_keys([(keys[i], lines[i]) for i in keyed])
            repeated = {keyed[position]: first for position, first in repeats.items()}
        else:
            repeats = engine.note_keys(list(zip(keys, lines, strict=True)))
            repeated = repeats  # positions are indexes
        digests = self.digests_of(batch.cells)
        # The tenant's first records: none stored can hold a digest of this run's profile.
        stored = {} if self.all_new else self.bulk.digests([k for k in keys if k is not None])
        get = stored.get
        same = list(map(eq, map(get, keys), digests))  # keys and digests: one per row
        for index in chain(repeated, batch.extra, batch.long):
            same[index] = False
        skipped = sum(same)
        if not skipped:
            return batch, digests, repeated
        engine.outcome.unchanged += skipped
        engine.outcome.fingerprinted += skipped
        kept = [i for i, s in enumerate(same) if not s]
        rest = RowBatch(lines=[lines[i] for i in kept], cells=[batch.cells[i] for i in kept])
        if batch.extra or batch.long or repeated:
            position = {i: n for n, i in enumerate(kept)}
            rest.extra = {position[i]: n for i, n in batch.extra.items()}
            rest.long = {position[i]: c for i, c in batch.long.items()}
            repeated = {position[i]: first for i, first in repeated.items()}
        return rest, [digests[i] for i in kept], repeated

    def _defaulted(self, column: BatchColumn, values: list[Any]) -> list[Any]:
        """Empty cells of a column with a default hold it (the engine's rule), in the
        batch's terms: amounts in cents."""
        target = column.column.target
        default = self.engine.defaults.get(target.name) if target.kind == "field" else None
        if default is None or None not in values:
            return values
        if column.money:
            default = int(default.scaleb(2))
        return [default if value is None else value for value in values]

    def _fail(self, problems: dict[int, list]) -> None:
        for index in sorted(problems):
            item = self._failed_item(index)
            item.problems = problems[index]
            self.engine.fail(item)

    def _failed_item(self, index: int) -> Item:
        return Item(line=self.batch.lines[index], raw=list(self.batch.cells[index]))

    # -- references -----------------------------------------------------------------------------

    def _resolve(self, problems: dict[int, list]) -> None:
        """Ids of related records by their external_ref; a row naming an unknown one gets
        that problem too (added to `problems`, by row)."""
        for n, name in self.refs:
            refs = self.values[n]
            memory = self.reference_memory[name]
            named = set(refs)
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
            index = self.columns[n].column.index
            for i, ref in enumerate(refs):
                if hits[i] is None and ref is not None:
                    cells = self.batch.cells[i]
                    problems.setdefault(i, []).append(self.engine.unknown_reference_problem(
                        name, ref, cells[index] if index < len(cells) else None))

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

    def compared_values(self, n: int, kind: str, name: str) -> list[Any]:
        """A compared column's values over the batch, in the database's terms."""
        if kind == "ref":
            return self.ids[name[:-3]]
        values = self.values[n]
        if kind == "date" and self.bulk.sqlite:  # stored as the text SQLAlchemy writes
            iso = self.iso
            if len(iso) > DATE_MEMORY:
                iso.clear()
            return [None if d is None else iso.get(d) or iso.setdefault(d, d.isoformat())
                    for d in values]
        return values

    def _classify_and_write(self, good: list[int]) -> None:
        engine, mode = self.engine, self.profile.mode
        keys = [self.keys[i] for i in good]
        if self.all_new:
            found: dict[int, bool | None] = dict.fromkeys(range(len(good)))
        else:
            lists = [self.compared_values(n, kind, name) for n, name, kind in self.compared]
            if len(good) < len(self.batch):
                lists = [[values[i] for i in good] for values in lists]
            found = self.existing.differing(good, keys, lists)
        creates: list[int] = []
        changed: list[int] = []
        failed: list[Item] = []
        for position in sorted(found):
            i = good[position]
            if found[position]:
                changed.append(i)
            elif mode == "update":
                item = self.item(i)
                item.problems.append(engine.no_record_problem(keys[position]))
                failed.append(item)
            else:
                creates.append(i)
        now = datetime.now(UTC)
        plan = Plan(unchanged=len(good) - len(found))
        self.changed_at = {self.keys[i]: i for i in changed}
        if changed:  # checked again, and planned, by the engine on the ORM's values
            current = engine.with_partners(self.existing.records)
            for i in changed:
                engine.plan_update(plan, self.item(i), current[self.keys[i]], None, now)
        plan.creates = self._in_order(self._required(creates, failed, now), failed)
        plan.failed = sorted(plan.failed + failed, key=lambda item: item.line)
        equal: list[int] = []
        if self.digests is not None and mode != "insert" and len(found) < len(good):
            equal = [i for position, i in enumerate(good) if position not in found]
        if engine.run.is_dry_run:
            lines = self.batch.lines
            engine.refuse_as_written(plan, [(lines[i], self.unique_values(i))
                                            for i in plan.creates],
                                     lambda n: self.item(plan.creates[n]))
        apart: set[int] = set()  # new rows a unique key refuses (write_batch's set_apart)

        def set_apart() -> bool:
            if engine.renumbers(plan):
                return False
            apart.update(plan.creates[n] for n in engine.writer.clashing(
                [self.unique_values(i) for i in plan.creates]))
            return bool(apart)

        engine.account(engine.write_plan(
            plan, lambda: self._write(plan, now, equal, apart),
            (item for i in good if not (item := self.item(i)).problems), set_apart))

    def _write(self, plan: Plan, now: datetime, equal: list[int], apart: set[int]) -> None:
        """The batch's writes; `equal`: rows found equal to their record, which takes their
        fingerprint unless it was written since (a write between this batch's read and its
        own would hide behind it), as a record the batch changes does (`_with_digests`);
        `apart`: new rows to write alone, after the others."""
        engine = self.engine
        if engine.run.is_dry_run:
            return
        keys = [self.keys[i] for i in equal]
        read = self.existing.as_read(keys) if equal else None
        if read is not None:
            self.bulk.set_digests([(key, self.digests[i], at) for key, i, at
                                   in zip(keys, equal, read, strict=True)],
                                  engine.run.profile_id)
        creates = [i for i in plan.creates if i not in apart] if apart else plan.creates
        alone = sorted(apart)
        if creates:
            taken = self.new.insert(creates, now)
            if taken:
                left_out = set(taken)
                creates = [i for i in creates if i not in left_out]
                alone = sorted(left_out.union(apart))
            enqueue_created(engine.entity.name, key=self.profile.key,
                            keys=[self.keys[i] for i in creates])
        if plan.updates:
            if self.digests is not None:
                self._with_digests(plan.updates)
            engine.update_records([row for _item, row in plan.updates])
            engine.writer.audit(plan.audits)
        plan.creates = creates  # (a refused batch is written again from the plan as it was)
        if alone:  # last: nothing after it can refuse the batch and plan these rows again
            # Their key or number was taken since the batch read it, or is given twice:
            # planned again alone, an update now, or a row refused and named.
            plan.merge(engine.write_alone([self.item(i) for i in alone]))

    def unique_values(self, i: int) -> dict[str, Any]:
        """Row `i`'s values of the table's unique columns (its key, a number) that the file
        gives, as a new record would hold them."""
        found = {}
        for name in self.engine.writer.unique:
            if name == self.profile.key:
                found[name] = self.keys[i]
            elif name in self.unique_at:
                found[name] = self.values[self.unique_at[name]][i]
        return found

    def _required(self, creates: list[int], failed: list[Item], now: datetime) -> list[int]:
        """New rows lacking a required value fail, named by the engine's own check."""
        if not creates or self.new.required is None:
            return creates
        lists = self.new.required_values()
        # Rows lacking a value, found a column at a time (None is rare: most batches have none).
        lacking = None if lists is None else {
            i for values in lists if None in values for i in creates if values[i] is None}
        if lacking is not None and not lacking:
            return creates
        kept = []
        for i in creates:
            if lacking is None or i in lacking:
                item = self.item(i)
                problem = self.engine.missing_required(self.engine.new_row(item, now))
                if problem is not None:
                    item.problems.append(problem)
                    failed.append(item)
                    continue
            kept.append(i)
        return kept

    def _in_order(self, creates: list[int], failed: list[Item]) -> list[int]:
        """New rows whose end date is before their start date fail, named by the engine's
        own check (an update is checked by `plan_update`)."""
        if len(self.dates_at) != 2 or not creates:
            return creates
        starts, ends = (self.values[n] for n in self.dates_at)
        start_name, end_name = self.engine.date_pair
        kept = []
        for i in creates:
            start, end = starts[i], ends[i]
            if start is not None and end is not None and end < start:
                item = self.item(i)
                item.problems.append(self.engine.date_order_problem(
                    {start_name: start, end_name: end}))
                failed.append(item)
                continue
            kept.append(i)
        return kept

    def _with_digests(self, updates: list[tuple[Item, dict[str, Any]]]) -> None:
        """The changed records take their rows' fingerprints in their update, unless written
        since this batch read them (BulkSQL.update checks, by READ_AT): the next night's
        same row is then skipped, not compared again. None taken when SQLite saw another
        connection commit since the read: they are compared again by the next run."""
        read = self.existing.as_read([item.key for item, _row in updates])
        if read is None:
            return
        for (item, row), at in zip(updates, read, strict=True):
            row["import_digest"], row[READ_AT] = self.digests[self.changed_at[item.key]], at

    def item(self, i: int) -> Item:
        """Row `i` as the engine's _convert and _resolve_refs would have made it."""
        found = self.items.get(i)
        if found is not None:
            return found
        item = self._failed_item(i)
        item.key = self.keys[i]
        for column, values in zip(self.columns, self.values, strict=True):
            target, value = column.column.target, values[i]
            if column.money:
                value = cents_to_decimal(value)
            item.place(target, value)
        for _n, name in self.refs:
            if name in item.refs:
                item.values[f"{name}_id"] = self.ids[name][i]
                if name == "account":
                    item.values.setdefault("_account_partner_id", self.partners[i])
        self.items[i] = item
        return item


def _is_cents(column: Any) -> bool:
    return isinstance(column.type, Numeric) and column.type.scale == 2
