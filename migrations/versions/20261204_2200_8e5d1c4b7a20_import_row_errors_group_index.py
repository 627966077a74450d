"""Index import_row_errors on (tenant_id, run_id, column, message_id, line, id): errors by kind.

A run's errors are summed up by kind (column, message and, for a message about the value, the
value) on its page and in the API, and one kind's errors are paged by line: both read this
index instead of every error of the run in line order. The value is left out: a cell may be
longer than a B-tree entry may be on PostgreSQL.

Revision ID: 8e5d1c4b7a20
Revises: a4d2e8b61c37
Create Date: 2026-12-04 22:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '8e5d1c4b7a20'
down_revision = 'a4d2e8b61c37'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_row_errors', schema=None) as batch_op:
        batch_op.create_index('ix_import_row_errors_tenant_id_run_id_column',
                              ['tenant_id', 'run_id', 'column', 'message_id', 'line', 'id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('import_row_errors', schema=None) as batch_op:
        batch_op.drop_index('ix_import_row_errors_tenant_id_run_id_column')
