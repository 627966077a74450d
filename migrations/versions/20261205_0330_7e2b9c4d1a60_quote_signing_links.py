"""Quotes signed by link: each link's token hash, recipient, expiry, state, and the
signature, mandate and sealed file it led to

Revision ID: 7e2b9c4d1a60
Revises: e1f0c7a4b2d9
Create Date: 2026-12-05 03:30:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.row_security import isolate_tenant_table

revision = '7e2b9c4d1a60'
down_revision = 'e1f0c7a4b2d9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'quote_signing_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('quote_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('recipient_email', sa.String(length=254), nullable=False),
        sa.Column('language', sa.String(length=5), nullable=False),
        sa.Column('asks_mandate', sa.Boolean(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_by_label', sa.String(length=254), nullable=False),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('signature_id', sa.Integer(), nullable=True),
        sa.Column('mandate_data', sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
        sa.Column('mandate_id', sa.Integer(), nullable=True),
        sa.Column('attachment_id', sa.Integer(), nullable=True),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['quote_id'], ['quotes.id'],
                                name=op.f('fk_quote_signing_links_quote_id_quotes'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_quote_signing_links_created_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['signature_id'], ['signatures.id'],
                                name=op.f('fk_quote_signing_links_signature_id_signatures'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['mandate_id'], ['sepa_mandates.id'],
                                name=op.f('fk_quote_signing_links_mandate_id_sepa_mandates'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['attachment_id'], ['attachments.id'],
                                name=op.f('fk_quote_signing_links_attachment_id_attachments'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_quote_signing_links_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_quote_signing_links')),
        sa.UniqueConstraint('tenant_id', 'token_hash',
                            name=op.f('uq_quote_signing_links_tenant_id_token_hash')),
    )
    op.create_index('ix_quote_signing_links_tenant_id_quote_id', 'quote_signing_links',
                    ['tenant_id', 'quote_id'])
    isolate_tenant_table('quote_signing_links')


def downgrade():
    op.drop_index('ix_quote_signing_links_tenant_id_quote_id', table_name='quote_signing_links')
    op.drop_table('quote_signing_links')
