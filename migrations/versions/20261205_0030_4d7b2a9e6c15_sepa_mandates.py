"""SEPA Direct Debit mandates: a customer's authorisation to debit his account, under a
unique mandate reference per creditor identifier

Revision ID: 4d7b2a9e6c15
Revises: 9a6c3e1f2b47
Create Date: 2026-12-05 00:30:00

"""
import sqlalchemy as sa
from alembic import op

from app.row_security import isolate_tenant_table

revision = '4d7b2a9e6c15'
down_revision = '9a6c3e1f2b47'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sepa_mandates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=35), nullable=False),
        sa.Column('creditor_identifier', sa.String(length=35), nullable=False),
        sa.Column('debtor_name', sa.String(length=140), nullable=False),
        sa.Column('street', sa.String(length=70), nullable=False),
        sa.Column('building_number', sa.String(length=16), nullable=False),
        sa.Column('postal_code', sa.String(length=16), nullable=False),
        sa.Column('town', sa.String(length=35), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('iban', sa.String(length=34), nullable=False),
        sa.Column('bic', sa.String(length=11), nullable=False),
        sa.Column('is_recurrent', sa.Boolean(), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('signed_on', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('last_used_on', sa.Date(), nullable=True),
        sa.Column('original_iban', sa.String(length=34), nullable=True),
        sa.Column('original_bic', sa.String(length=11), nullable=True),
        sa.Column('original_creditor_identifier', sa.String(length=35), nullable=True),
        sa.Column('ended_on', sa.Date(), nullable=True),
        sa.Column('end_reason', sa.String(length=500), nullable=True),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                                name=op.f('fk_sepa_mandates_account_id_accounts'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_sepa_mandates_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sepa_mandates')),
        sa.UniqueConstraint('tenant_id', 'creditor_identifier', 'reference',
                            name=op.f('uq_sepa_mandates_tenant_id_creditor_identifier_reference')),
    )
    op.create_index('ix_sepa_mandates_tenant_id_account_id', 'sepa_mandates',
                    ['tenant_id', 'account_id'])
    op.create_index('ix_sepa_mandates_tenant_id_status_last_used_on', 'sepa_mandates',
                    ['tenant_id', 'status', 'last_used_on'])
    isolate_tenant_table('sepa_mandates')


def downgrade():
    op.drop_index('ix_sepa_mandates_tenant_id_status_last_used_on', table_name='sepa_mandates')
    op.drop_index('ix_sepa_mandates_tenant_id_account_id', table_name='sepa_mandates')
    op.drop_table('sepa_mandates')
