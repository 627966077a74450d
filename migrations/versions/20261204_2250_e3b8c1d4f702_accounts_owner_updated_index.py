"""Accounts: index (tenant_id, owner_id, updated_at) instead of (tenant_id, owner_id): a
salesperson's customers, last changed first, without scanning the tenant's accounts by date

Revision ID: e3b8c1d4f702
Revises: c2a6f93e1d58
Create Date: 2026-12-04 22:50:00

"""
from alembic import op

revision = 'e3b8c1d4f702'
down_revision = 'c2a6f93e1d58'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_accounts_tenant_id_owner_id')
        batch_op.create_index('ix_accounts_tenant_id_owner_id_updated_at',
                              ['tenant_id', 'owner_id', 'updated_at'], unique=False)


def downgrade():
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_accounts_tenant_id_owner_id_updated_at')
        batch_op.create_index('ix_accounts_tenant_id_owner_id', ['tenant_id', 'owner_id'],
                              unique=False)
