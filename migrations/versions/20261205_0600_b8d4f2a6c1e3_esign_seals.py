"""A tenant's own electronic seal: its PKCS#12 file and passphrase encrypted, and the
certificate's public facts

Revision ID: b8d4f2a6c1e3
Revises: 7e2b9c4d1a60
Create Date: 2026-12-05 06:00:00

"""
import sqlalchemy as sa
from alembic import op

from app.row_security import isolate_tenant_table

revision = 'b8d4f2a6c1e3'
down_revision = '7e2b9c4d1a60'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'esign_seals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pkcs12_sealed', sa.Text(), nullable=False),
        sa.Column('passphrase_sealed', sa.Text(), nullable=False),
        sa.Column('certificate_pem', sa.Text(), nullable=False),
        sa.Column('subject', sa.String(length=500), nullable=False),
        sa.Column('issuer', sa.String(length=500), nullable=False),
        sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
        sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_esign_seals_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_esign_seals')),
        sa.UniqueConstraint('tenant_id', name=op.f('uq_esign_seals_tenant_id')),
    )
    isolate_tenant_table('esign_seals')


def downgrade():
    op.drop_table('esign_seals')
