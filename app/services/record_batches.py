"""The one writer of records: a form's or the API's single write (app/services/records.py),
the API's bulk upsert (app/services/bulk.py) and feeds (importers/engine.py and its CSV column
path) plan rows by the rules of app/services/record_rules.py, then write them here.

A batch is written in one savepoint, set-based (app/services/record_sql.py: executemany on
SQLite, COPY on PostgreSQL): new rows, changed rows, replaced lines, audit events and their
webhook deliveries. When the database refuses the batch, the rows that a unique key refuses
(a number another record holds, or one given twice) are set apart and the rest written again
set-based, those few alone after it; refused once more, each of its units is written again
in its own savepoint, so that the bad ones are named and the good ones kept.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import Table, UniqueConstraint, delete
from sqlalchemy.exc import DBAPIError

from app.entities import Entity
from app.extensions import db
from app.models import AuditEvent
from app.search_text import search_text, searched_fields
from app.services.fingerprints import forget_following, forget_referencing
from app.services.record_rules import chunks, line_parent
from app.services.record_sql import BulkSQL
from app.services.webhook_outbox import enqueue
from app.tenancy import current_tenant_id

Unit = TypeVar("Unit")
Result = TypeVar("Result")


def write_batch(write_all: Callable[[], None], units: Iterable[Unit],
                write_one: Callable[[Unit], Result],
                refused: Callable[[Unit, Exception], Result],
                errors: tuple[type[Exception], ...] = (),
                set_apart: Callable[[], bool] | None = None) -> list[Result] | None:
    """Run `write_all` in a savepoint: None when the database took the whole batch. When it
    refused it, each of `units` (read only then) goes through `write_one` in a savepoint of
    its own, and `refused` names each unit refused again. The results, unit by unit:
    `write_one`'s, or `refused`'s.

    `set_apart`, when given, is asked first, after a refusal: it takes out of what
    `write_all` writes the rows it finds a unique key would refuse (RecordWriter.clashing),
    for `write_all` to write each alone after the rest, and says whether it took any. The
    batch is then written once more, and None returned when the database took it: one
    number used twice in a nightly file, or in a bulk call, no longer sends its thousands of
    rows one by one (several minutes instead of seconds).

    On SQLite a savepoint copies every page it changes into a statement journal, a temporary
    file (10,000 new invoices of a table of a million: some 800 MB a batch, written and
    thrown away): a batch that opens its transaction, with nothing written or pending since
    the last commit (a feed's batch, a bulk call: their callers commit right after), is
    written as that transaction instead, and a refused one rolls it back whole before the
    units go one by one."""
    caught = (DBAPIError, db.engine.dialect.dbapi.Error, *errors)
    alone = _opens_sqlite_transaction()
    if _written(write_all, caught, alone):
        return None
    if set_apart is not None and set_apart():
        if alone:  # set_apart's reads ended, so that the batch opens its transaction again
            db.session.rollback()
        if _written(write_all, caught, _opens_sqlite_transaction()):
            return None
    return write_each(units, write_one, refused, errors)


def _written(write_all: Callable[[], None], caught: tuple[type[Exception], ...],
             alone: bool) -> bool:
    """Whether `write_all` wrote its batch, as the transaction it opened (`alone`, SQLite:
    see write_batch) or in a savepoint; a refused batch is rolled back."""
    if alone:
        try:
            write_all()
            return True
        except caught:
            db.session.rollback()  # the transaction held the batch alone
            return False
    try:
        with db.session.begin_nested():
            write_all()
        return True
    except caught:
        return False


def _opens_sqlite_transaction() -> bool:
    """SQLite, with nothing written in the session's transaction nor waiting in the session
    to be: that transaction is begun here, holding the write lock at once, as a savepoint's
    is (app/__init__.py)."""
    session = db.session
    if db.engine.dialect.name != "sqlite" or session.new or session.dirty or session.deleted:
        return False
    dbapi_connection = session.connection().connection.dbapi_connection
    if dbapi_connection.in_transaction:
        return False
    dbapi_connection.execute("BEGIN IMMEDIATE")
    return True


def write_each(units: Iterable[Unit], write_one: Callable[[Unit], Result],
               refused: Callable[[Unit, Exception], Result],
               errors: tuple[type[Exception], ...] = ()) -> list[Result]:
    """Each of `units` through `write_one` in a savepoint of its own; `refused` names each
    unit the database refused. The results, unit by unit."""
    caught = (DBAPIError, db.engine.dialect.dbapi.Error, *errors)
    results = []
    for unit in units:
        try:
            with db.session.begin_nested():
                result = write_one(unit)
        except caught as exc:
            result = refused(unit, exc)
        results.append(result)
    return results


class RecordWriter:
    """Writes planned rows of one entity's records for the bound tenant: `key` names a
    record among its new rows (external_ref, or a feed's key).

    A searched record's search text (app/search_text.py) is written with the fields it is
    made of: from a new row's values, and for a changed one from its values over the
    record's as they are when it is written (read, and held, in the write's transaction)."""

    def __init__(self, entity: Entity, key: str = "external_ref") -> None:
        self.entity, self.key = entity, key
        self.table = entity.model.__table__
        self.sql = BulkSQL(self.table, key, current_tenant_id())
        # What the ORM's insert would fill in from the model: a new row lacks none of it.
        self.defaults = [(column.key, column.default) for column in self.table.columns
                         if column.default is not None and not column.primary_key]
        self.searched = searched_fields(entity) if "search_text" in self.table.c else ()
        self.unique = unique_columns(self.table)

    def current(self, names: list[str], keys: list[str]) -> dict[str, dict[str, Any]]:
        """The records of `keys` (one index lookup each), by key: their columns `names`, as
        the ORM reads them."""
        return self.records(names, self.sql.existing(names, keys))

    def records(self, names: list[str], rows: dict[str, tuple], at: int = 1
                ) -> dict[str, dict[str, Any]]:
        """Records the last read of `self.sql` gave (key → its row, whose columns `names`
        start at `at`), by key, as `current` gives them."""
        if not rows:
            return {}
        processors = self.sql.result_processors(names, at)
        end = at + len(names)
        return {key: {name: process(value) if process else value for name, process, value
                      in zip(names, processors, row[at:end], strict=True)}
                for key, row in rows.items()}

    def clashing(self, rows: list[dict[str, Any]]) -> set[int]:
        """The positions of `rows` (new ones, or changed ones with their id) that a unique key
        of the table refuses: a value of a unique column (a key, a number) that an earlier
        row gives too, or that a record other than the row's own holds (one lookup per
        value)."""
        found: set[int] = set()
        for column in self.unique:
            given: dict[str, int] = {}
            for position, row in enumerate(rows):
                value = row.get(column)
                if value is None:
                    continue
                if str(value) in given:
                    found.add(position)
                else:
                    given[str(value)] = position
            holders = self.sql.holders(column, list(given)) if given else {}
            for value, holder in holders.items():
                position = given[value]
                if holder != rows[position].get("id"):
                    found.add(position)
        return found

    def refusals(self, rows: list[dict[str, Any]]) -> dict[int, str]:
        """The positions of `rows` (new ones, or changed ones with their id) that a unique key
        refuses when each is written after those before it, as row by row: the column refused
        (the first of the table's), by position. Unlike `clashing`, which sets apart every row
        that may be refused, a refused row takes no value and a changed one gives up its own
        to the rows after it: what a dry run, which writes nothing, reports."""
        taken: dict[str, dict[str, Any]] = {}  # column → value → its holder (an id, or a row)
        given: dict[str, dict[Any, str]] = {}  # column → holder → its value
        for column in self.unique:
            values = sorted({str(row[column]) for row in rows if row.get(column) is not None})
            taken[column] = self.sql.holders(column, values) if values else {}
            given[column] = {holder: value for value, holder in taken[column].items()}
        found: dict[int, str] = {}
        for position, row in enumerate(rows):
            own = row.get("id")
            refused = next((column for column in self.unique if row.get(column) is not None
                            and taken[column].get(str(row[column]), own) != own), None)
            if refused is not None:
                found[position] = refused
                continue
            holder = ("new", position) if own is None else own
            for column in self.unique:
                if column not in row:
                    continue
                taken[column].pop(given[column].pop(holder, None), None)
                if row[column] is not None:
                    taken[column][str(row[column])] = holder
                    given[column][holder] = str(row[column])
        return found

    def create(self, rows: list[dict[str, Any]]) -> list[int]:
        """New records from rows of column values; their ids, in order."""
        rows = [self.completed(row) for row in rows]
        names = set().union(*rows)
        rows = [row if len(row) == len(names) else {name: row.get(name) for name in names}
                for row in rows]
        written = self.sql.insert_dicts(self.table, rows, returning=(self.key, "id"))
        if written:  # PostgreSQL: the ids come back with the rows
            ids = {str(key): record_id for key, record_id in written}
            return [ids[str(row[self.key])] for row in rows]
        found = self.sql.existing(["id"], [row[self.key] for row in rows])
        return [found[row[self.key]][1] for row in rows]

    def create_one(self, row: dict[str, Any]) -> int:
        """One new record from a row of column values, its key possibly empty (a record
        created in Relais): its id."""
        return self.sql.insert_one(self.completed(row))

    def completed(self, row: dict[str, Any]) -> dict[str, Any]:
        """A new row as it is stored: the model's defaults and its search text added."""
        missing = [(name, default) for name, default in self.defaults if name not in row]
        if not missing and not self.searched:
            return row
        row = dict(row)
        for name, default in missing:
            row[name] = default_value(default)
        if self.searched:  # a field a new row lacks is empty
            row["search_text"] = search_text(self.entity, row)
        return row

    def update(self, rows: list[dict[str, Any]]) -> int:
        """Changed records: each row their id and the columns it sets, `custom` as the custom
        values it changes (None: removed; record_rules.custom_change), merged into those the
        record holds when written. Their feed fingerprints, and those of the records naming
        one whose reference changes, are forgotten (app/services/fingerprints.py). How many
        were written (BulkSQL.update)."""
        # A written record's feed fingerprint goes, unless the feed writing it gives its own.
        rows = [row if "import_digest" in row else {**row, "import_digest": None}
                for row in rows]
        if self.searched:
            rows = self._searched(rows)
        written = self.sql.update(rows)
        forget_referencing(self.entity.name, [row["id"] for row in rows
                                              if "external_ref" in row])
        if self.entity.name == "accounts":
            forget_following([row["id"] for row in rows if "partner_id" in row])
        return written

    def _searched(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows, those that change a searched field with their record's new search text:
        made of its other searched fields as they are now, read in the write's transaction
        and held until it ends (PostgreSQL: FOR NO KEY UPDATE; SQLite's writer holds the
        database), not as a batch or a form read them before — a name or an e-mail a user
        saved since stays searchable."""
        changing = [n for n, row in enumerate(rows)
                    if any(name in row for name in self.searched)]
        if not changing:
            return rows
        now = {record_id: dict(zip(self.searched, values, strict=True)) for record_id, *values
               in self.sql.by_ids(self.searched, [rows[n]["id"] for n in changing], hold=True)}
        rows = list(rows)
        for n in changing:
            if (state := now.get(rows[n]["id"])) is not None:  # None: deleted meanwhile
                rows[n] = {**rows[n], "search_text": search_text(self.entity,
                                                                 {**state, **rows[n]})}
        return rows

    def replace_lines(self, documents: list[tuple[int, list[dict[str, Any]]]],
                      existing: list[int]) -> None:
        """The documents' lines replaced by the given ones (`existing`: the documents that
        had lines before, which are deleted first)."""
        line_model = self.entity.line_model
        parent = line_parent(line_model)
        for chunk in chunks(existing):
            db.session.execute(delete(line_model).where(parent.in_(chunk)))
        if existing:  # their documents' feed fingerprints said other lines
            self.sql.update([{"id": i, "import_digest": None} for i in existing])
        rows = [{parent.key: document_id, "position": position, **line}
                for document_id, lines in documents for position, line in enumerate(lines)]
        if rows:
            self.sql.insert_dicts(line_model.__table__, rows)

    def audit(self, rows: list[dict[str, Any]]) -> None:
        """The audit events of the batch (app.services.audit.audit_row), and their webhook
        deliveries in the same transaction."""
        if rows:
            self.sql.insert_dicts(AuditEvent.__table__, rows)
            enqueue(rows)


def unique_columns(table: Table) -> list[str]:
    """The columns a tenant's records each hold once: `column` where (tenant_id, column) is
    a unique key of `table` (external_ref, a document's number)."""
    found = []
    for constraint in (*table.constraints, *table.indexes):
        if isinstance(constraint, UniqueConstraint) or getattr(constraint, "unique", False):
            names = [column.name for column in constraint.columns]
            if len(names) == 2 and names[0] == "tenant_id" and names[1] not in found:
                found.append(names[1])
    return found


def default_value(default: Any) -> Any:
    """The value a column's Python-side default (`Column(default=…)`) gives a new row."""
    if not (default.is_scalar or default.is_callable):
        raise NotImplementedError(f"default {default!r}")
    return default.arg if default.is_scalar else default.arg(None)
