"""Signatures by one-time code and their evidence (consent shown, codes sent, tries, IP, user
agent, times, the document's SHA-256 before and after sealing)

Revision ID: c5a1e7d3f904
Revises: b83e5f1d0c92
Create Date: 2026-12-05 01:00:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.row_security import isolate_tenant_table

revision = 'c5a1e7d3f904'
down_revision = 'b83e5f1d0c92'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'signatures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subject_type', sa.String(length=20), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('signer_name', sa.String(length=200), nullable=False),
        sa.Column('signer_email', sa.String(length=254), nullable=False),
        sa.Column('signer_phone', sa.String(length=40), nullable=True),
        sa.Column('consent_text', sa.Text(), nullable=False),
        sa.Column('document_sha256', sa.String(length=64), nullable=False),
        sa.Column('sealed_sha256', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=True),
        sa.Column('code_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('codes_sent', sa.Integer(), nullable=False),
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('events', sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_signatures_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_signatures')),
    )
    op.create_index('ix_signatures_tenant_id_subject', 'signatures',
                    ['tenant_id', 'subject_type', 'subject_id'])
    isolate_tenant_table('signatures')


def downgrade():
    op.drop_index('ix_signatures_tenant_id_subject', table_name='signatures')
    op.drop_table('signatures')
