"""Import runs: error_groups, their row errors counted by kind once, when the run ends.

A finished run's errors no longer change: its page and the API read its largest groups of
errors from here instead of grouping up to hundreds of thousands of errors on every view.
Runs that ended before (null) are counted when read, as are runs still going.

Revision ID: c2a6f93e1d58
Revises: 8e5d1c4b7a20
Create Date: 2026-12-04 22:10:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'c2a6f93e1d58'
down_revision = '8e5d1c4b7a20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_groups', sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))


def downgrade():
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.drop_column('error_groups')
