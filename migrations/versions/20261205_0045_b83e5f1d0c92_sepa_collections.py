"""SEPA collections: the debits of open invoices under active mandates for one collection
date (one pain.008 file), each returned or collected

Revision ID: b83e5f1d0c92
Revises: 4d7b2a9e6c15
Create Date: 2026-12-05 00:45:00

"""
import sqlalchemy as sa
from alembic import op

from app.row_security import isolate_tenant_table

revision = 'b83e5f1d0c92'
down_revision = '4d7b2a9e6c15'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sepa_collections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('collection_date', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('message_id', sa.String(length=35), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('control_sum', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('file_sha256', sa.String(length=64), nullable=True),
        sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('built_by', sa.String(length=254), nullable=False),
        sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_sepa_collections_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sepa_collections')),
    )
    op.create_index('ix_sepa_collections_tenant_id_collection_date', 'sepa_collections',
                    ['tenant_id', 'collection_date'])
    op.create_table(
        'sepa_debits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('collection_id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('mandate_id', sa.Integer(), nullable=False),
        sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('sequence_type', sa.String(length=4), nullable=False),
        sa.Column('end_to_end_id', sa.String(length=35), nullable=False),
        sa.Column('amendment', sa.String(length=10), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('return_reason', sa.String(length=4), nullable=True),
        sa.Column('returned_on', sa.Date(), nullable=True),
        sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['collection_id'], ['sepa_collections.id'],
                                name=op.f('fk_sepa_debits_collection_id_sepa_collections'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'],
                                name=op.f('fk_sepa_debits_invoice_id_invoices'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                                name=op.f('fk_sepa_debits_account_id_accounts'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['mandate_id'], ['sepa_mandates.id'],
                                name=op.f('fk_sepa_debits_mandate_id_sepa_mandates'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_sepa_debits_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sepa_debits')),
        sa.UniqueConstraint('tenant_id', 'end_to_end_id',
                            name=op.f('uq_sepa_debits_tenant_id_end_to_end_id')),
    )
    op.create_index('ix_sepa_debits_tenant_id_collection_id', 'sepa_debits',
                    ['tenant_id', 'collection_id'])
    op.create_index('ix_sepa_debits_tenant_id_invoice_id_status', 'sepa_debits',
                    ['tenant_id', 'invoice_id', 'status'])
    op.create_index('ix_sepa_debits_tenant_id_account_id', 'sepa_debits',
                    ['tenant_id', 'account_id'])
    isolate_tenant_table('sepa_collections')
    isolate_tenant_table('sepa_debits')


def downgrade():
    op.drop_table('sepa_debits')
    op.drop_index('ix_sepa_collections_tenant_id_collection_date',
                  table_name='sepa_collections')
    op.drop_table('sepa_collections')
