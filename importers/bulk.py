"""Set-based reads and writes of the import engine's batch path, in the dialect's own terms.

Why SQL here, when everything else goes through the ORM: per row, the ORM (and Core's
parameter processing, and the tenancy hook on every ORM statement) costs more than the
database does. These statements run on the session's own connection, inside the batch's
savepoint, on the entity's table only, and tenant_id is always the bound tenant
(app.tenancy.current_tenant_id()), passed as a parameter, never read from the file: every
read is filtered on it and every row written carries it. Ids written (related records,
the run, its profile) come from reads filtered the same way.

SQLite: executemany in the batch's transaction. PostgreSQL: COPY, and for changed records a
staging table and one UPDATE … FROM … WHERE … IS DISTINCT FROM ….
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Table

from app.extensions import db

CHUNK = 5_000


class BulkSQL:
    """One entity table of one run, in one dialect."""

    def __init__(self, table: Table, key: str, tenant_id: int) -> None:
        self.table, self.key, self.tenant_id = table, key, tenant_id
        self.dialect = db.engine.dialect
        self.sqlite = self.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"

    # -- plumbing ---------------------------------------------------------------------------

    def cursor(self) -> Any:
        """A DBAPI cursor on the session's connection (its transaction, its savepoint)."""
        return db.session.connection().connection.driver_connection.cursor()

    @property
    def errors(self) -> type[Exception]:
        return self.dialect.dbapi.Error

    def _in(self, column: str) -> str:
        if self.sqlite:
            return f"{column} IN (SELECT value FROM json_each(?))"
        return f"{column} = ANY(%s)"

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
        select = (f"SELECT {self.key}, {', '.join(columns)} FROM {self.table.name} "
                  f"WHERE tenant_id = {self.mark} AND {self._in(self.key)}")
        found: dict[str, tuple] = {}
        cursor = self.cursor()
        try:
            for start in range(0, len(keys), CHUNK):
                cursor.execute(select, (self.tenant_id, self._list(keys[start:start + CHUNK])))
                found.update((row[0], row) for row in cursor.fetchall())
        finally:
            cursor.close()
        return found

    def references(self, table: Table, with_partner: bool,
                   refs: list[str] | None) -> dict[str, tuple[int, int | None]]:
        """Related records of this tenant by external_ref (all of them when `refs` is None):
        ref → (id, partner_id or None)."""
        partner = ", partner_id" if with_partner else "NULL"
        select = (f"SELECT external_ref, id, {partner.lstrip(', ')} FROM {table.name} "
                  f"WHERE tenant_id = {self.mark}")
        cursor = self.cursor()
        try:
            if refs is None:
                cursor.execute(f"{select} AND external_ref IS NOT NULL", (self.tenant_id,))
                return {ref: (record_id, partner_id) for ref, record_id, partner_id in cursor}
            found: dict[str, tuple[int, int | None]] = {}
            select += f" AND {self._in('external_ref')}"
            for start in range(0, len(refs), CHUNK):
                cursor.execute(select, (self.tenant_id, self._list(refs[start:start + CHUNK])))
                found.update((ref, (record_id, partner_id))
                             for ref, record_id, partner_id in cursor.fetchall())
            return found
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
                  missing_only: bool) -> dict[int, int | None]:
        """The rows (by position) whose record is missing (→ None) or differs from them, or is
        archived (→ its id), compared by the database: an unchanged row costs no Python object.

        `compared`: (column, kind) pairs, kind "text", "cents", "date" or "id", with
        `values` a list per pair; `customs`: the custom keys compared, `custom_values`
        holding per row the file's custom values (SQLite: a tuple; PostgreSQL: JSON text
        without None). Equal here means equal in Python too (the engine then checks again
        every row found different, on the ORM's values).
        """
        compared = [(self.cents(f"i.{name}") if kind == "cents" else f"i.{name}", kind)
                    for name, kind in compared]
        if self.sqlite:
            return self._differing_sqlite(compared, customs, keys, values, custom_values,
                                          missing_only)
        return self._differing_postgresql(compared, customs, keys, values, custom_values,
                                          missing_only)

    def _where(self, tests: list[str], missing_only: bool) -> str:
        if missing_only:
            return "i.id IS NULL"
        same = " AND ".join(tests) or "TRUE"
        return f"i.id IS NULL OR i.archived_at IS NOT NULL OR NOT ({same})"

    def _differing_sqlite(self, compared, customs, keys, values, custom_values, missing_only):
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
        found: dict[int, int | None] = {}
        cursor = self.cursor()
        try:
            for start in range(0, len(keys), per_statement):
                count = min(per_statement, len(keys) - start)
                marks = ", ".join([f"({', '.join('?' * width)})"] * count)
                parameters = flat[start * width:(start + count) * width]
                parameters.append(self.tenant_id)
                cursor.execute(
                    f"WITH f({heading}) AS (VALUES {marks}) "
                    f"SELECT f.n, i.id FROM f LEFT JOIN {self.table.name} AS i "
                    f"ON i.tenant_id = ? AND i.{self.key} = f.k "
                    f"WHERE {self._where(tests, missing_only)}", parameters)
                found.update(cursor.fetchall())
        finally:
            cursor.close()
        return found

    def _differing_postgresql(self, compared, customs, keys, values, custom_values,
                              missing_only):
        types = {"text": "text", "cents": "bigint", "date": "date", "id": "bigint"}
        names = [f"c{n}" for n in range(len(compared))]
        arrays = [f"%s::{types[kind]}[]" for _expression, kind in compared]
        tests = [f"({', '.join(expression for expression, _kind in compared)})"
                 f" IS NOT DISTINCT FROM ({', '.join(f'f.{name}' for name in names)})"] \
            if compared else []
        if customs:
            names.append("custom")
            arrays.append("%s::jsonb[]")
            tests += [f"NULLIF(i.custom -> '{key}', 'null') IS NOT DISTINCT FROM "
                      f"f.custom -> '{key}'" for key in customs]
        # LATERAL … LIMIT 1 (not pulled up into a join): one index lookup per row whatever the
        # statistics say (right after a bulk load they make a hash join over the tenant's
        # whole table look cheaper).
        select = (f"SELECT f.n, i.id FROM unnest({', '.join(['%s::int[]', '%s::text[]', *arrays])})"
                  f" AS f({', '.join(['n', 'k', *names])}) LEFT JOIN LATERAL (SELECT * FROM "
                  f"{self.table.name} WHERE tenant_id = %s AND {self.key} = f.k LIMIT 1) AS i "
                  f"ON TRUE WHERE {self._where(tests, missing_only)}")
        cursor = self.cursor()
        try:
            cursor.execute(select, (list(range(len(keys))), keys, *values,
                                    *([custom_values] if customs else []), self.tenant_id))
            return dict(cursor.fetchall())
        finally:
            cursor.close()

    # -- writes -----------------------------------------------------------------------------

    def insert(self, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        """New rows; `columns` starts with tenant_id, whose value is the bound tenant's."""
        if columns[0] != "tenant_id":
            raise ValueError("tenant_id comes first")
        rows = _bound(rows, self.tenant_id)
        names = ", ".join(columns)
        cursor = self.cursor()
        try:
            if self.sqlite:
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(f"INSERT INTO {self.table.name} ({names}) VALUES ({marks})",
                                   rows)
            else:
                with cursor.copy(f"COPY {self.table.name} ({names}) FROM STDIN") as copy:
                    write = copy.write_row
                    for row in rows:
                        write(row)
        finally:
            cursor.close()


def _bound(rows: Iterable[tuple], tenant_id: int) -> Iterable[tuple]:
    for row in rows:
        if row[0] != tenant_id:
            raise ValueError("a row of another tenant")
        yield row
