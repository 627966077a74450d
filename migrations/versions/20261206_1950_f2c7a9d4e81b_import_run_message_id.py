"""Import runs keep their message's id and parameters, so that it reads in the reader's language

Revision ID: f2c7a9d4e81b
Revises: e9c4a1d7b352
Create Date: 2026-12-06 19:50:00

A run's message (columns missing, a file that cannot be read…) was stored as text in the
language of the process that ran it: a worker's default language, whatever the tenant's or
the reader's. Row errors already kept theirs as an id and parameters.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'f2c7a9d4e81b'
down_revision = 'e9c4a1d7b352'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_runs') as batch:
        batch.add_column(sa.Column('message_id', sa.Text(), nullable=True))
        batch.add_column(sa.Column(
            'message_params',
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            nullable=True))


def downgrade():
    with op.batch_alter_table('import_runs') as batch:
        batch.drop_column('message_params')
        batch.drop_column('message_id')
