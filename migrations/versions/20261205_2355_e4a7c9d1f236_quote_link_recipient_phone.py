"""Quote signing links: the recipient's phone as the tenant knows it, for a code by SMS

Revision ID: e4a7c9d1f236
Revises: d2f8b3c61a07
Create Date: 2026-12-05 23:55:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'e4a7c9d1f236'
down_revision = 'd2f8b3c61a07'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('quote_signing_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_phone', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('quote_signing_links', schema=None) as batch_op:
        batch_op.drop_column('recipient_phone')
