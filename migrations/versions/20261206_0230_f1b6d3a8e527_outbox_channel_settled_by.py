"""Outgoing messages carry their channel (e-mail or SMS); a collection names who asked for its settlement

Revision ID: f1b6d3a8e527
Revises: c7f3a9e2d415
Create Date: 2026-12-06 02:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'f1b6d3a8e527'
down_revision = 'c7f3a9e2d415'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outgoing_mails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=8), nullable=False,
                                      server_default='email'))
    with op.batch_alter_table('sepa_collections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settled_by', sa.String(length=254), nullable=False,
                                      server_default=''))


def downgrade():
    with op.batch_alter_table('sepa_collections', schema=None) as batch_op:
        batch_op.drop_column('settled_by')
    with op.batch_alter_table('outgoing_mails', schema=None) as batch_op:
        batch_op.drop_column('channel')
