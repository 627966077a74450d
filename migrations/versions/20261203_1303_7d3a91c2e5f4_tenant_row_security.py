"""Row-level security on every tenant table (PostgreSQL): a row is seen and written only
under its tenant's context or the platform bypass (app/row_security.py)

Revision ID: 7d3a91c2e5f4
Revises: 7c1e5a9d2b40
Create Date: 2026-12-03 13:00:00

"""
from app.row_security import isolate_tenant_table, share_tenant_table, tenant_tables

# revision identifiers, used by Alembic.
revision = '7d3a91c2e5f4'
down_revision = '7c1e5a9d2b40'
branch_labels = None
depends_on = None


def upgrade():
    # Every table with a tenant_id at this revision (SQLite: nothing to do, nothing listed).
    for table in tenant_tables():
        isolate_tenant_table(table)


def downgrade():
    for table in tenant_tables():
        share_tenant_table(table)
