"""Index invoices on (tenant_id, status, due_on, total, amount_paid, archived_at): overdue ones.

Overdue is derived when read (open, due before today, not fully paid): the dashboard's count and
amount, and the counts of the lists filtered on "Overdue" or "Issued" (open and not late), read
the tenant's open invoices from this index alone instead of their rows, as an agent's home page
does from ix_invoices_tenant_id_partner_id_status.

Revision ID: 3f0a7c2d9e14
Revises: 2d4bafbc1f50
Create Date: 2026-12-04 21:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '3f0a7c2d9e14'
down_revision = '2d4bafbc1f50'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index('ix_invoices_tenant_id_status_due_on',
                              ['tenant_id', 'status', 'due_on', 'total', 'amount_paid',
                               'archived_at'], unique=False)


def downgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_tenant_id_status_due_on')
