"""The certificates of the seals a tenant replaced or removed, kept to check what they sealed

Revision ID: c7e1a4d92b50
Revises: c5a9e1d7f302
Create Date: 2026-12-05 23:30:00

"""
import sqlalchemy as sa
from alembic import op

from app.row_security import isolate_tenant_table, share_tenant_table

revision = 'c7e1a4d92b50'
down_revision = 'c5a9e1d7f302'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'retired_seal_certificates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('certificate_pem', sa.Text(), nullable=False),
        sa.Column('subject', sa.String(length=500), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('used_from', sa.DateTime(timezone=True), nullable=False),
        sa.Column('retired_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_retired_seal_certificates_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retired_seal_certificates')),
    )
    isolate_tenant_table('retired_seal_certificates')


def downgrade():
    share_tenant_table('retired_seal_certificates')
    op.drop_table('retired_seal_certificates')
