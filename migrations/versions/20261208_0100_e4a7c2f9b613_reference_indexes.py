"""Index the references to records that get deleted by the reference first: deleting a
customer (or an invoice, an order…) has the database find the rows that refer to it (ON
DELETE CASCADE or SET NULL), and an index led by tenant_id cannot answer `account_id = ?`
on PostgreSQL: each record deleted scanned the referring tables whole (5 ms a customer on a
tenant of 200,000 invoices, growing with the table). The tenant-led indexes on those
references become led by the reference, tenant_id second (ids are unique across tenants:
they serve a tenant's queries as before); references without an index get one, partial
(most records leave them empty)

Revision ID: e4a7c2f9b613
Revises: c8e1f4a6d293
Create Date: 2026-12-08 01:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'e4a7c2f9b613'
down_revision = 'c8e1f4a6d293'
branch_labels = None
depends_on = None

# (table, reference, the columns after it): ix_<table>_tenant_id_<reference>… before,
# ix_<table>_<reference>_tenant_id after.
LED = [
    *((table, "account_id", (date_column, "id")) for table, date_column in (
        ("quotes", "issued_on"), ("orders", "ordered_on"), ("invoices", "issued_on"))),
    ("activities", "account_id", ("created_at",)),
    *(("activities", f"{name}_id", ()) for name in (
        "contact", "deal", "quote", "order", "contract", "invoice")),
    *((table, "account_id", ()) for table in (
        "attachments", "contacts", "contracts", "deals", "deliveries", "sepa_mandates",
        "sepa_debits")),
    ("deliveries", "order_id", ()),
    ("sepa_debits", "invoice_id", ("status",)),
    ("quote_signing_links", "quote_id", ()),
    # An agent's records (the extranet), found too when his partner is deleted.
    ("accounts", "partner_id", ("name",)),
    *((table, "partner_id", (date_column, "id")) for table, date_column in (
        ("quotes", "issued_on"), ("orders", "ordered_on"), ("contracts", "starts_on"),
        ("deliveries", "expected_on"))),
    ("invoices", "partner_id", ("issued_on", "id", "status", "total", "archived_at")),
    ("deals", "partner_id", ()),
]
# The old names said only the columns before the date (documents) or the status.
OLD_NAMES = {("activities", "account_id"): "ix_activities_tenant_id_account_id_created_at",
             ("sepa_debits", "invoice_id"): "ix_sepa_debits_tenant_id_invoice_id_status"}
OPTIONAL = [("invoices", "order_id"), ("orders", "quote_id"), ("quotes", "deal_id"),
            ("users", "account_id"), ("users", "partner_id"), ("api_tokens", "partner_id"),
            ("quote_signing_links", "attachment_id"),
            *(("subscriptions", column) for column in (
                "account_id", "contact_id", "contract_id", "order_id", "delivery_id"))]


def _old_name(table, column):
    return OLD_NAMES.get((table, column), f"ix_{table}_tenant_id_{column}")


def upgrade():
    for table, column, rest in LED:
        op.drop_index(_old_name(table, column), table_name=table)
        op.create_index(f"ix_{table}_{column}_tenant_id", table, [column, "tenant_id", *rest])
    for table, column in OPTIONAL:
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(f"ix_{table}_{column}", table, [column], postgresql_where=where,
                        sqlite_where=where)


def downgrade():
    for table, column in OPTIONAL:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    for table, column, rest in LED:
        op.drop_index(f"ix_{table}_{column}_tenant_id", table_name=table)
        op.create_index(_old_name(table, column), table, ["tenant_id", column, *rest])
