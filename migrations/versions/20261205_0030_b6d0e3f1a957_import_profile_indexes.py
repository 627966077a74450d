"""Index accounts, quotes, orders and invoices on (tenant_id, import_profile_id, partner_id):
the extranet home asks whether a feed wrote a record the agent sees, one lookup per feed

Revision ID: b6d0e3f1a957
Revises: f4a9c2e7b813
Create Date: 2026-12-05 00:30:00

"""
from alembic import op

revision = 'b6d0e3f1a957'
down_revision = 'f4a9c2e7b813'
branch_labels = None
depends_on = None

TABLES = ("accounts", "quotes", "orders", "invoices")


def upgrade():
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id_import_profile_id", table,
                        ["tenant_id", "import_profile_id", "partner_id"])


def downgrade():
    for table in TABLES:
        op.drop_index(f"ix_{table}_tenant_id_import_profile_id", table_name=table)
