"""Partners' invoice figures (the extranet home's sums), kept by triggers on invoices

Revision ID: c7f3a9e2d415
Revises: e4a7c9d1f236
Create Date: 2026-12-05 23:30:00

The home summed every invoice of the agent's partner on each visit (its monthly amounts, its
unpaid and overdue count and amount): 70,000 invoices after a large import. The figures are
now kept per partner, month of issue and, for open ones, due date
(app/models/partner_figures.py) by triggers, which see every write whatever its path, raw SQL and COPY included: on PostgreSQL one
set-based statement per write statement (transition tables), on SQLite one upsert per row
written (SQLite has no statement-level triggers). The rows are filled from the invoices here.
"""
import sqlalchemy as sa
from alembic import op

from app.row_security import isolate_tenant_table, share_tenant_table

revision = 'c7f3a9e2d415'
down_revision = 'e4a7c9d1f236'
branch_labels = None
depends_on = None

KEY = "tenant_id, partner_id, issued_month, due_on, is_open, is_unpaid"
SUMS = "invoices, total_cents, open_cents"
OPEN = "('issued', 'overdue')"  # app.models.OPEN_INVOICE_STATUSES


def _counted(r: str) -> str:
    """Whether invoice row `r` counts: a partner's, live, neither draft nor cancelled."""
    return (f"{r}.partner_id IS NOT NULL AND {r}.archived_at IS NULL "
            f"AND {r}.status NOT IN ('draft', 'cancelled')")


def _cents(amount: str) -> str:
    return f"CAST(COALESCE(round(({amount}) * 100), 0) AS BIGINT)"


def _contribution(r: str, sign: str, pg: bool) -> str:
    """The figures' columns for invoice row `r`, times `sign`."""
    no_issue, no_due = ("DATE '0001-01-01'", "DATE '9999-12-31'") if pg \
        else ("'0001-01-01'", "'9999-12-31'")
    false = "false" if pg else "0"
    month = f"CAST(date_trunc('month', {r}.issued_on) AS DATE)" if pg \
        else f"substr({r}.issued_on, 1, 7) || '-01'"
    is_open = f"{r}.status IN {OPEN}"
    return (
        f"{r}.tenant_id AS tenant_id, {r}.partner_id AS partner_id, "
        f"COALESCE({month}, {no_issue}) AS issued_month, "
        f"CASE WHEN {is_open} THEN COALESCE({r}.due_on, {no_due}) ELSE {no_due} END AS due_on, "
        f"({is_open}) AS is_open, "
        f"({is_open} AND COALESCE({r}.amount_paid < {r}.total, {false})) AS is_unpaid, "
        f"{sign} AS invoices, {sign} * {_cents(f'{r}.total')} AS total_cents, "
        f"CASE WHEN {is_open} THEN {sign} * {_cents(f'{r}.total - {r}.amount_paid')} "
        f"ELSE 0 END AS open_cents")


# The table by its name: SQLite allows no alias in a trigger's INSERT.
UPSERT = f"ON CONFLICT ({KEY}) DO UPDATE SET " + ", ".join(
    f"{name} = partner_invoice_figures.{name} + excluded.{name}" for name in SUMS.split(", "))


def _pg_apply(sources: list[tuple[str, str]]) -> str:
    """One statement adding the rows of each (transition table, sign) to the figures."""
    parts = " UNION ALL ".join(
        f"SELECT {_contribution('r', sign, True)} FROM {table} r WHERE {_counted('r')}"
        for table, sign in sources)
    # Net-zero groups (an update that changed nothing counted) write nothing; keys in order,
    # so that concurrent writers lock the rows they share in the same order.
    return (f"INSERT INTO partner_invoice_figures ({KEY}, {SUMS}) "
            f"SELECT {KEY}, sum(invoices), sum(total_cents), sum(open_cents) FROM ({parts}) c "
            f"GROUP BY {KEY} HAVING sum(invoices) <> 0 OR sum(total_cents) <> 0 "
            f"OR sum(open_cents) <> 0 ORDER BY {KEY} {UPSERT}")


PG_FUNCTION = f"""
CREATE FUNCTION partner_invoice_figures_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_pg_apply([('new_rows', '1')])};
    ELSIF TG_OP = 'UPDATE' THEN
        {_pg_apply([('new_rows', '1'), ('old_rows', '-1')])};
    ELSE
        {_pg_apply([('old_rows', '-1')])};
    END IF;
    RETURN NULL;
END
$$"""

PG_TRIGGERS = [
    "CREATE TRIGGER partner_invoice_figures_insert AFTER INSERT ON invoices "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION partner_invoice_figures_apply()",
    "CREATE TRIGGER partner_invoice_figures_update AFTER UPDATE ON invoices "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION partner_invoice_figures_apply()",
    "CREATE TRIGGER partner_invoice_figures_delete AFTER DELETE ON invoices "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION partner_invoice_figures_apply()",
]


def _sqlite_apply(r: str, sign: str) -> str:
    # "WHERE" before ON CONFLICT: SQLite's parser needs it to tell the upsert from a join.
    return (f"INSERT INTO partner_invoice_figures ({KEY}, {SUMS}) "
            f"SELECT {KEY}, {SUMS} FROM (SELECT {_contribution(r, sign, False)}) "
            f"WHERE {_counted(r)} {UPSERT};")


WATCHED = ("partner_id", "archived_at", "status", "issued_on", "due_on", "total", "amount_paid")
SQLITE_TRIGGERS = [
    "CREATE TRIGGER partner_invoice_figures_insert AFTER INSERT ON invoices "
    f"BEGIN {_sqlite_apply('NEW', '1')} END",
    f"CREATE TRIGGER partner_invoice_figures_update AFTER UPDATE OF {', '.join(WATCHED)} "
    "ON invoices WHEN " + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)
    + f" BEGIN {_sqlite_apply('OLD', '-1')} {_sqlite_apply('NEW', '1')} END",
    "CREATE TRIGGER partner_invoice_figures_delete AFTER DELETE ON invoices "
    f"BEGIN {_sqlite_apply('OLD', '-1')} END",
]


def upgrade():
    op.create_table(
        'partner_invoice_figures',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('partner_id', sa.Integer(), nullable=False),
        sa.Column('issued_month', sa.Date(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('is_open', sa.Boolean(), nullable=False),
        sa.Column('is_unpaid', sa.Boolean(), nullable=False),
        sa.Column('invoices', sa.Integer(), nullable=False),
        sa.Column('total_cents', sa.BigInteger(), nullable=False),
        sa.Column('open_cents', sa.BigInteger(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_partner_invoice_figures_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_invoice_figures')),
        sa.UniqueConstraint('tenant_id', 'partner_id', 'issued_month', 'due_on', 'is_open',
                            'is_unpaid',
                            name='uq_partner_invoice_figures_key'),
    )
    isolate_tenant_table('partner_invoice_figures')
    pg = op.get_bind().dialect.name == "postgresql"
    # Filled before the triggers exist; on PostgreSQL under the platform bypass of the
    # row-level policies (this transaction only), which a migration may open.
    if pg:
        op.execute("SET LOCAL app.bypass_rls = 'on'")
    op.execute(f"INSERT INTO partner_invoice_figures ({KEY}, {SUMS}) "
               f"SELECT {KEY}, sum(invoices), sum(total_cents), sum(open_cents) "
               f"FROM (SELECT {_contribution('r', '1', pg)} FROM invoices r "
               f"WHERE {_counted('r')}) c GROUP BY {KEY}")
    if pg:
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    for name in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS partner_invoice_figures_{name}"
                   + (" ON invoices" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS partner_invoice_figures_apply()")
    share_tenant_table('partner_invoice_figures')
    op.drop_table('partner_invoice_figures')
