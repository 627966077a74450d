"""Activities: notes, calls, tasks and meetings on a customer or one of its records; the
tenant's choice to show them to agents in the extranet

Revision ID: 5c299973a6f0
Revises: 3f1c0a7d9e52
Create Date: 2026-12-04 20:30:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.row_security import isolate_tenant_table, share_tenant_table

revision = '5c299973a6f0'
down_revision = '3f1c0a7d9e52'
branch_labels = None
depends_on = None

RECORDS = ('contact', 'deal', 'quote', 'order', 'contract', 'invoice')


def _fk(column, table, ondelete):
    return sa.ForeignKeyConstraint([column], [f'{table}.id'],
                                   name=op.f(f'fk_activities_{column}_{table}'),
                                   ondelete=ondelete)


def upgrade():
    op.create_table(
        'activities',
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=True),
        sa.Column('search_text', sa.Text(), nullable=True),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('is_staff_only', sa.Boolean(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('account_id', sa.Integer(), nullable=False),
        *(sa.Column(f'{name}_id', sa.Integer(), nullable=True) for name in RECORDS),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('external_ref', sa.String(length=100), nullable=True),
        sa.Column('custom', sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('import_profile_id', sa.Integer(), nullable=True),
        sa.Column('import_run_id', sa.Integer(), nullable=True),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        _fk('account_id', 'accounts', 'CASCADE'),
        *(_fk(f'{name}_id', f'{name}s', 'SET NULL') for name in RECORDS),
        _fk('created_by_id', 'users', 'SET NULL'),
        _fk('owner_id', 'users', 'SET NULL'),
        _fk('import_profile_id', 'import_profiles', 'SET NULL'),
        _fk('import_run_id', 'import_runs', 'SET NULL'),
        _fk('tenant_id', 'tenants', 'CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_activities')),
        sa.UniqueConstraint('tenant_id', 'external_ref',
                            name=op.f('uq_activities_tenant_id_external_ref')),
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_tenant_id_account_id_created_at',
                              ['tenant_id', 'account_id', 'created_at'], unique=False)
        batch_op.create_index('ix_activities_tenant_id_owner_id_done_at_due_at',
                              ['tenant_id', 'owner_id', 'done_at', 'due_at'], unique=False)
        batch_op.create_index('ix_activities_tenant_id_due_at_id',
                              ['tenant_id', 'due_at', 'id'], unique=False)
        batch_op.create_index('ix_activities_tenant_id_updated_at_id',
                              ['tenant_id', 'updated_at', 'id'], unique=False)
        for name in RECORDS:
            batch_op.create_index(f'ix_activities_tenant_id_{name}_id',
                                  ['tenant_id', f'{name}_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':  # pg_trgm: migration 3f1c0a7d9e52
        op.create_index('ix_activities_search_text', 'activities', ['tenant_id', 'search_text'],
                        postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    else:
        op.create_index('ix_activities_search_text', 'activities', ['tenant_id', 'search_text'])
    isolate_tenant_table('activities')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_portal_activities_enabled', sa.Boolean(),
                                      server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('is_portal_activities_enabled')
    share_tenant_table('activities')
    op.drop_table('activities')
