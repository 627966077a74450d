"""Account indexes of quotes, orders and invoices end with id: (tenant_id, account_id, date, id).

A customer's documents are then listed page by page (keyset on date, id) and counted on the
customer 360° page from the index alone, without reading the rows.

Revision ID: ee24563bc875
Revises: b91d0dcb89b7
Create Date: 2026-11-24 23:32:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'ee24563bc875'
down_revision = 'b91d0dcb89b7'
branch_labels = None
depends_on = None

_TABLES = (("quotes", "issued_on"), ("orders", "ordered_on"), ("invoices", "issued_on"))


def _replace_account_index(columns_of) -> None:
    for table, date_column in _TABLES:
        name = f"ix_{table}_tenant_id_account_id"
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
            batch_op.create_index(name, columns_of(date_column), unique=False)


def upgrade():
    _replace_account_index(lambda date_column: ["tenant_id", "account_id", date_column, "id"])


def downgrade():
    _replace_account_index(lambda date_column: ["tenant_id", "account_id", date_column])
