"""Platform events: tenant deletions and other platform-level actions, kept after the tenant

Revision ID: 7c1e5a9d2b40
Revises: 7c3e9a1f5b2d
Create Date: 2026-12-03 13:00:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '7c1e5a9d2b40'
down_revision = '7c3e9a1f5b2d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'platform_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('action', sa.String(length=30), nullable=False),
        sa.Column('tenant_ref', sa.Integer(), nullable=True),
        sa.Column('tenant_slug', sa.String(length=50), nullable=False),
        sa.Column('actor_label', sa.String(length=254), nullable=False),
        sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_events')),
    )
    op.create_index('ix_platform_events_tenant_slug', 'platform_events', ['tenant_slug', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_platform_events_tenant_slug', table_name='platform_events')
    op.drop_table('platform_events')
