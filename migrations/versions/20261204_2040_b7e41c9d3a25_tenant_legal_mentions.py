"""Tenants: legal mentions printed on documents (legal name, address, SIREN, VAT number,
payment terms, late-penalty rate)

Revision ID: b7e41c9d3a25
Revises: 3f0a7c2d9e14
Create Date: 2026-12-04 20:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'b7e41c9d3a25'
down_revision = '3f0a7c2d9e14'
branch_labels = None
depends_on = None

COLUMNS = (
    ('legal_name', sa.String(length=200)),
    ('legal_address', sa.Text()),
    ('siren', sa.String(length=9)),
    ('vat_number', sa.String(length=20)),
    ('payment_terms', sa.Text()),
    ('late_penalty_rate', sa.Numeric(5, 2)),
)


def upgrade():
    with op.batch_alter_table('tenants') as batch_op:
        for name, type_ in COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade():
    with op.batch_alter_table('tenants') as batch_op:
        for name, _type in reversed(COLUMNS):
            batch_op.drop_column(name)
