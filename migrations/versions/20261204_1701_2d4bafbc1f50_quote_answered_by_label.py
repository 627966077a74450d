"""Quotes: answered_by_label, who answered when no user did (a partner's API token)

Revision ID: 2d4bafbc1f50
Revises: aa87be8cc150
Create Date: 2026-12-04 17:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '2d4bafbc1f50'
down_revision = 'aa87be8cc150'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('quotes') as batch_op:
        batch_op.add_column(sa.Column('answered_by_label', sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table('quotes') as batch_op:
        batch_op.drop_column('answered_by_label')
