"""Import runs: their revert runs as a job (state, who asked, the process running it, its last
beat, why it failed)

Revision ID: f4a9c2e7b813
Revises: a5ccf91d7f5b
Create Date: 2026-12-05 00:00:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'f4a9c2e7b813'
down_revision = 'a5ccf91d7f5b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_runs') as batch:
        batch.add_column(sa.Column('revert_status', sa.String(length=10), nullable=True))
        batch.add_column(sa.Column('revert_requested_at', sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column('revert_actor', sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch.add_column(sa.Column('revert_worker_id', sa.String(length=120), nullable=True))
        batch.add_column(sa.Column('revert_heartbeat_at', sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column('revert_message', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('import_runs') as batch:
        batch.drop_column('revert_message')
        batch.drop_column('revert_heartbeat_at')
        batch.drop_column('revert_worker_id')
        batch.drop_column('revert_actor')
        batch.drop_column('revert_requested_at')
        batch.drop_column('revert_status')
