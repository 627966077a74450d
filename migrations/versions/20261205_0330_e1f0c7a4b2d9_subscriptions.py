"""Online subscriptions: each customer's way through the subscription pages (the furthest
step and the time of each), what he typed, his resume link's hash, his signature, the records
his signature created and the sealed contract's SHA-256

Revision ID: e1f0c7a4b2d9
Revises: 15e310934bf9
Create Date: 2026-12-05 03:30:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.row_security import isolate_tenant_table, share_tenant_table

revision = 'e1f0c7a4b2d9'
down_revision = '15e310934bf9'
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def _ref(name: str, table: str) -> list:
    return [sa.Column(f'{name}_id', sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint([f'{name}_id'], [f'{table}.id'],
                                    name=op.f(f'fk_subscriptions_{name}_id_{table}'),
                                    ondelete='SET NULL')]


def upgrade():
    op.create_table(
        'subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('offer_code', sa.String(length=60), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('step', sa.String(length=10), nullable=False),
        sa.Column('details_at', _WHEN, nullable=True),
        sa.Column('review_at', _WHEN, nullable=True),
        sa.Column('signature_at', _WHEN, nullable=True),
        sa.Column('done_at', _WHEN, nullable=True),
        sa.Column('abandoned_at', _WHEN, nullable=True),
        sa.Column('first_name', sa.String(length=100), nullable=False),
        sa.Column('last_name', sa.String(length=100), nullable=False),
        sa.Column('street', sa.String(length=70), nullable=False),
        sa.Column('building_number', sa.String(length=16), nullable=False),
        sa.Column('postal_code', sa.String(length=16), nullable=False),
        sa.Column('town', sa.String(length=35), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('phone', sa.String(length=40), nullable=False),
        sa.Column('custom', sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.Column('iban', sa.String(length=34), nullable=False),
        sa.Column('bic', sa.String(length=11), nullable=False),
        sa.Column('language', sa.String(length=5), nullable=False),
        sa.Column('mandate_reference', sa.String(length=35), nullable=True),
        sa.Column('resume_token_hash', sa.String(length=64), nullable=False),
        sa.Column('resume_expires_at', _WHEN, nullable=False),
        sa.Column('ip', sa.String(length=45), nullable=False),
        sa.Column('user_agent', sa.String(length=500), nullable=False),
        sa.Column('reviewed_sha256', sa.String(length=64), nullable=True),
        sa.Column('sealed_sha256', sa.String(length=64), nullable=True),
        sa.Column('signed_at', _WHEN, nullable=True),
        sa.Column('created_at', _WHEN, nullable=False),
        sa.Column('updated_at', _WHEN, nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        *_ref('offer', 'offers'), *_ref('signature', 'signatures'),
        *_ref('account', 'accounts'), *_ref('contact', 'contacts'),
        *_ref('contract', 'contracts'), *_ref('mandate', 'sepa_mandates'),
        *_ref('order', 'orders'), *_ref('delivery', 'deliveries'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_subscriptions_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
        sa.UniqueConstraint('tenant_id', 'resume_token_hash',
                            name=op.f('uq_subscriptions_tenant_id_resume_token_hash')),
    )
    op.create_index('ix_subscriptions_tenant_id_status_updated_at', 'subscriptions',
                    ['tenant_id', 'status', 'updated_at'])
    op.create_index('ix_subscriptions_tenant_id_created_at', 'subscriptions',
                    ['tenant_id', 'created_at'])
    isolate_tenant_table('subscriptions')


def downgrade():
    share_tenant_table('subscriptions')
    op.drop_index('ix_subscriptions_tenant_id_created_at', table_name='subscriptions')
    op.drop_index('ix_subscriptions_tenant_id_status_updated_at', table_name='subscriptions')
    op.drop_table('subscriptions')
