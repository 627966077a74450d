"""Row-level security on PostgreSQL: the second wall behind app/tenancy.py.

The ORM scopes every query to the bound tenant; raw SQL (app/services/record_sql.py, COPY)
depends on discipline. So every table with a tenant_id column also carries a policy: a row
is visible, and may be written, only when its tenant_id is the transaction's `app.tenant_id`,
or when the transaction opened the platform bypass (`app.bypass_rls` = on). app/tenancy.py
sets both, transaction-local, from the ContextVars the ORM uses; with neither set, nothing is
visible.

FORCE makes the table's owner subject too; superusers and BYPASSRLS roles never are, so the
app connects as a role of its own (docs/operations.md). SQLite: nothing here applies.

A migration that creates a tenant table calls `isolate_tenant_table(name)` after creating it
(and `share_tenant_table(name)` in its downgrade, before dropping it); tests/test_rls.py fails
for a tenant table left without the policy. Those helpers import Alembic when called: the app
itself, which only needs `warn_when_exempt`, never loads it (app/cli/database.py says why).
"""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

POLICY = "tenant_isolation"
# Each setting read once per statement (an InitPlan), not once per row.
RULE = ("tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::integer) "
        "OR (SELECT current_setting('app.bypass_rls', true) = 'on')")

log = logging.getLogger("relais.tenancy")


def isolate_tenant_table(table: str) -> None:
    """In a migration: the tenant policy on `table`, enforced for its owner too."""
    from alembic import op

    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({RULE}) WITH CHECK ({RULE})")


def share_tenant_table(table: str) -> None:
    """In a migration's downgrade: undo `isolate_tenant_table`."""
    from alembic import op

    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def tenant_tables() -> list[str]:
    """In a migration: the current schema's tables that have a tenant_id column (PostgreSQL;
    none on SQLite)."""
    from alembic import op

    if op.get_bind().dialect.name != "postgresql":
        return []
    rows = op.get_bind().exec_driver_sql(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'tenant_id' "
        "AND table_schema = current_schema() ORDER BY table_name")
    return [name for (name,) in rows]


def warn_when_exempt(engine: Engine) -> None:
    """Log once when the app's database role is exempt from the policies (a superuser, or
    BYPASSRLS): the second wall is then down, silently otherwise."""
    if engine.dialect.name == "postgresql":
        event.listen(engine, "first_connect", _check_role)


def _check_role(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles "
                       "WHERE rolname = current_user")
        user, exempt = cursor.fetchone()
    finally:
        cursor.close()
    dbapi_connection.rollback()
    if exempt:
        log.warning("database role %s is a superuser or has BYPASSRLS: row-level security "
                    "does not apply to it (docs/operations.md, Database roles)", user)
