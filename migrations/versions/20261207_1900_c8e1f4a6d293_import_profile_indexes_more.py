"""Index deals, contracts and deliveries on (tenant_id, import_profile_id, partner_id), as
b6d0e3f1a957 did accounts, quotes, orders and invoices: the extranet home asks of each feed
whether it wrote a record the agent sees, and these three are shown to agents too

Revision ID: c8e1f4a6d293
Revises: b3e6d9a1f458
Create Date: 2026-12-07 19:00:00

"""
from alembic import op

revision = 'c8e1f4a6d293'
down_revision = 'b3e6d9a1f458'
branch_labels = None
depends_on = None

TABLES = ("deals", "contracts", "deliveries")


def upgrade():
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id_import_profile_id", table,
                        ["tenant_id", "import_profile_id", "partner_id"])


def downgrade():
    for table in TABLES:
        op.drop_index(f"ix_{table}_tenant_id_import_profile_id", table_name=table)
