"""Import runs name the worker process that runs them, so a dead one's runs are recovered

Revision ID: 7c3e9a1f5b2d
Revises: 7c3e5a9d2f41
Create Date: 2026-12-03 13:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '7c3e9a1f5b2d'
down_revision = '7c3e5a9d2f41'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('worker_id', sa.String(length=120), nullable=True))


def downgrade():
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.drop_column('worker_id')
