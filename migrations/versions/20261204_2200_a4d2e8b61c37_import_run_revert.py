"""Import runs remember their revert: when, by whom, and what it deleted, archived, restored
or left alone

Revision ID: a4d2e8b61c37
Revises: 5c299973a6f0
Create Date: 2026-12-04 22:00:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'a4d2e8b61c37'
down_revision = '5c299973a6f0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_runs') as batch:
        batch.add_column(sa.Column('reverted_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('reverted_by', sa.String(length=254), nullable=True))
        batch.add_column(sa.Column('revert_summary', sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))


def downgrade():
    with op.batch_alter_table('import_runs') as batch:
        batch.drop_column('revert_summary')
        batch.drop_column('reverted_by')
        batch.drop_column('reverted_at')
