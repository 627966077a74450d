"""Index invoices on (tenant_id, account_id, status): a customer's open invoices.

The customer 360° page sums the open and overdue amounts of an account; with this index it reads
the account's issued and overdue invoices only, not its whole paid history.

Revision ID: 6efd7c101fbf
Revises: ee24563bc875
Create Date: 2026-11-24 23:42:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '6efd7c101fbf'
down_revision = 'ee24563bc875'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index('ix_invoices_tenant_id_account_id_status',
                              ['tenant_id', 'account_id', 'status'], unique=False)


def downgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_tenant_id_account_id_status')
