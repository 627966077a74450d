"""Scheduler leases: the one process that fires the periodic jobs

Revision ID: 5c8d2e7f1a93
Revises: 7d3a91c2e5f4
Create Date: 2026-12-03 14:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '5c8d2e7f1a93'
down_revision = '7d3a91c2e5f4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'scheduler_leases',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('holder', sa.String(length=120), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_leases')),
    )


def downgrade():
    op.drop_table('scheduler_leases')
