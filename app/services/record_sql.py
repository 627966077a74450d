"""Set-based reads and writes, in the dialect's own terms, for the one record writer
(app/services/record_batches.py): the import engine's batch path (importers/column_import.py),
the API's bulk upsert (app/services/bulk.py) and the single write (app/services/records.py).

Why SQL here, when everything else goes through the ORM: per row, the ORM (and Core's
parameter processing, and the tenancy hook on every ORM statement) costs more than the
database does. These statements run on the session's own connection, inside the batch's
savepoint, on the entity's table only, and tenant_id is always the bound tenant
(app.tenancy.current_tenant_id()), passed as a parameter, never read from the input: every
read is filtered on it and every row written carries it. Ids written (related records,
the run, its profile) come from reads filtered the same way (and by visibility, for a
bulk upsert).

SQLite: executemany in the batch's transaction. PostgreSQL: COPY into a staging table, then
one INSERT … SELECT for new records (row-level security refuses COPY straight into a tenant
table, and checks each inserted row against the tenant the transaction carries; a feed's rows
go ON CONFLICT on their key DO NOTHING, RETURNING the keys written, so that a key another
write took meanwhile leaves only its own row to the row path, not the batch) and one
UPDATE … FROM … WHERE … IS DISTINCT FROM … for changed ones; a few rows (a single write's)
go as plain INSERT … VALUES and UPDATE statements there, cheaper than a staging table. The
DBAPI cursor bypasses SQLAlchemy's events: `cursor()` gives the transaction the bound tenant
first (app.tenancy.apply_database_context), so that the database's wall holds here too.
"""
from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain, count
from typing import Any

from sqlalchemy import JSON, Table

from app.extensions import db
from app.tenancy import apply_database_context, current_tenant_id

CHUNK = 5_000
FEW = 20  # rows that PostgreSQL takes faster in one statement than through a staging table
# A batch's keys are read by one range of the key's index when the range holds at most this
# many records per key of the batch.
RANGE_SPREAD = 3
WRITE_CACHE_KIB = 64 * 1024  # SQLite page cache while a batch is written
FULL_COLLECTION_EVERY = 50  # batches
# A changed row's key, not a column: the record's updated_at as its feed read it. Its feed
# fingerprint (`import_digest`) is then stored only if nothing wrote the record since
# (None: nothing can have, see `data_version`); else it is left empty.
READ_AT = "import_digest_read_at"


# A range's bounds in the key column's own collation, as scalar subqueries: the planner then
# walks the key's index in order (a join with a CTE of the bounds was planned as a bitmap scan
# and a sort, twice the server's CPU).
_LOW = "(SELECT min(v) FROM unnest(%s::text[]) AS v)"
_HIGH = "(SELECT max(v) FROM unnest(%s::text[]) AS v)"
# Keys that a collation other than code points' sorts otherwise: case, accents, punctuation,
# digits, characters outside the Basic Multilingual Plane.
_ORDER_SAMPLE = ["a", "B", "b", "A", "_", "-", ".", "0", "9", "~", " ", "é", "E", "f", "É",
                 "ä", "z", "Z", "€", "ｚ", "\U0001f600", "a-b", "ab", "a b", "a_b", "aB",
                 "IMP-1", "IMP_1", "imp-1", "œ", "oe", "ß", "ss", "İ", "i", "ı"]


class BulkSQL:
    """One entity table of one run, in one dialect."""

    def __init__(self, table: Table, key: str, tenant_id: int) -> None:
        self.table, self.key, self.tenant_id = table, key, tenant_id
        self.dialect = db.engine.dialect
        self.description: Any = None  # of the last `existing` read
        self.sqlite = self.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"
        self._code_points: bool | None = None  # keys_in_code_points, once asked

    # -- plumbing ---------------------------------------------------------------------------

    def cursor(self, binary: bool = True) -> Any:
        """A DBAPI cursor on the session's connection (its transaction, its savepoint);
        on PostgreSQL a binary one for reads: its results decode three times faster."""
        session_connection = db.session.connection()
        apply_database_context(session_connection)
        connection = session_connection.connection.driver_connection
        return connection.cursor(binary=True) if binary and not self.sqlite \
            else connection.cursor()

    def _by(self, table: str, column: str, selected: str, where: str = "") -> str:
        """SELECT `selected` from this tenant's rows of `table` whose `column` is one of a
        list (the statement's second parameter), and that meet `where` if given.

        On PostgreSQL, one index lookup per value (LATERAL … LIMIT 1, which the planner cannot
        turn into a join): right after a bulk load, stale statistics make it read the
        tenant's whole table instead, for every batch."""
        where = f" AND {where}" if where else ""
        if self.sqlite:
            return (f"SELECT {selected} FROM {table} WHERE tenant_id = ? "
                    f"AND {column} IN (SELECT value FROM json_each(?)){where}")
        return (f"SELECT t.* FROM (SELECT %s AS tenant_id, unnest(%s::text[]) AS v) AS f "
                f"CROSS JOIN LATERAL (SELECT {selected} FROM {table} "
                f"WHERE tenant_id = f.tenant_id AND {column} = f.v{where} LIMIT 1) AS t")

    def _list(self, values: list[Any]) -> Any:
        return json.dumps(values) if self.sqlite else values

    def cents(self, column: str) -> str:
        """An amount as whole cents, so that it compares with the file's without Decimal."""
        if self.sqlite:
            return f"CAST(round({column} * 100) AS INTEGER)"
        return f"({column} * 100)::bigint"

    def json_text(self, column: str) -> str:
        return column if self.sqlite else f"{column}::text"

    # -- reads ------------------------------------------------------------------------------

    def existing(self, columns: Sequence[str], keys: list[str]) -> dict[str, tuple]:
        """The table's rows of `keys` (this tenant's): key → (key, *columns)."""
        select = self._by(self.table.name, self.key, ", ".join([self.key, *columns]))
        found: dict[str, tuple] = {}
        cursor = self.cursor()
        try:
            for start in range(0, len(keys), CHUNK):
                cursor.execute(select, (self.tenant_id, self._list(keys[start:start + CHUNK])))
                found.update((row[0], row) for row in cursor.fetchall())
                self.description = cursor.description
        finally:
            cursor.close()
        return found

    def digests(self, keys: list[str]) -> dict[str, bytes]:
        """The feed fingerprints of the records of `keys` that have one and are not
        archived: key → digest (records of other keys may come along)."""
        if not keys:
            return {}
        found = self._digests_in_range(keys)
        if found is not None:
            return found
        select = self._by(self.table.name, self.key, f"{self.key}, import_digest",
                          "import_digest IS NOT NULL AND archived_at IS NULL")
        found: dict[str, bytes] = {}
        cursor = self.cursor()
        try:
            for start in range(0, len(keys), CHUNK):
                cursor.execute(select, (self.tenant_id, self._list(keys[start:start + CHUNK])))
                found.update(cursor.fetchall())
        finally:
            cursor.close()
        return found

    def _digests_in_range(self, keys: list[str]) -> dict[str, bytes] | None:
        """`digests` by one scan of the key's index from the least of `keys` to the
        greatest, when they are most of the records in between (a file in the order of its
        key, as exports usually are: cheaper than a lookup per key); else None."""
        limit = RANGE_SPREAD * len(keys)
        head = (f"SELECT t.{self.key}, t.import_digest, t.archived_at IS NULL "
                f"FROM {self.table.name} AS t")
        if self.sqlite:
            statement = (f"{head} WHERE t.tenant_id = ? AND t.{self.key} BETWEEN ? AND ? "
                         "LIMIT ?")
            parameters: tuple = (self.tenant_id, min(keys), max(keys), limit + 1)
        else:  # the bounds in the column's own collation
            statement = (f"{head} WHERE t.tenant_id = %s AND t.{self.key} BETWEEN {_LOW} "
                         f"AND {_HIGH} LIMIT %s")
            parameters = (self.tenant_id, keys, keys, limit + 1)
        cursor = self.cursor()
        try:
            self._execute_unprepared(cursor, statement, parameters)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if len(rows) > limit:
            return None
        return {key: digest for key, digest, live in rows if digest is not None and live}

    def _execute_unprepared(self, cursor: Any, statement: str, parameters: tuple) -> None:
        """A range statement, planned for its own bounds each time. psycopg prepares a
        statement run five times, and PostgreSQL then keeps a generic plan, made without the
        bounds (they come from the parameters through min/max): it walked the tenant's whole
        key index for each block, 0.4-0.5 s of server CPU a block of 20,000 rows of a
        million-row table instead of 0.03 s."""
        if self.sqlite:
            cursor.execute(statement, parameters)
        else:
            cursor.execute(statement, parameters, prepare=False)

    def digests_of_range(self, keys: list[str], rows: int) -> tuple[bytes, str] | None:
        """The feed fingerprints of the live (not archived) records from the least of `keys`
        to the greatest, joined in the key's order (16 zero bytes for a record without one),
        and their keys joined by line feeds, in the same order: one scan of the key's index
        returning one row; None when the range holds more than RANGE_SPREAD × `rows` records
        (then `digests`)."""
        key = self.key
        joined = (f"group_concat(CASE WHEN archived_at IS NULL THEN {key} END, char(10))"
                  if self.sqlite else
                  f"string_agg({key}, E'\\n') FILTER (WHERE archived_at IS NULL)")
        found = self._read_range(joined, keys, rows)
        if found is None:
            return None
        digests, keys_found = found
        if not digests:
            return b"", ""
        return bytes(digests), keys_found

    def summary_of_range(self, bounds: list[str], rows: int) -> tuple[bytes, str, str] | None:
        """`digests_of_range` without the keys: the live records' fingerprints from the least
        of `bounds` to the greatest, joined in the key's order (16 zero bytes for a record
        without one), and the least and greatest of their keys in Python's order (code
        points: PostgreSQL's "C" collation, SQLite's BINARY of UTF-8), in one row of three
        values; None when the range holds more than RANGE_SPREAD × `rows` records, or none
        that is live. A block whose lines' digests, joined, are the first value is the range's
        records, one line each in the key's order: its keys need not come back."""
        key = self.key
        # Where the key's order is that of code points, the range's first and last keys are
        # its least and greatest (no min and max over 20,000 keys: 15-20 % of the statement).
        if self.keys_in_code_points():
            ends = "NULL, NULL"
        elif self.sqlite:  # a CASE has SQLite's BINARY collation: UTF-8 bytes, code points
            ends = (f"min(CASE WHEN archived_at IS NULL THEN {key} END), "
                    f"max(CASE WHEN archived_at IS NULL THEN {key} END)")
        else:
            live = "FILTER (WHERE archived_at IS NULL)"
            ends = f"min({key} COLLATE \"C\") {live}, max({key} COLLATE \"C\") {live}"
        found = self._read_range(ends, bounds, rows)
        if found is None or not found[0]:
            return None
        digests, low, high = found
        if low is None:  # the range's ends, in the key's order: its first and last
            low, high = min(bounds), max(bounds)
        return bytes(digests), low, high

    def _read_range(self, more: str, keys: list[str], rows: int) -> tuple | None:
        """One scan of the key's index over the records from the least of `keys` to the
        greatest (in the column's own collation), returning one row: the live records'
        fingerprints joined in the key's order (16 zero bytes for a record without one), then
        the values of `more`, aggregates over the same rows; None when the range holds more
        than RANGE_SPREAD × `rows` records."""
        limit = RANGE_SPREAD * rows
        key = self.key
        if self.sqlite:
            # The digests' bytes joined as they are (a UTF-8 database's text keeps a blob's
            # bytes; a database in another encoding joins other bytes, of another length:
            # then no block is found in order, and keys are compared one by one).
            statement = (f"SELECT count(*), CAST(group_concat(CASE WHEN archived_at IS NULL "
                         f"THEN coalesce(import_digest, zeroblob(16)) END, '') AS BLOB), "
                         f"{more} FROM (SELECT {key}, import_digest, archived_at "
                         f"FROM {self.table.name} WHERE tenant_id = ? AND {key} "
                         f"BETWEEN ? AND ? ORDER BY {key} LIMIT ?)")
            parameters: tuple = (self.tenant_id, min(keys), max(keys), limit + 1)
        else:
            statement = (f"SELECT count(*), string_agg(coalesce(import_digest, "
                         f"'\\x{'0' * 32}'::bytea), ''::bytea) FILTER (WHERE archived_at IS "
                         f"NULL), {more} "
                         f"FROM (SELECT t.{key}, t.import_digest, t.archived_at FROM "
                         f"{self.table.name} AS t WHERE t.tenant_id = %s AND t.{key} BETWEEN "
                         f"{_LOW} AND {_HIGH} ORDER BY t.{key} LIMIT %s) AS s")
            parameters = (self.tenant_id, keys, keys, limit + 1)
        cursor = self.cursor()
        try:
            self._execute_unprepared(cursor, statement, parameters)
            count, *found = cursor.fetchone()
        finally:
            cursor.close()
        return None if count > limit else tuple(found)

    def keys_in_code_points(self) -> bool:
        """Whether the database orders the key column as Python orders strings (by code
        point), asked once: SQLite's BINARY on a UTF-8 database, PostgreSQL's "C", "POSIX" or
        ucs_basic, or a libc "C.UTF-8" found to sort a sample of keys as Python does (code
        point order is what it is documented to be)."""
        if self._code_points is None:
            self._code_points = self._orders_by_code_point()
        return self._code_points

    def _orders_by_code_point(self) -> bool:
        cursor = self.cursor(binary=False)
        try:
            if self.sqlite:
                cursor.execute("PRAGMA encoding")
                encoding = cursor.fetchone()[0]
                cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (self.table.name,))
                found = cursor.fetchone()
                return encoding == "UTF-8" and found is not None and found[0] is not None \
                    and "COLLATE" not in found[0].upper()
            cursor.execute(
                "SELECT c.collname, CASE WHEN c.collname = 'default' THEN d.datcollate "
                "ELSE c.collcollate END FROM pg_attribute AS a JOIN pg_collation AS c "
                "ON c.oid = a.attcollation CROSS JOIN pg_database AS d "
                "WHERE a.attrelid = %s::regclass AND a.attname = %s "
                "AND d.datname = current_database()", (self.table.name, self.key))
            found = cursor.fetchone()
            if found is None or found[1] is None:
                return False
            collation, locale = found
            if locale not in ("C", "POSIX") and locale.lower().replace("-", "") != "c.utf8":
                return False
            # The sample sorted by the column's own collation (an ICU default names a libc
            # locale too): as Python sorts it, or not.
            cursor.execute("SELECT array_agg(v ORDER BY v COLLATE \"{}\") FROM unnest(%s::text[])"
                           " AS v".format(collation.replace('"', '""')), (_ORDER_SAMPLE,))
            return cursor.fetchone()[0] == sorted(_ORDER_SAMPLE)
        finally:
            cursor.close()

    def references(self, table: Table, with_partner: bool,
                   refs: list[str] | None) -> dict[str, tuple[int, int | None]]:
        """Related records of this tenant by external_ref (all of them when `refs` is None):
        ref → (id, partner_id or None)."""
        selected = f"external_ref, id, {'partner_id' if with_partner else 'NULL'}"
        cursor = self.cursor()
        try:
            if refs is None:
                cursor.execute(f"SELECT {selected} FROM {table.name} WHERE tenant_id = "
                               f"{self.mark} AND external_ref IS NOT NULL", (self.tenant_id,))
                return {ref: (record_id, partner_id) for ref, record_id, partner_id in cursor}
            found: dict[str, tuple[int, int | None]] = {}
            select = self._by(table.name, "external_ref", selected)
            for start in range(0, len(refs), CHUNK):
                cursor.execute(select, (self.tenant_id, self._list(refs[start:start + CHUNK])))
                found.update((ref, (record_id, partner_id))
                             for ref, record_id, partner_id in cursor.fetchall())
            return found
        finally:
            cursor.close()

    def by_ids(self, columns: Sequence[str], ids: list[int], hold: bool = False
               ) -> list[tuple]:
        """The columns of this tenant's records `ids`: (id, *columns) each; `hold`: locked
        until the transaction ends, in the order of their ids (PostgreSQL; a writer on
        SQLite holds the whole database already), with the lock an UPDATE of them takes
        anyway: FOR NO KEY UPDATE leaves free the check of a foreign key naming one (a
        contact or an invoice of a customer written meanwhile), which FOR UPDATE would
        block, and deadlock with."""
        selected = ", ".join(["id", *columns])
        held = ""
        if hold:  # in the order of their ids, across chunks too
            ids, held = sorted(ids), " ORDER BY id FOR NO KEY UPDATE"
        found: list[tuple] = []
        cursor = self.cursor(binary=False)
        try:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                if self.sqlite:
                    cursor.execute(f"SELECT {selected} FROM {self.table.name} WHERE tenant_id = ?"
                                   " AND id IN (SELECT value FROM json_each(?))",
                                   (self.tenant_id, json.dumps(chunk)))
                else:
                    cursor.execute(f"SELECT {selected} FROM {self.table.name} WHERE tenant_id = "
                                   f"%s AND id = ANY(%s){held}", (self.tenant_id, chunk))
                found += cursor.fetchall()
        finally:
            cursor.close()
        return found

    def holders(self, column: str, values: list[str]) -> dict[str, int]:
        """This tenant's records holding one of `values` in `column`, a unique one (a key,
        a number): value → the record's id."""
        select = self._by(self.table.name, column, f"{column}, id")
        found: dict[str, int] = {}
        cursor = self.cursor()
        try:
            for start in range(0, len(values), CHUNK):
                cursor.execute(select, (self.tenant_id,
                                        self._list(values[start:start + CHUNK])))
                found.update((str(value), record_id) for value, record_id in cursor.fetchall())
        finally:
            cursor.close()
        return found

    def holds_any(self) -> bool:
        """Whether this tenant has a row in the entity's table (one index lookup)."""
        cursor = self.cursor()
        try:
            cursor.execute(f"SELECT 1 FROM {self.table.name} WHERE tenant_id = {self.mark} "
                           "LIMIT 1", (self.tenant_id,))
            return cursor.fetchone() is not None
        finally:
            cursor.close()

    def count(self, table: Table) -> int:
        cursor = self.cursor()
        try:
            cursor.execute(f"SELECT count(*) FROM {table.name} WHERE tenant_id = {self.mark}",
                           (self.tenant_id,))
            return cursor.fetchone()[0]
        finally:
            cursor.close()

    def differing(self, compared: Sequence[tuple[str, str]], customs: Sequence[str],
                  keys: list[str], values: Sequence[list[Any]], custom_values: list[Any],
                  missing_only: bool, returned: Sequence[str] = ()
                  ) -> dict[int, tuple] | None:
        """The rows (by position) whose record is missing (→ (None, …)) or differs from them,
        or is archived (→ (its id, *its columns `returned`), which `result_processors(…, 1)`
        converts), compared by SQLite: an unchanged row costs no Python object.
        None on PostgreSQL, where fetching the records in binary and comparing them in
        Python is faster than sending the file's values (psycopg dumps lists slowly).

        `compared`: (column, kind) pairs, kind "text", "cents", "date" or "id", with
        `values` a list per pair; `customs`: the custom keys compared, `custom_values`
        holding per row the file's custom values as json_extract gives them back. Equal
        here means equal in Python too (the engine then checks again every row found
        different, on the ORM's values).
        """
        if not self.sqlite:
            return None
        compared = [(self.cents(f"i.{name}") if kind == "cents" else f"i.{name}", kind)
                    for name, kind in compared]
        return self._differing_sqlite(compared, customs, keys, values, custom_values,
                                      missing_only, returned)

    def _where(self, tests: list[str], missing_only: bool) -> str:
        if missing_only:
            return "i.id IS NULL"
        same = " AND ".join(tests) or "TRUE"
        return f"i.id IS NULL OR i.archived_at IS NOT NULL OR NOT ({same})"

    def _differing_sqlite(self, compared, customs, keys, values, custom_values, missing_only,
                          returned):
        names = [f"c{n}" for n in range(len(compared) + len(customs))]
        tests = [f"{expression} IS f.{name}" for (expression, _kind), name
                 in zip(compared, names, strict=False)]
        tests += [f"json_extract(i.custom, '$.\"{key}\"') IS f.{name}"
                  for key, name in zip(customs, names[len(compared):], strict=True)]
        width = 2 + len(names)
        per_statement = max(1, min(500, 30_000 // width))
        heading = ", ".join(["n", "k", *names])
        columns = [range(len(keys)), keys, *values, *zip(*custom_values, strict=True)] \
            if customs else [range(len(keys)), keys, *values]
        flat = list(chain.from_iterable(zip(*columns, strict=True)))  # row after row
        found: dict[int, tuple] = {}
        selected = ", ".join(["f.n", "i.id", *(f"i.{name}" for name in returned)])
        cursor = self.cursor()
        try:
            for start in range(0, len(keys), per_statement):
                count = min(per_statement, len(keys) - start)
                marks = ", ".join([f"({', '.join('?' * width)})"] * count)
                parameters = flat[start * width:(start + count) * width]
                parameters.append(self.tenant_id)
                cursor.execute(
                    f"WITH f({heading}) AS (VALUES {marks}) "
                    f"SELECT {selected} FROM f LEFT JOIN {self.table.name} AS i "
                    f"ON i.tenant_id = ? AND i.{self.key} = f.k "
                    f"WHERE {self._where(tests, missing_only)}", parameters)
                found.update((row[0], row[1:]) for row in cursor.fetchall())
                self.description = cursor.description[1:]
        finally:
            cursor.close()
        return found

    # -- writes -----------------------------------------------------------------------------

    def insert(self, columns: Sequence[str], rows: Iterable[tuple],
               table: Table | None = None, *, few: bool = False,
               returning: Sequence[str] = (), skip_taken: Sequence[str] = ()) -> list[tuple]:
        """New rows of the entity's table (or `table`); `columns` starts with tenant_id,
        whose value must be the bound tenant's. `few`: a handful of rows (a single write's),
        which a staging table would only slow down.

        PostgreSQL only (SQLite's executemany returns nothing: an empty list there):
        `returning`, columns of the rows written, a tuple each; `skip_taken`, the columns of
        a unique key: a row whose key is taken (by a write since the key was read) is left
        out instead of failing the whole statement (ON CONFLICT … DO NOTHING), and is
        missing from what comes back. Only that key: checking every unique key so costs the
        database 7 % more CPU per row, for conflicts of another kind that stay rare."""
        if columns[0] != "tenant_id":
            raise ValueError("tenant_id comes first")
        rows = _bound(rows, self.tenant_id)
        name = (self.table if table is None else table).name
        names = ", ".join(columns)
        marks = f"({', '.join(self.mark for _ in columns)})"
        tail = (f" ON CONFLICT ({', '.join(skip_taken)}) DO NOTHING" if skip_taken else "") + (
            f" RETURNING {', '.join(returning)}" if returning else "")
        cursor = self.cursor(binary=False)
        try:
            if self.sqlite:
                with self._page_cache(cursor):
                    cursor.executemany(f"INSERT INTO {name} ({names}) VALUES {marks}", rows)
                return []
            if few:  # one statement, one round trip
                rows = list(rows)
                cursor.execute(f"INSERT INTO {name} ({names}) VALUES "
                               f"{', '.join([marks] * len(rows))}{tail}",
                               [value for row in rows for value in row])
            else:
                staging = "relais_import_rows"
                cursor.execute(f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS "
                               f"SELECT {names} FROM {name} WITH NO DATA")
                with cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
                    write = copy.write_row
                    for row in rows:
                        write(row)
                cursor.execute(f"INSERT INTO {name} ({names}) SELECT {names} FROM {staging}"
                               f"{tail}")
            found = cursor.fetchall() if returning else []
            if not few:
                cursor.execute(f"DROP TABLE {staging}")
            return found
        finally:
            cursor.close()

    def insert_dicts(self, table: Table, rows: list[dict[str, Any]],
                     returning: Sequence[str] = ()) -> list[tuple]:
        """Rows given as dicts of Python values (all with the same keys), bound as
        SQLAlchemy binds them, tenant_id added; `returning` as for `insert`."""
        names = list(rows[0])
        few = len(rows) <= FEW
        binds = [self._bind(table.c[name], copied=not few) for name in names]
        # A value every row shares (the same object: the batch's moment, its actor, an
        # audit event's empty `before`) is bound once, not once per row: a JSON or date
        # conversion per row was a third of the Python time of writing a batch's audit.
        first, constant = rows[0], {}
        for name, bind in zip(names, binds, strict=True):
            if bind is not None and len(rows) > 1 \
                    and all(row[name] is first[name] for row in rows):
                constant[name] = bind(first[name])
        if constant:
            binds = [None if name in constant else bind
                     for name, bind in zip(names, binds, strict=True)]
            bound = [(name, constant[name] if name in constant else None, name in constant,
                      bind) for name, bind in zip(names, binds, strict=True)]
            values = ((self.tenant_id, *[value if fixed else bind(row[name]) if bind
                                         else row[name] for name, value, fixed, bind in bound])
                      for row in rows)
        else:
            values = ((self.tenant_id, *[bind(row[name]) if bind else row[name]
                                         for name, bind in zip(names, binds, strict=True)])
                      for row in rows)
        return self.insert(["tenant_id", *names], values, table, few=few,
                           returning=returning)

    def insert_one(self, row: dict[str, Any]) -> int:
        """One new row of the entity's table, given as a dict of Python values: its id."""
        names = list(row)
        values = [self.tenant_id]
        for name in names:
            bind = self._bind(self.table.c[name])
            values.append(bind(row[name]) if bind else row[name])
        marks = ", ".join(self.mark for _ in values)
        cursor = self.cursor(binary=False)
        try:
            cursor.execute(f"INSERT INTO {self.table.name} (tenant_id, {', '.join(names)}) "
                           f"VALUES ({marks}) RETURNING id", values)
            return cursor.fetchone()[0]
        finally:
            cursor.close()

    def update(self, rows: list[dict[str, Any]]) -> int:
        """Changed records of this tenant by id, each row setting its own columns (rows are
        grouped by them): how many rows were written (a record deleted meanwhile is not).
        A row's `custom` is a change of the record's custom values, merged into them as they
        are when written (`merged_custom`). SQLite, or a few rows: executemany; PostgreSQL:
        COPY into a staging table, then one UPDATE … FROM it WHERE … IS DISTINCT FROM … (a row
        equal by now is not written)."""
        written = 0
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(name for name in row if name != "id"), []).append(row)
        for names, group in groups.items():
            copied = not self.sqlite and len(group) > FEW
            # The moment read goes as it was read (set_digests compares it so too).
            binds = [None if name == READ_AT else self._bind(self.table.c[name], copied)
                     for name in names]
            values = [(*[bind(row[name]) if bind else row[name]
                         for name, bind in zip(names, binds, strict=True)], row["id"])
                      for row in group]
            if not copied:
                written += self._update_each(names, values)
            else:
                written += self._update_postgresql(names, values)
        return written

    def set_digests(self, pairs: list[tuple[str, bytes, Any]], profile_id: int) -> None:
        """Feed fingerprints of profile `profile_id` stored on this tenant's records of the
        keys, (key, digest, updated_at) each, unless the record holds the fingerprint of
        another profile that wrote it last, or was written since it was found equal to its
        row (its `updated_at` no longer the one read then; None: nothing can have written it
        since, see `data_version`): nothing else of the record changes (its updated_at
        neither)."""
        if not pairs:
            return
        cursor = self.cursor(binary=False)
        try:
            if self.sqlite or len(pairs) <= FEW:
                mark = self.mark
                moment = mark if self.sqlite else f"{mark}::timestamptz"
                cursor.executemany(
                    f"UPDATE {self.table.name} SET import_digest = {mark} "
                    f"WHERE tenant_id = {mark} AND {self.key} = {mark} "
                    f"AND (import_digest IS NULL OR import_profile_id = {mark}) "
                    f"AND ({moment} IS NULL OR updated_at = {mark})",
                    [(digest, self.tenant_id, key, profile_id, read_at, read_at)
                     for key, digest, read_at in pairs])
                return
            staging = "relais_import_digests"
            cursor.execute(f"CREATE TEMP TABLE {staging} (k text, d bytea, u timestamptz) "
                           "ON COMMIT DROP")
            with cursor.copy(f"COPY {staging} (k, d, u) FROM STDIN") as copy:
                for row in pairs:
                    copy.write_row(row)
            cursor.execute(f"UPDATE {self.table.name} AS t SET import_digest = s.d "
                           f"FROM {staging} AS s WHERE t.tenant_id = %s AND t.{self.key} = s.k "
                           "AND (t.import_digest IS NULL OR t.import_profile_id = %s) "
                           "AND (s.u IS NULL OR t.updated_at = s.u)",
                           (self.tenant_id, profile_id))
            cursor.execute(f"DROP TABLE {staging}")
        finally:
            cursor.close()

    def data_version(self) -> int | None:
        """SQLite: a number that changes whenever another connection commits a change to
        the database (PRAGMA data_version), read in the session's transaction; None on
        PostgreSQL."""
        if not self.sqlite:
            return None
        cursor = self.cursor(binary=False)
        try:
            return cursor.execute("PRAGMA data_version").fetchone()[0]
        finally:
            cursor.close()

    def forget_digests(self, column: str, ids: list[int]) -> None:
        """Feed fingerprints emptied on this tenant's records whose `column` is one of `ids`
        (app/services/fingerprints.py)."""
        cursor = self.cursor(binary=False)
        try:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                if self.sqlite:
                    cursor.execute(f"UPDATE {self.table.name} SET import_digest = NULL "
                                   f"WHERE tenant_id = ? AND {column} IN "
                                   "(SELECT value FROM json_each(?)) "
                                   "AND import_digest IS NOT NULL",
                                   (self.tenant_id, json.dumps(chunk)))
                else:
                    cursor.execute(f"UPDATE {self.table.name} SET import_digest = NULL "
                                   f"WHERE tenant_id = %s AND {column} = ANY(%s) "
                                   "AND import_digest IS NOT NULL", (self.tenant_id, chunk))
        finally:
            cursor.close()

    def _update_each(self, names: Sequence[str], values: list[tuple]) -> int:
        mark = self.mark
        guarded = READ_AT in names
        sets = ", ".join(
            f"{name} = CASE WHEN {mark} IS NULL OR updated_at = {mark} THEN {mark} END"
            if guarded and name == "import_digest"
            else f"custom = {self.merged_custom('custom', mark)}" if name == "custom"
            else f"{name} = {mark}" for name in names if name != READ_AT)
        statement = f"UPDATE {self.table.name} SET {sets} WHERE id = {mark} AND tenant_id = {mark}"
        if guarded:  # the moment read goes twice before the digest
            at = names.index(READ_AT)
            values = [tuple(value for name, value in zip(names, row, strict=False)
                            if name != READ_AT for value in (
                                (row[at], row[at], value) if name == "import_digest"
                                else (value,))) + (row[-1],) for row in values]
        rows = [(*row, self.tenant_id) for row in values]
        cursor = self.cursor(binary=False)
        try:
            if self.sqlite:
                with self._page_cache(cursor):
                    cursor.executemany(statement, rows)
                    return cursor.rowcount  # before the cache's pragma resets it
            if len(rows) == 1:
                cursor.execute(statement, rows[0])
            else:
                cursor.executemany(statement, rows)
            return cursor.rowcount
        finally:
            cursor.close()

    def _update_postgresql(self, names: Sequence[str], values: list[tuple]) -> int:
        staging = "relais_import_changes"
        data = [name for name in names
                if name not in ("updated_at", "import_run_id", "import_profile_id",
                                "import_digest", READ_AT)]
        guarded = READ_AT in names
        given = {name: self.merged_custom("t.custom", "s.custom") if name == "custom"
                 else f"s.{name}" for name in names}
        columns = ", ".join(f"updated_at AS {READ_AT}" if name == READ_AT else name
                            for name in names)
        sets = ", ".join(
            f"import_digest = CASE WHEN s.{READ_AT} IS NULL OR t.updated_at = s.{READ_AT} "
            "THEN s.import_digest END" if guarded and name == "import_digest"
            else f"{name} = {given[name]}" for name in names if name != READ_AT)
        cursor = self.cursor(binary=False)
        try:
            cursor.execute(f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS SELECT "
                           f"{columns}, id FROM {self.table.name} WITH NO DATA")
            with cursor.copy(f"COPY {staging} ({', '.join(names)}, id) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
            changed = (f" AND ({', '.join(f't.{n}' for n in data)}, NULL) IS DISTINCT FROM "
                       f"({', '.join(given[n] for n in data)}, NULL)") if data else ""
            cursor.execute(
                f"UPDATE {self.table.name} AS t SET {sets} FROM {staging} AS s "
                f"WHERE t.id = s.id AND t.tenant_id = %s{changed}", (self.tenant_id,))
            written = cursor.rowcount
            cursor.execute(f"DROP TABLE {staging}")
            return written
        finally:
            cursor.close()

    def merged_custom(self, column: str, change: str) -> str:
        """SQL of the custom values `column` of a record with `change` (a JSON object) merged
        into them: each value it gives set, each null it gives removing one, the others as
        they are when the statement writes them — a value a user saved after a run read the
        record stays, rather than the run writing back the values it read."""
        if self.sqlite:  # RFC 7396: a null removes; custom values are never objects
            return f"json_patch(COALESCE({column}, '{{}}'), {change})"
        return (f"jsonb_strip_nulls(CASE jsonb_typeof({column}) WHEN 'object' THEN {column} "
                f"ELSE '{{}}'::jsonb END || COALESCE(CAST({change} AS jsonb), '{{}}'::jsonb))")

    def _bind(self, column: Any, copied: bool = False) -> Any:
        """SQLAlchemy's conversion of a value of `column`; `copied`: for COPY on PostgreSQL,
        where a JSON value goes as its text, which is what the driver's Json wrapper writes
        (`null` for None, as SQLAlchemy's JSON binds it), without a wrapper and a dumper
        looked up per value (an audit event's `after`, a record's `custom`)."""
        if copied and not self.sqlite and isinstance(column.type, JSON):
            return json.dumps
        return column.type._cached_bind_processor(self.dialect)

    def result_processors(self, names: Sequence[str], at: int = 1) -> list[Any]:
        """SQLAlchemy's conversions of the columns `names` the last read (`existing`, or
        `differing`) gave from its column `at` on (after its key), as the ORM applies
        them."""
        return [self.table.c[name].type._cached_result_processor(self.dialect, column[1])
                for name, column in zip(names, self.description[at:at + len(names)],
                                        strict=True)]


    @contextmanager
    def _page_cache(self, cursor: Any) -> Iterator[None]:
        """SQLite: a larger page cache while a batch's rows go in, the connection's own
        after. New rows land all over the table's indexes; with the default 2 MB cache each
        insert reads and writes back pages evicted by the previous ones (+50 % rows/s)."""
        size = cursor.execute("PRAGMA cache_size").fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{WRITE_CACHE_KIB}")
        try:
            yield
        finally:
            cursor.execute(f"PRAGMA cache_size = {int(size)}")


def forget_digests(table: str, column: str, ids: list[int]) -> None:
    """Feed fingerprints emptied on the bound tenant's rows of `table` naming `ids` in
    `column`."""
    BulkSQL(db.metadata.tables[table], "external_ref", current_tenant_id()) \
        .forget_digests(column, ids)


def _bound(rows: Iterable[tuple], tenant_id: int) -> Iterable[tuple]:
    for row in rows:
        if row[0] != tenant_id:
            raise ValueError("a row of another tenant")
        yield row


_gc_lock = threading.Lock()
_gc_runs = 0
_gc_was_enabled = True


@contextmanager
def collecting_between_batches() -> Iterator[Callable[[], None]]:
    """Cyclic garbage collected between batches, not every 700 allocations: a batch makes
    hundreds of thousands of short-lived lists, tuples and dicts, and each automatic
    collection walks the survivors again (a tenth to a fifth of the time). The collector is
    process-wide: runs in other threads share the setting, and the last one out turns it
    back on."""
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
