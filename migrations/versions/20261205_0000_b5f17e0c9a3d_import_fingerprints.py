"""Records keep the fingerprint of the feed row that made them (import_digest), and runs
count the rows recognised by it (fingerprinted).

A nightly full file re-sends every record: a row whose fingerprint (its mapped cells, its
profile's version, the entity's custom fields) is the one stored on its record is unchanged,
known without converting a cell. Any other write empties the fingerprint (the column's
`onupdate` and the record writer's statements). A column rather than a table: the lookup is
the key lookup imports already make, a new record gets its fingerprint in its own INSERT, and
a deleted record takes its fingerprint with it. Row-level security: the record tables' own.

Revision ID: b5f17e0c9a3d
Revises: b6d0e3f1a957
Create Date: 2026-12-05 00:00:00.000000

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "b5f17e0c9a3d"
down_revision = "b6d0e3f1a957"
branch_labels = None
depends_on = None

RECORD_TABLES = (
    "accounts",
    "activities",
    "attachments",
    "contacts",
    "contracts",
    "deals",
    "deliveries",
    "invoices",
    "orders",
    "partners",
    "quotes",
)


def upgrade():
    for table in RECORD_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("import_digest", sa.LargeBinary(length=16), nullable=True)
            )
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fingerprinted", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade():
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_column("fingerprinted")
    for table in RECORD_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("import_digest")
