"""A collection is built by a job: its failure message, the process that took its build,
when, and how many times

Revision ID: c5a9e1d7f302
Revises: b8d4f2a6c1e3
Create Date: 2026-12-05 23:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'c5a9e1d7f302'
down_revision = 'b8d4f2a6c1e3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sepa_collections') as batch:
        batch.add_column(sa.Column('message', sa.Text(), nullable=True))
        batch.add_column(sa.Column('job_worker', sa.String(length=120), nullable=True))
        batch.add_column(sa.Column('job_started_at', sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column('job_attempts', sa.Integer(), nullable=False,
                                   server_default='0'))


def downgrade():
    with op.batch_alter_table('sepa_collections') as batch:
        batch.drop_column('job_attempts')
        batch.drop_column('job_started_at')
        batch.drop_column('job_worker')
        batch.drop_column('message')
