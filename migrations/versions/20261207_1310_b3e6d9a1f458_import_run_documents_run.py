"""Import runs name the run whose archive holds their rows' documents

Revision ID: b3e6d9a1f458
Revises: d5e8a2c4f716
Create Date: 2026-12-07 13:10:00

An archive's errors file, fixed and sent back from its run's page, is the metadata file alone:
its rows' documents are read from the archive of the run it came from.
"""
import sqlalchemy as sa
from alembic import op

revision = 'b3e6d9a1f458'
down_revision = 'd5e8a2c4f716'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_runs') as batch:
        batch.add_column(sa.Column('documents_run_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f('fk_import_runs_documents_run_id_import_runs'),
                                 'import_runs', ['documents_run_id'], ['id'],
                                 ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('import_runs') as batch:
        batch.drop_constraint(batch.f('fk_import_runs_documents_run_id_import_runs'),
                              type_='foreignkey')
        batch.drop_column('documents_run_id')
