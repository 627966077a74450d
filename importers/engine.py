"""The import engine: a file through a profile into an entity, in batches.

Parse-and-convert is pure (rows in, converted rows or row-numbered errors out); the writing
step runs batch by batch in savepoints: bulk reads of existing keys and related records, one
executemany per kind of write, row by row only inside a batch that failed, to name its bad
rows. Each batch commits, so good rows are kept and progress shows; re-running a file gives
the state one clean run gives (upsert by key).

CSV files into entities without lines take the column path (importers/column_import.py): the
same steps a column and a batch at a time, unchanged rows recognised without a Python object
per row, new rows written with executemany (SQLite) or COPY (PostgreSQL). Everything else, and
every rare case of the column path (a row to update, a batch the database refused), runs the
public methods below, so both paths give the same records, counts, errors and audit events.
Records are planned by the rules of app/services/record_rules.py and written by the one batch
writer of records (app/services/record_batches.py).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property, lru_cache
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, text, update

from app.custom_fields import definitions
from app.entities import ENTITIES
from app.extensions import db
from app.models import Activity, ImportRowError, ImportRun
from app.models.base import FEED_STAMPS as STAMPS
from app.services.audit import audit_row
from app.services.record_batches import RecordWriter, write_batch, write_each
from app.services.record_checks import (
    DATE_PAIRS,
    account_of,
    activity_errors,
    date_order_errors,
)
from app.services.record_rules import (
    LINE_TOTALS,
    MONEY_LIMIT,
    chunks,
    column_default,
    default_partner,
    jsonable,
    line_totals,
    lines_of,
    normalized_line,
    partners_of_accounts,
    required_to_create,
    takes_account_partner,
)
from app.services.webhook_outbox import enqueue_created
from importers import column_import, documents
from importers.convert import Column, compile_columns
from importers.errors_csv import is_errors_file
from importers.items import Item, Outcome, Plan, Problem
from importers.keylog import KeyLog
from importers.profile import Profile, Target
from importers.readers import Limits, ReaderError, open_table, unquoted
from importers.row_messages import cell_message
from importers.values import InvalidValue, cell_text, make_date_parser

BATCH_ROWS = 10_000
DIFF_SAMPLE = 20
ARCHIVE_CHUNK = 5000
# A unique key of the table a refused row would share with another record.
ALREADY_USED = {"number": _l("This number is already used."),
                "external_ref": _l("This reference is already used.")}
# One message per related entity, translated whole when shown (French nouns have genders).
NO_REFERENCE = {
    "accounts": _l("No customer with the reference “%(ref)s”."),
    "partners": _l("No partner with the reference “%(ref)s”."),
    "deals": _l("No deal with the reference “%(ref)s”."),
    "quotes": _l("No quote with the reference “%(ref)s”."),
    "orders": _l("No order with the reference “%(ref)s”."),
    "contacts": _l("No contact with the reference “%(ref)s”."),
    "contracts": _l("No contract with the reference “%(ref)s”."),
    "invoices": _l("No invoice with the reference “%(ref)s”."),
}
assert {f.ref for e in ENTITIES.values() for f in e.fields if f.type == "ref"} \
    <= {*NO_REFERENCE, "users"}  # users are not referenced by feeds


class RecordsGone(Exception):
    """A record the batch updates was deleted since the batch read it."""


class ImportEngine:
    """Runs one ImportRun (already created and holding its profile's lock)."""

    def __init__(self, run: ImportRun, profile: Profile, path: Path, limits: Limits,
                 progress: Any = None):
        self.run, self.profile, self.path, self.limits = run, profile, path, limits
        self.entity = profile.entity
        self.model = self.entity.model
        self.key_column = getattr(self.model, profile.key)
        self.custom_fields = {cf.key: cf for cf in definitions(self.entity.name)}
        self.seen = KeyLog()  # key → first line, in bounded memory
        self.has_keys = False  # a row of the file had a key
        self.key_header = next(t.header for t in profile.targets
                               if t.kind == "field" and t.name == profile.key)
        # An empty cell means the column's default where it has one, on create and update
        # alike; a field that cannot be empty otherwise is required (docs/feeds.md).
        self.defaults = {spec.name: default for spec in self.entity.fields
                         if (default := column_default(self.entity, spec)) is not None}
        self.required = required_to_create(self.entity)
        self.writer = RecordWriter(self.entity, profile.key)
        self.outcome = Outcome()
        self.progress = progress
        self.diffs: list[dict[str, Any]] = []
        # Row errors of the batch being processed, added to the session once it is written
        # (`errors_after_write`); None outside a batch: added at once.
        self.held_errors: list[ImportRowError] | None = None
        # A profile's documents, when its rows name files of a ZIP archive (set by `opened`).
        self.documents: documents.RowDocuments | None = None
        self.ref_cells: dict[str, int] = {}  # a reference's column in the file, by target
        self.day_cells: frozenset[int] = frozenset()  # the file's columns of dates

    # -- reading and converting (no database writes) -------------------------------------

    def items(self, columns: list[Column], rows: Iterator[Any]) -> Iterator[Item]:
        """Converted records; with lines, consecutive rows of one key form one document."""
        current: Item | None = None
        for row in rows:
            item = self._convert(columns, row)
            if self.profile.has_lines and current is not None and item.key is not None \
                    and item.key == current.key:
                current.lines.extend(item.lines or [])
                current.extra_lines.append((row.line, row.cells))
                if item.problems:
                    current.member_problems[row.line] = item.problems
                continue
            if current is not None:
                yield current
            current = item
        if current is not None:
            yield current

    def _convert(self, columns: list[Column], row: Any) -> Item:
        item = Item(line=row.line, raw=list(row.cells))
        line: dict[str, Any] = {}
        if getattr(row, "extra_cells", 0):
            item.problems.append(self.extra_cells_problem(row.extra_cells))
        for column in columns:
            raw = row.cells[column.index] if column.index < len(row.cells) else None
            target = column.target
            if column.index in row.long_cells:
                item.problems.append(self.long_cell_problem(target, raw))
                continue
            try:
                value = column.convert(raw)
            except ValueError as exc:  # InvalidValue included
                item.problems.append(self.cell_problem(target, raw, exc))
                continue
            if target.kind == "line":
                line[target.name] = value
            else:
                item.place(target, value)
        key = item.values.get(self.profile.key)
        item.key = str(key) if key not in (None, "") else None
        if item.key is None and not item.problems:
            item.problems.append(self.empty_key_problem())
        if self.profile.has_lines:
            item.lines = [line] if any(v is not None for v in line.values()) else []
        return item

    # The problems a row can have, shared by both paths.

    def extra_cells_problem(self, count: int) -> Problem:
        # One wording for one cell and for several (a row error's message has one form).
        return Problem(None, None, _l("Cells beyond the header (%(cells)d)."), {"cells": count})

    def long_cell_problem(self, target: Target, raw: Any) -> Problem:
        return Problem(target.header, raw, _l("At most %(n)d characters."),
                       {"n": self.limits.max_field_length})

    def cell_problem(self, target: Target, raw: Any, exc: ValueError) -> Problem:
        if isinstance(exc, InvalidValue):
            message, params = cell_message(exc, self.profile.date_format, self.profile.decimal)
            return Problem(target.header, raw, message, params)
        return Problem(target.header, raw, str(exc))

    def empty_key_problem(self) -> Problem:
        return Problem(self.key_header, None, _l("The key is empty."))

    def repeated_key_problem(self, key: str, first: int, line: int) -> Problem:
        return Problem(self.key_header, key, _l(
            "The key “%(key)s” is repeated: line %(first)d and line %(line)d."),
            {"key": key[:60], "first": first, "line": line})

    def unknown_reference_problem(self, target: str, ref: str, cell: Any = None) -> Problem:
        """No record has the reference `ref`, which the row's `cell` gave (itself, or a
        value a mapping took to it): the error keeps the cell, as the file has it."""
        spec = self.entity.field(target)
        header = next(t.header for t in self.profile.targets
                      if t.kind == "ref" and t.name == target)
        return Problem(header, ref if cell in (None, "") else cell, NO_REFERENCE[spec.ref],
                       {"ref": ref[:60]})

    def required_problem(self, name: str, creating: bool = False) -> Problem:
        """A required field left empty (or absent, to create), named by its column."""
        header = self.header_of(name)
        if creating:
            return Problem(header, None, _l("%(field)s is required to create a record."),
                           {"field": str(self.entity.field(name).label), "field_name": name,
                            "entity": self.entity.name})
        return Problem(header, None, _l("This field is required."))

    def header_of(self, name: str) -> str | None:
        return next((t.header for t in self.profile.targets
                     if t.kind in ("field", "ref") and t.name == name), None)

    def refused_problem(self, exc: Exception, item: Item | None = None) -> Problem:
        """A row the database refused: an empty NOT NULL column, or a number or reference
        another record has, is named by its column, never by the database's raw text."""
        column = _not_null_column(exc)
        if column is not None:
            spec = next((f for f in self.entity.fields if f.attr == column), None)
            if spec is not None:
                return self.required_problem(spec.name)
            return Problem(column, None, _l("This field is required."))
        taken = _taken_field(exc)
        if taken is not None:
            return self.taken_problem(taken, item)
        return Problem(None, None, _l("The database refused the row: %(reason)s"),
                       {"reason": _db_reason(exc)})

    def taken_problem(self, field: str, item: Item | None = None) -> Problem:
        """A unique `field` (a number, a reference) whose value another record holds."""
        value = None if item is None else item.values.get(field)
        return Problem(self.header_of(field), None if value is None else str(value),
                       ALREADY_USED[field])

    def no_record_problem(self, key: str) -> Problem:
        return Problem(None, key, _l("No record with the key “%(key)s” to update."),
                       {"key": key[:60]})

    # -- the run --------------------------------------------------------------------------

    def execute(self) -> Outcome:
        with documents.opened(self) as path:
            return self._execute(path)

    def _execute(self, path: Path) -> Outcome:
        table = open_table(path, encoding=self.profile.encoding,
                           delimiter=self.profile.delimiter, limits=self.limits,
                           sheet=self.profile.sheet)
        sent_back = table.kind == "csv" and is_errors_file(
            table.header, self.profile.definition.get("columns") or ())
        if sent_back:
            table = replace(table, unquote=True,
                            header=[unquoted(name) for name in table.header])
        columns, missing = compile_columns(self.profile, table.header, self.custom_fields,
                                           sent_back=sent_back)
        if self.documents is not None:
            missing += self.documents.bind(table.header)
        self.ref_cells = {c.target.name: c.index for c in columns if c.target.kind == "ref"}
        self.day_cells = frozenset(c.index for c in columns if self._takes_a_day(c.target))
        if missing:
            raise ReaderError(_l("Columns missing from the file: %(names)s."),
                              names=", ".join(missing))
        try:
            if self.documents is None and column_import.applies(self, table):
                column_import.ColumnImport(self, columns).run(table, BATCH_ROWS)
            else:
                batch: list[Item] = []
                for item in self.items(columns, table.rows()):
                    batch.append(item)
                    if len(batch) >= BATCH_ROWS:
                        self._process(batch)
                        batch = []
                if batch:
                    self._process(batch)
            # An errors file sent back fixed holds the rows that failed, not the whole
            # source: full sync would archive every record it does not name.
            if self.profile.full_sync and not sent_back:
                self._archive_absent()
        finally:
            self.seen.close()
        return self.outcome

    def _process(self, batch: list[Item]) -> None:
        for item in batch:
            self._complete(item)
        with self.errors_after_write():
            self._repeated(batch)
            self._resolve_refs(batch)  # a failed row's unknown customer is told with the rest
            items = self._reject(batch)
            if self.documents is not None:
                items = self.documents.check(items)
            if items:
                self._write_batch(items)
                if self.documents is not None:
                    self.documents.attach(items)
        rows = sum(1 + len(i.extra_lines) for i in batch)
        self.run.rows_done += rows
        self.save_progress()

    def _complete(self, item: Item) -> None:
        """Empty mapped cells as they will be stored: a document's totals from its lines,
        else the column's default (an empty "Paid" is 0.00 whether the record is new or not)."""
        values = item.values
        if self.profile.has_lines and item.lines:
            totals = line_totals(_normalized_lines(item.lines))
            if any(abs(total) >= MONEY_LIMIT for total in totals.values()):
                item.problems.append(Problem(None, None, _l("The total is too large.")))
            for name, total in totals.items():
                if name in values and values[name] is None:
                    values[name] = total  # not mapped: computed as before, when written
        for name, default in self.defaults.items():
            if name in values and values[name] is None:
                values[name] = default

    def note_keys(self, pairs: list[tuple[str, int]]) -> dict[int, int]:
        """Note the (key, line) of rows with a key, failed ones too (full sync keeps their
        records); the repeats, by index in `pairs`, with the first line of their key."""
        self.has_keys = self.has_keys or bool(pairs)
        return self.seen.record(pairs)

    def note_range(self, keys: list[str], joined: str, first: int) -> bool:
        """Note the keys of consecutive rows from line `first`, in the database's order and
        exactly those of the live records from the first to the last, as one range (see
        KeyLog.record_range); False when they must be noted one by one."""
        if not self.seen.record_range(keys, joined, first):
            return False
        self.has_keys = True
        return True

    def note_range_of(self, low: str, high: str, ends: tuple[str, str], first: int,
                      load: Callable[[], list[str]]) -> bool:
        """note_range for a range given by its ends (KeyLog.record_range_of)."""
        if not self.seen.record_range_of(low, high, ends, first, load):
            return False
        self.has_keys = True
        return True

    def _repeated(self, batch: list[Item]) -> None:
        """Note the items' keys; a key repeated is the problem of an item that has none."""
        keyed = [item for item in batch if item.key is not None]
        repeats = self.note_keys([(item.key, item.line) for item in keyed])
        for index, first in repeats.items():
            item = keyed[index]
            if not item.problems:
                item.problems.append(self.repeated_key_problem(item.key, first, item.line))

    def _reject(self, batch: list[Item]) -> list[Item]:
        """Record the items' problems; the items that can go in."""
        items = []
        for item in batch:
            if item.has_problems:
                self.fail(item)
            else:
                items.append(item)
        return items

    def fail(self, item: Item) -> None:
        """Record why a record failed: each bad row's problems, "not imported" on the others."""
        self.outcome.failed += 1
        first_bad = item.line if item.problems else min(item.member_problems)
        rows = [(item.line, item.raw, item.problems),
                *((line, cells, item.member_problems.get(line, []))
                  for line, cells in item.extra_lines)]
        for line, cells, problems in rows:
            if not problems:
                problems = [Problem(None, None, _l(
                    "Not imported: line %(line)d of the same document failed."),
                    {"line": first_bad})]
            for problem in problems:
                self._record_error(line, cells, problem)

    def _record_error(self, line: int, cells: list[Any], problem: Problem) -> None:
        message = str(problem.message) % problem.params if problem.params \
            else str(problem.message)
        message_id = getattr(problem.message, "_args", [None])[0] \
            if hasattr(problem.message, "_args") else None
        error = ImportRowError(
            run_id=self.run.id, line=line, column=problem.column,
            # As its message shows it (padded spellings of one value are one group), and a
            # workbook's cell as the run reads it: a date as 2026-01-02, which a value
            # mapping made from it then matches.
            value=None if problem.value is None else _error_value(problem.value),
            message=message, message_id=message_id,
            message_params=jsonable(problem.params) or None,
            raw=[_raw_text(c, self.profile, n in self.day_cells) for n, c in enumerate(cells)])
        if self.held_errors is None:
            db.session.add(error)
        else:
            self.held_errors.append(error)

    def _takes_a_day(self, target: Target) -> bool:
        if target.kind == "field":
            return self.entity.field(target.name).type == "date"
        field = self.custom_fields.get(target.name) if target.kind == "custom" else None
        return field is not None and field.type == "date"

    @contextmanager
    def errors_after_write(self) -> Iterator[None]:
        """The row errors recorded in the block go into the session at its end, after the
        batch's write: a batch with failed rows still opens its transaction (on SQLite then
        written without a savepoint, app/services/record_batches.py `write_batch`)."""
        self.held_errors = []
        try:
            yield
        finally:
            held, self.held_errors = self.held_errors, None
            db.session.add_all(held)

    # -- related records ------------------------------------------------------------------

    def _resolve_refs(self, items: list[Item]) -> None:
        for target in {t.name for t in self.profile.targets if t.kind == "ref"}:
            spec = self.entity.field(target)
            model = ENTITIES[spec.ref].model
            wanted = {i.refs[target] for i in items if target in i.refs}
            found = self.writer.sql.references(
                model.__table__, hasattr(model, "partner_id") and target == "account",
                sorted(wanted)) if wanted else {}
            index = self.ref_cells.get(target)
            for item in items:
                ref = item.refs.get(target)
                if ref is None:
                    continue
                if ref not in found:
                    cell = item.raw[index] if index is not None and index < len(item.raw) \
                        else None
                    item.problems.append(self.unknown_reference_problem(target, ref, cell))
                else:
                    item.values[f"{target}_id"] = found[ref][0]
                    if target == "account":
                        item.values.setdefault("_account_partner_id", found[ref][1])

    # -- writing --------------------------------------------------------------------------

    def _write_batch(self, items: list[Item]) -> None:
        plan = self._plan(items)
        if self.run.is_dry_run:
            self.refuse_as_written(plan, [(row["_item"].line, row) for row in plan.creates],
                                   lambda n: plan.creates[n]["_item"])
        apart: list[Item] = []  # new rows a unique key refuses: written alone, after the rest

        def write() -> None:
            self._write(plan)
            if apart:
                plan.merge(self.write_alone(apart))

        def set_apart() -> bool:
            if self.renumbers(plan):
                return False
            clashing = self.writer.clashing(plan.creates)
            apart.extend(row["_item"] for n, row in enumerate(plan.creates) if n in clashing)
            plan.creates = [row for n, row in enumerate(plan.creates) if n not in clashing]
            return bool(apart)

        self.account(self.write_plan(plan, write,
                                     (item for item in items if not item.problems), set_apart))

    def refuse_as_written(self, plan: Plan, new: list[tuple[int, dict[str, Any]]],
                          item_of: Callable[[int], Item]) -> None:
        """A dry run's batch, which no database refuses since nothing is written: the rows a
        unique key would refuse in the real run (a number another record holds, or one an
        earlier row of the file takes) fail as they fail there, and leave `plan`. `new`: the
        plan's new rows, each by its line and values; `item_of`: the Item of one of them."""
        unique = self.writer.unique
        # In the file's order, as the real run settles a refused batch: row by row, or, when
        # no update changes a number, with the new rows it sets apart alone and in order.
        rows = sorted([*((line, row, n, None) for n, (line, row) in enumerate(new)),
                       *((item.line, row, None, item) for item, row in plan.updates
                         if any(name in row for name in unique))], key=itemgetter(0))
        refused = self.writer.refusals([row for _line, row, _n, _item in rows])
        if not refused:
            return
        new_rows, records = set(), set()  # the refused: new rows by position, updates by id
        for position, column in refused.items():
            _line, row, n, item = rows[position]
            if item is None:
                item = item_of(n)
                new_rows.add(n)
            else:
                records.add(row["id"])
            item.problems.append(self.taken_problem(column, item))
            plan.failed.append(item)
        plan.creates = [row for n, row in enumerate(plan.creates) if n not in new_rows]
        keys = {item.key for item, row in plan.updates if row["id"] in records}
        plan.updates = [(item, row) for item, row in plan.updates if row["id"] not in records]
        plan.audits = [audit for audit in plan.audits if audit["record_id"] not in records]
        plan.diffs = [diff for diff in plan.diffs if diff["key"] not in keys]
        plan.failed.sort(key=attrgetter("line"))

    def renumbers(self, plan: Plan) -> bool:
        """Whether the plan changes a unique value of a record (its number): a new row set
        apart would then be written after that change, where row by row it may come before
        it (the row that frees a number, the new one taking it, a later one taking it too)."""
        return any(name in row for _item, row in plan.updates for name in self.writer.unique)

    def write_plan(self, plan: Plan, write: Any, items: Iterable[Item],
                   set_apart: Any = None) -> Plan:
        """`plan` written by `write` in one savepoint (on SQLite, as its own transaction when it
        opens one), or, when the database refuses it, written again without the rows
        `set_apart` takes out (app/services/record_batches.py `write_batch`), or else each of
        `items` planned and written alone: what was written, and the failures named."""
        written = write_batch(write, items, self._write_one, self._refused, (RecordsGone,),
                              set_apart=set_apart)
        if written is None:
            return plan
        done = Plan(failed=plan.failed)
        for single in written:
            done.merge(single)
        return done

    def write_alone(self, items: Iterable[Item]) -> Plan:
        """Each of `items` planned and written alone, in a savepoint of its own: what was
        written, and the failures named."""
        done = Plan()
        for single in write_each(items, self._write_one, self._refused, (RecordsGone,)):
            done.merge(single)
        return done

    def _write_one(self, item: Item) -> Plan:
        single = self._plan([item])
        self._write(single)
        return single

    def _refused(self, item: Item, exc: Exception) -> Plan:
        item.problems.append(self.refused_problem(exc, item))
        return Plan(failed=[item])

    def account(self, plan: Plan) -> None:
        """A written batch's failures recorded and counts added."""
        for item in plan.failed:
            self.fail(item)
        self.outcome.created += len(plan.creates)
        self.outcome.updated += len(plan.updates)
        self.outcome.unchanged += plan.unchanged
        room = DIFF_SAMPLE - len(self.diffs)
        self.diffs.extend(plan.diffs[:max(room, 0)])

    def _plan(self, items: list[Item]) -> Plan:
        """What the batch would write (reads only): rows to create, to update, and failures."""
        existing = self.existing([i.key for i in items])
        old_lines = lines_of(self.entity, [existing[i.key]["id"] for i in items
                                          if i.key in existing]) if self.profile.has_lines else {}
        now = datetime.now(UTC)
        plan = Plan()
        for item in items:
            current = existing.get(item.key)
            if current is None:
                if self.profile.mode == "update":
                    item.problems.append(self.no_record_problem(item.key))
                    plan.failed.append(item)
                    continue
                row = self.new_row(item, now)
                problem = self.missing_required(row) or self.link_problem(row) \
                    or self.date_order_problem(row)
                if problem is not None:
                    item.problems.append(problem)
                    plan.failed.append(item)
                    continue
                plan.creates.append(row)
                continue
            if self.profile.mode == "insert":
                plan.unchanged += 1
                continue
            self.plan_update(plan, item, current, old_lines.get(current["id"]), now)
        return plan

    def plan_update(self, plan: Plan, item: Item, current: dict[str, Any],
                     old_lines: list[dict[str, Any]] | None, now: datetime) -> None:
        """An existing record: unchanged, or its update, audit event and diff."""
        change = self._changes(item, current, old_lines)
        if change and self._default_partner(item, current):
            change = self._changes(item, current, old_lines)
        if not change:
            plan.unchanged += 1
            return
        problem = self._emptied_required(item) or (self.link_problem(
            {**current, **change[1]}) if self.entity.model is Activity else None) \
            or self.date_order_problem({**current, **change[1]})
        if problem is not None:
            item.problems.append(problem)
            plan.failed.append(item)
            return
        before, after = change
        row = {"id": current["id"], "updated_at": now, "import_run_id": self.run.id}
        # Set only when they change: each is in indexes (and archived_at in the partners'
        # figures' trigger) that an UPDATE naming it rewrites even with the same value
        # (SQLite: 2,000 updates 0.15-0.2 s of CPU with them, 0.04-0.05 s without).
        if current.get("import_profile_id", -1) != self.run.profile_id:
            row["import_profile_id"] = self.run.profile_id
        if current.get("archived_at", True) is not None:
            row["archived_at"] = None
        row.update({k: v for k, v in after.items() if k != "lines"})
        if "custom" in after:
            # Written as the values the row changes (None: emptied, removed as the API
            # removes it), merged into the record's when written: a value a user saves
            # meanwhile stays. The event holds them whole on both sides: its history names
            # only what changed, and a revert removes a value the run added (None before it).
            had = current["custom"] or {}
            merged = {**had, **after["custom"]}
            before = {**before, "custom": {**dict.fromkeys(after["custom"]), **had}}
            after = {**after, "custom": {k: v for k, v in merged.items() if v is not None}}
        plan.updates.append((item, row))
        # The diff shares the audit event's values, made jsonable once; the event also
        # keeps the stamps the update replaces, which a revert gives back (the feed that
        # owns the record: full sync archives only its own).
        diff = {"line": item.line, "key": item.key}
        audit = self.audit("update", current["id"], before, after, now)
        diff["before"], diff["after"] = audit["before"], audit["after"]
        audit["before"] = {**audit["before"], **{
            name: current.get(name) for name in STAMPS if name in row}}
        audit["after"] = {**audit["after"], **{name: row[name] for name in STAMPS if name in row}}
        plan.audits.append(audit)
        plan.diffs.append(diff)

    def existing(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The records of `keys`, by key: the columns a row is compared on, and what a
        document's partner defaults to (its customer's, under `_account_partner_id`)."""
        return self.with_partners(self.writer.current(self.record_columns(), keys))

    def record_columns(self) -> list[str]:
        """The columns of a record that `existing` reads."""
        profile = self.profile
        return list(dict.fromkeys([
            "id", profile.key, "custom", "archived_at", *STAMPS,
            *(t.name for t in profile.targets if t.kind == "field"),
            *(f"{t.name}_id" for t in profile.targets if t.kind == "ref"),
            *(("partner_id", "account_id") if takes_account_partner(self.entity) else ()),
            *(LINE_TOTALS if self.profile.has_lines else ()),
            *(self.date_pair or ())]))  # both, to compare an end given with its start

    def with_partners(self, found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Records read with `record_columns`, as `existing` gives them: with the partner
        of a document's customer, read only when the file does not name the customer (a row
        that names it gives its partner itself: _default_partner)."""
        if takes_account_partner(self.entity) and not any(
                t.kind == "ref" and t.name == "account" for t in self.profile.targets):
            accounts = sorted({record["account_id"] for record in found.values()
                               if record["partner_id"] is None} - {None})
            partners = partners_of_accounts(accounts)
            for record in found.values():
                record["_account_partner_id"] = partners.get(record["account_id"])
        return found

    def _default_partner(self, item: Item, current: dict[str, Any]) -> bool:
        """A document the row changes takes its customer's partner when it has none, as
        forms give it (record_rules.default_partner); whether it did."""
        values = item.values
        if (values["partner_id"] if "partner_id" in values else current.get("partner_id")) \
                is not None:
            return False  # it keeps its own (default_partner)

        def partner_of_account(account_id: int) -> int | None:
            if account_id == values.get("account_id"):
                return values.get("_account_partner_id")
            return current.get("_account_partner_id")

        partner_id = default_partner(self.entity, {**current, **values}, partner_of_account)
        if partner_id is None:
            return False
        values["partner_id"] = partner_id
        return True

    def new_row(self, item: Item, now: datetime) -> dict[str, Any]:
        row = {k: v for k, v in item.values.items() if not k.startswith("_")}
        partner_id = default_partner(self.entity, row,
                                     lambda _account: item.values.get("_account_partner_id"))
        if partner_id is not None:
            row["partner_id"] = partner_id
        row.update(custom={k: v for k, v in item.custom.items() if v is not None},
                   created_at=now, updated_at=now, import_run_id=self.run.id,
                   import_profile_id=self.run.profile_id)
        if self.profile.has_lines:
            row["_lines"] = _normalized_lines(item.lines or [])
            row["_item"] = item
            _totals_from_lines(row, row["_lines"], item.values)
        else:
            row["_item"] = item
        return row

    def _changes(self, item: Item, current: dict[str, Any],
                 old_lines: list[dict[str, Any]] | None) -> tuple[dict, dict] | None:
        before, after = {}, {}
        for name, value in item.values.items():
            if name.startswith("_"):
                continue
            if current.get(name) != value:
                before[name], after[name] = current.get(name), value
        custom = {k: v for k, v in item.custom.items()
                  if (current["custom"] or {}).get(k) != v}
        if custom:
            before["custom"] = {k: (current["custom"] or {}).get(k) for k in custom}
            after["custom"] = custom
        if current.get("archived_at") is not None:
            before["archived_at"], after["archived_at"] = current["archived_at"], None
        if self.profile.has_lines:
            lines = _normalized_lines(item.lines or [])
            if lines != _normalized_lines(old_lines or []):
                before["lines"], after["lines"] = old_lines, lines
                totals: dict[str, Any] = {}
                _totals_from_lines(totals, lines, item.values)
                for name, value in totals.items():  # read with the record: audited both ways
                    if current.get(name) != value:
                        before[name], after[name] = current.get(name), value
        return (before, after) if after else None

    @cached_property
    def date_pair(self) -> tuple[str, str] | None:
        """The entity's start and end dates (an end never before its start), when the
        profile maps one of them."""
        pair = DATE_PAIRS.get(self.entity.name)
        mapped = {t.name for t in self.profile.targets if t.kind == "field"}
        return pair if pair is not None and mapped.intersection(pair) else None

    def date_order_problem(self, state: dict[str, Any]) -> Problem | None:
        """An end date before its start date: refused, as forms and the API refuse it
        (record_checks.date_order_errors)."""
        if self.date_pair is None or not date_order_errors(self.entity, state, {}):
            return None
        start_name, end_name = self.date_pair
        return Problem(self.header_of(end_name) or self.header_of(start_name), state[end_name],
                       _l("This date is before %(field)s."), {
                           "field": str(self.entity.field(start_name).label),
                           "field_name": start_name, "entity": self.entity.name})

    def link_problem(self, state: dict[str, Any]) -> Problem | None:
        """An activity on a record of another customer, or on two records: refused, as
        forms and the API refuse it (record_checks.activity_errors)."""
        if self.entity.model is not Activity:
            return None
        known = self.__dict__.setdefault("_customers", {})

        def customer_of(name: str, record_id: int) -> int | None:
            if (name, record_id) not in known:
                known[(name, record_id)] = account_of(name, record_id)
            return known[(name, record_id)]

        for name, message in activity_errors(state, customer_of).items():
            return Problem(self._header_of(name), None, message)
        return None

    def _header_of(self, name: str) -> str | None:
        return next((t.header for t in self.profile.targets if t.name == name), None)

    def missing_required(self, row: dict[str, Any]) -> Problem | None:
        for spec in self.entity.fields:
            if spec.name in self.required and row.get(spec.attr) is None:
                return self.required_problem(spec.name, creating=True)
        for cf in self.custom_fields.values():
            if cf.is_required and row["custom"].get(cf.key) is None:
                header = next((t.header for t in self.profile.targets
                               if t.kind == "custom" and t.name == cf.key), None)
                return Problem(header, None, _l("%(field)s is required to create a record."),
                               {"field": cf.label_en or cf.label_fr, "custom_key": cf.key,
                                "entity": self.entity.name})
        return None

    def _emptied_required(self, item: Item) -> Problem | None:
        """A required field that the row empties: refused, as forms refuse it."""
        for target, is_custom, name in self._required_targets:
            if (item.custom if is_custom else item.values).get(name) is None:
                return Problem(target.header, None, _l("This field is required."))
        return None

    @cached_property
    def _required_targets(self) -> list[tuple[Target, bool, str]]:
        """The profile's required targets, in order: (target, custom or not, the name its
        value has in the row). Made once: checked for every row that changes a record."""
        found = []
        for target in self.profile.targets:
            if target.kind == "custom":
                if self.custom_fields[target.name].is_required:
                    found.append((target, True, target.name))
            elif target.kind in ("field", "ref"):
                spec = self.entity.field(target.name)
                if spec.name in self.required:
                    found.append((target, False, spec.attr))
        return found

    def _write(self, plan: Plan) -> None:
        if self.run.is_dry_run:
            return
        writer, has_lines = self.writer, self.profile.has_lines
        if plan.creates:
            rows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in plan.creates]
            ids = writer.create(rows)
            if has_lines:
                writer.replace_lines([(i, r["_lines"]) for i, r in
                                      zip(ids, plan.creates, strict=True)], [])
            enqueue_created(self.entity.name, ids=ids)
        if plan.updates:
            self.update_records([row for _item, row in plan.updates])
            if has_lines:
                writer.replace_lines([(row["id"], _normalized_lines(item.lines or []))
                                      for item, row in plan.updates],
                                     [row["id"] for _item, row in plan.updates])
        writer.audit(plan.audits)

    def update_records(self, rows: list[dict[str, Any]]) -> None:
        """The batch's changed records written; RecordsGone when one was deleted since the
        batch read it (a user's deletion while the run ran): the batch is then written again
        row by row, each row planned anew (created again, as the file says it exists), rather
        than counted updated and audited for a record that is no more."""
        written = self.writer.update(rows)
        if written < len(rows):  # also rows equal by now, which PostgreSQL leaves unwritten
            ids = [row["id"] for row in rows]
            if len(self.writer.sql.by_ids([], ids)) < len(set(ids)):
                raise RecordsGone

    def audit(self, action: str, record_id: int, before: dict, after: dict,
              now: datetime) -> dict[str, Any]:
        return audit_row(action, self.entity.name, record_id, jsonable(before), jsonable(after),
                         now)

    def _archive_absent(self) -> None:
        """Full sync: this profile's records that the file no longer holds are archived."""
        absent = []
        for outside in self._outside_ranges():
            stmt = select(self.model.id, self.key_column).where(
                self.model.import_profile_id == self.run.profile_id,
                self.model.archived_at.is_(None), *outside
            ).execution_options(yield_per=ARCHIVE_CHUNK)
            for rows in db.session.execute(stmt).partitions():
                missing = set(self.seen.missing(str(row[1]) for row in rows))
                absent += [row[0] for row in rows if str(row[1]) in missing]
        if absent and not self.has_keys:  # an empty export, most likely: never archive all
            raise ReaderError(_l("The file holds no row with a key: full sync would archive "
                                 "every record, so nothing was archived."))
        self.outcome.archived = len(absent)
        if self.run.is_dry_run or not absent:
            return
        now = datetime.now(UTC)
        for chunk in chunks(absent):
            db.session.execute(update(self.model).where(self.model.id.in_(chunk)).values(
                archived_at=now, import_run_id=self.run.id, updated_at=now))
            self.writer.audit([self.audit("archive", record_id, {"archived_at": None},
                                          {"archived_at": now}, now) for record_id in chunk])
        self.save_progress()  # committed with its count: a revert trusts the run's counts

    def _outside_ranges(self) -> list[tuple]:
        """The conditions on the key that together cover every record outside the ranges of
        keys noted whole (KeyLog.bounds): each record in one of those was in the file, when
        the range was read, as every live record between its first and last key. The gaps
        between the ranges' union, ordered by the database (its collation, not Python's)."""
        bounds = self.seen.bounds
        if not bounds:
            return [()]
        ends = [end for pair in bounds for end in pair]  # first, last, first, last, …
        if db.engine.dialect.name == "sqlite":
            order = db.session.execute(text(
                "SELECT CAST(key AS INTEGER) FROM json_each(:ends) ORDER BY value, key % 2"),
                {"ends": json.dumps(ends)}).scalars().all()
        else:
            order = db.session.execute(text(
                "SELECT (i - 1)::int FROM unnest(CAST(:ends AS text[])) WITH ORDINALITY "
                "AS e(v, i) ORDER BY v, (i - 1) % 2"), {"ends": ends}).scalars().all()
        union: list[list[str]] = []  # [first, last] of the ranges' union, in order
        depth = 0
        for at in order:
            if at % 2 == 0:  # a range's first key (before a last key equal to it)
                if depth == 0:
                    union.append([ends[at], ends[at]])
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    union[-1][1] = ends[at]
        key = self.key_column
        gaps: list[tuple] = [(key < union[0][0],)]
        gaps += [(key > last, key < first)
                 for (_f, last), (first, _l) in zip(union, union[1:], strict=False)]
        gaps.append((key > union[-1][1],))
        return gaps

    def save_progress(self) -> None:
        run = self.run
        for name in ("created", "updated", "unchanged", "fingerprinted", "failed", "archived"):
            setattr(run, name, getattr(self.outcome, name))
        if self.documents is not None:
            run.attached = self.documents.attached
        run.heartbeat_at = datetime.now(UTC)
        run.diff_sample = list(self.diffs)
        db.session.commit()
        if self.progress is not None:
            self.progress(run)


def _taken_field(exc: Exception) -> str | None:
    """The field of a unique key a row would share with another record (`number`,
    `external_ref`), from PostgreSQL's constraint name or SQLite's text; None otherwise."""
    orig = getattr(exc, "orig", exc)
    diag = getattr(orig, "diag", None)
    if getattr(orig, "sqlstate", None) == "23505" and diag is not None:
        names = diag.constraint_name or ""
    else:
        match = re.search(r"UNIQUE constraint failed: ([\w., ]+)", str(orig or exc))
        names = match.group(1) if match else ""
    return next((field for field in ALREADY_USED if names.endswith(field)), None)


def _not_null_column(exc: Exception) -> str | None:
    """The column of a NOT NULL violation (SQLite's text, PostgreSQL's diagnostics)."""
    orig = getattr(exc, "orig", exc)  # SQLAlchemy's error, or the driver's own
    diag = getattr(orig, "diag", None)
    if getattr(orig, "sqlstate", None) == "23502" and diag is not None:
        return diag.column_name
    match = re.search(r"NOT NULL constraint failed: \w+\.(\w+)", str(orig or exc))
    return match.group(1) if match else None


def _normalized_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [normalized_line(line) for line in lines]


def _totals_from_lines(row: dict[str, Any], lines: list[dict[str, Any]],
                       given: dict[str, Any]) -> None:
    """Totals computed from the lines, unless the file gives them."""
    for name, value in line_totals(lines).items():
        if given.get(name) is None:
            row[name] = value


def _db_reason(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc)).splitlines()[0]
    return text[:200]


def _error_value(value: Any) -> str:
    """A row error's value: the cell stripped; a workbook's date, time or whole number as
    the run reads it (a number whose format shows it otherwise keeps its shown text)."""
    if not isinstance(value, str) and getattr(value, "shown", None) is None:
        value = cell_text(value)
    return str(value).strip()[:1000]


def _raw_text(cell: Any, profile: Profile, day: bool = False) -> str | None:
    """A cell of the errors file, as the same profile reads it back once fixed and sent back
    (as CSV): a text field's cell as the run read it (its key matches the record it names:
    12345, not 12,345), a decimal written out (0.00005, not 5e-05) with the profile's
    decimal point (99,99), and in a column of dates (`day`) the day the run read, in the
    profile's date format: a date and time as its day, an Excel serial number as its date."""
    if cell is None or isinstance(cell, str):
        return cell
    if day:
        try:
            found = _day_reader(profile.date_format)(cell)
        except InvalidValue:
            found = None
        if found is not None:
            return found.isoformat() if profile.date_format == "auto" \
                else found.strftime(profile.date_format)
    text = cell_text(cell)
    if isinstance(cell, float) and "e" in text:
        text = format(Decimal(repr(cell)), "f")
    if profile.decimal == "," and isinstance(cell, float) and "." in text:
        return text.replace(".", ",")
    return text


@lru_cache(maxsize=16)
def _day_reader(date_format: str) -> Callable[[Any], date | None]:
    return make_date_parser(date_format)
