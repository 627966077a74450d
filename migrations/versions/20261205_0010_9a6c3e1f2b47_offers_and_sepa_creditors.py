"""Selling online: the offers a tenant publishes and its SEPA creditor settings

Revision ID: 9a6c3e1f2b47
Revises: 9c4e7a2d5f13
Create Date: 2026-12-05 00:10:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.row_security import isolate_tenant_table

revision = '9a6c3e1f2b47'
down_revision = '9c4e7a2d5f13'
branch_labels = None
depends_on = None


def _timestamps():
    return (sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False))


def upgrade():
    op.create_table(
        'offers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=60), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('recurrence', sa.String(length=10), nullable=False),
        sa.Column('contract_template', sa.Text(), nullable=False),
        sa.Column('collected_fields', sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.Column('fulfilment_sku', sa.String(length=60), nullable=True),
        sa.Column('fulfilment_quantity', sa.Integer(), nullable=False),
        sa.Column('is_published', sa.Boolean(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_offers_tenant_id_tenants'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_offers')),
        sa.UniqueConstraint('tenant_id', 'code', name=op.f('uq_offers_tenant_id_code')),
    )
    op.create_index('ix_offers_tenant_id_is_published', 'offers', ['tenant_id', 'is_published'])
    op.create_table(
        'sepa_creditors',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=70), nullable=False),
        sa.Column('street', sa.String(length=70), nullable=False),
        sa.Column('building_number', sa.String(length=16), nullable=False),
        sa.Column('postal_code', sa.String(length=16), nullable=False),
        sa.Column('town', sa.String(length=35), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('creditor_identifier', sa.String(length=35), nullable=False),
        sa.Column('iban', sa.String(length=34), nullable=False),
        sa.Column('bic', sa.String(length=11), nullable=False),
        sa.Column('prenotification_days', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_sepa_creditors_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sepa_creditors')),
        sa.UniqueConstraint('tenant_id', name=op.f('uq_sepa_creditors_tenant_id')),
    )
    isolate_tenant_table('offers')
    isolate_tenant_table('sepa_creditors')


def downgrade():
    op.drop_table('sepa_creditors')
    op.drop_index('ix_offers_tenant_id_is_published', table_name='offers')
    op.drop_table('offers')
