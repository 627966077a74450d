"""Import runs count the files they attached, and keep their revert's failure by id and values

Revision ID: d5e8a2c4f716
Revises: a7d3e9f1c284
Create Date: 2026-12-07 09:30:00

A run of a ZIP archive that only gave records new documents created and updated nothing: it
was taken for a run that changed nothing, and could not be reverted. Why a revert failed was
kept as English text, with its values in it, which no other language could read.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'd5e8a2c4f716'
down_revision = 'a7d3e9f1c284'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_runs') as batch:
        batch.add_column(sa.Column('attached', sa.Integer(), nullable=False,
                                   server_default='0'))
        batch.add_column(sa.Column(
            'revert_message_params',
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            nullable=True))


def downgrade():
    with op.batch_alter_table('import_runs') as batch:
        batch.drop_column('revert_message_params')
        batch.drop_column('attached')
