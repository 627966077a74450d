"""Search text: searched fields folded (case, accents) into one indexed column per record table

Revision ID: 3f1c0a7d9e52
Revises: b7e41c9d3a25
Create Date: 2026-12-04 21:00:00

The column is filled here in batches, by app/search_text.py (the function the record writer
uses), so that both databases hold the same text. PostgreSQL answers `LIKE '%word%'` from a
GIN index of the tenant and the text's trigrams (pg_trgm and btree_gin, trusted extensions:
the tables' owner may create them); SQLite reads its (tenant_id, search_text) index instead
of the table's rows.
"""
import sqlalchemy as sa
from alembic import op

from app.entities import ENTITIES
from app.search_text import search_text, searched_fields

revision = '3f1c0a7d9e52'
down_revision = 'b7e41c9d3a25'
branch_labels = None
depends_on = None

TABLES = ("partners", "accounts", "contacts", "deals", "quotes", "orders", "contracts",
          "deliveries", "invoices")
BATCH = 5_000


def upgrade():
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    if postgresql:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        # Every tenant's rows are filled: the platform bypass of row-level security, for
        # this transaction only (app/row_security.py).
        op.execute("SELECT set_config('app.bypass_rls', 'on', true)")
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=True))
        _backfill(bind, ENTITIES[table], table)
        if postgresql:
            op.create_index(f"ix_{table}_search_text", table, ["tenant_id", "search_text"],
                            postgresql_using="gin",
                            postgresql_ops={"search_text": "gin_trgm_ops"})
        else:
            op.create_index(f"ix_{table}_search_text", table, ["tenant_id", "search_text"])


def _backfill(bind, entity, table):
    """Every row's search text, a batch of ids at a time."""
    fields = searched_fields(entity)
    columns = ", ".join(fields)
    last = 0
    while True:
        rows = bind.execute(sa.text(
            f"SELECT id, {columns} FROM {table} WHERE id > :last ORDER BY id LIMIT {BATCH}"),
            {"last": last}).all()
        if not rows:
            return
        bind.execute(sa.text(f"UPDATE {table} SET search_text = :text WHERE id = :id"), [
            {"id": row[0], "text": search_text(entity, dict(zip(fields, row[1:], strict=True)))}
            for row in rows])
        last = rows[-1][0]


def downgrade():
    for table in TABLES:
        op.drop_index(f"ix_{table}_search_text", table_name=table)
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('search_text')
