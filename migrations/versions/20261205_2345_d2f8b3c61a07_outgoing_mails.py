"""Outgoing mails: written in the transaction they announce, sent after its commit, retried

Revision ID: d2f8b3c61a07
Revises: c7e1a4d92b50
Create Date: 2026-12-05 23:45:00

"""
import sqlalchemy as sa
from alembic import op

from app.row_security import isolate_tenant_table, share_tenant_table

revision = 'd2f8b3c61a07'
down_revision = 'c7e1a4d92b50'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'outgoing_mails',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=40), nullable=False),
        sa.Column('recipient', sa.String(length=254), nullable=False),
        sa.Column('message_sealed', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_outgoing_mails_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_mails')),
    )
    op.create_index('ix_outgoing_mails_status_next_attempt_at', 'outgoing_mails',
                    ['status', 'next_attempt_at'])
    isolate_tenant_table('outgoing_mails')


def downgrade():
    share_tenant_table('outgoing_mails')
    op.drop_index('ix_outgoing_mails_status_next_attempt_at', table_name='outgoing_mails')
    op.drop_table('outgoing_mails')
