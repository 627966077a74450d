"""Deleting records a feed created (a revert), many at once (a bulk deletion) or one by one:
the database finds what refers to each deleted record (ON DELETE CASCADE or SET NULL) by an
index led by that reference. An index led by tenant_id cannot answer `account_id = ?` on
PostgreSQL: each customer deleted read every invoice of the table, and a revert of a run that
created thousands of customers took as many full scans of each table that refers to them."""
from __future__ import annotations

import re

import pytest

from app.entities import ENTITIES
from app.extensions import db
from tests.conftest import owner_engine

RECORD_TABLES = {entity.model.__tablename__ for entity in ENTITIES.values()}
REFERENCES = sorted(
    (table.name, column.name) for table in db.metadata.sorted_tables for column in table.c
    for key in column.foreign_keys if key.column.table.name in RECORD_TABLES)


def test_every_kind_of_record_is_referred_to():
    """The references below are those of the schema: most of them, not a handful."""
    referred = {next(iter(db.metadata.tables[t].c[c].foreign_keys)).column.table.name
                for t, c in REFERENCES}
    assert {"accounts", "contacts", "invoices", "orders", "quotes", "partners"} <= referred
    assert ("invoices", "account_id") in REFERENCES
    assert ("activities", "invoice_id") in REFERENCES


@pytest.mark.parametrize(("table", "column"), REFERENCES,
                         ids=[f"{t}.{c}" for t, c in REFERENCES])
def test_the_rows_referring_to_a_deleted_record_are_found_by_an_index(app, backend, table,
                                                                     column):
    statement = f'SELECT 1 FROM "{table}" WHERE "{column}" = '
    if backend == "sqlite":
        with app.app_context(), db.engine.connect() as connection:
            plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement} ?", (7,)))
        # A search of the index by the reference, not a scan, nor a skip-scan of tenant_id.
        assert re.search(rf"SEARCH {table} USING (COVERING )?INDEX \w+ \({column}=\?", plan), plan
        return
    # As PostgreSQL plans the check of a foreign key: once for any value ($1), here with
    # sequential scans off, since the test's tables hold a few rows.
    with app.app_context(), owner_engine(app).connect() as connection:
        try:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            connection.exec_driver_sql(f"PREPARE referring (integer) AS {statement} $1")
            plan = " ".join(row[0] for row in connection.exec_driver_sql(
                "EXPLAIN EXECUTE referring (7)"))
            used = re.search(r"Index (?:Only )?Scan using (\w+)|Bitmap Index Scan on (\w+)",
                             plan)
            assert used, plan
            first = connection.exec_driver_sql(
                "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
                "WHERE c.relname = %(index)s", {"index": used.group(1) or used.group(2)}).scalar()
            assert first == column, plan
        finally:
            connection.exec_driver_sql("DEALLOCATE ALL")
            connection.rollback()
