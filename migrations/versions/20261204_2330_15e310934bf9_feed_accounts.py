"""Feed accounts (the SFTP inbox's logins, their keys, quotas and routes to profiles) and
the files that arrived through them

Revision ID: 15e310934bf9
Revises: b5f17e0c9a3d
Create Date: 2026-12-04 23:30:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.row_security import isolate_tenant_table, share_tenant_table

revision = '15e310934bf9'
down_revision = 'b5f17e0c9a3d'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    op.create_table(
        'feed_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=True),
        sa.Column('public_keys', JSON, nullable=False),
        sa.Column('routes', JSON, nullable=False),
        sa.Column('quota_bytes', sa.BigInteger(), nullable=True),
        sa.Column('max_file_bytes', sa.BigInteger(), nullable=True),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('created_by', sa.String(length=254), nullable=False),
        sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_feed_accounts_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_accounts')),
        sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_feed_accounts_tenant_id_name')),
    )
    isolate_tenant_table('feed_accounts')
    op.create_table(
        'feed_arrivals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('path', sa.String(length=1024), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['feed_accounts.id'],
                                name=op.f('fk_feed_arrivals_account_id_feed_accounts'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['run_id'], ['import_runs.id'],
                                name=op.f('fk_feed_arrivals_run_id_import_runs'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_feed_arrivals_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_arrivals')),
    )
    with op.batch_alter_table('feed_arrivals', schema=None) as batch_op:
        batch_op.create_index('ix_feed_arrivals_status_created_at', ['status', 'created_at'],
                              unique=False)
        batch_op.create_index('ix_feed_arrivals_tenant_id_created_at',
                              ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index('ix_feed_arrivals_tenant_id_run_id', ['tenant_id', 'run_id'],
                              unique=False)
    isolate_tenant_table('feed_arrivals')


def downgrade():
    share_tenant_table('feed_arrivals')
    with op.batch_alter_table('feed_arrivals', schema=None) as batch_op:
        batch_op.drop_index('ix_feed_arrivals_tenant_id_run_id')
        batch_op.drop_index('ix_feed_arrivals_tenant_id_created_at')
        batch_op.drop_index('ix_feed_arrivals_status_created_at')
    op.drop_table('feed_arrivals')
    share_tenant_table('feed_accounts')
    op.drop_table('feed_accounts')
