"""Partners' invoice figures: on PostgreSQL a transaction's changes are kept apart until its
commit, then added in the key's order, so that two writers never deadlock on them

Revision ID: a3c8e5f2d917
Revises: f1b6d3a8e527
Create Date: 2026-12-06 02:40:00

The triggers of c7f3a9e2d415 added each write statement's changes to the figures at once: a
transaction then held the rows of the figures it had changed until its commit, and two
transactions writing invoices of the same partners in several statements (two imports'
batches, an import and a bulk API call) could each wait for the other's rows: a deadlock,
one of them failed (tests/portal/test_invoice_figures_concurrency.py). Each statement now
writes its changes to rows of its own transaction (`pending_xid`, its id: no other
transaction conflicts with them), and a deferred trigger adds them to the figures at commit,
in one statement in the key's order: every committer locks the rows it shares with another
in the same order, and only for its commit. Readers sum the rows of a partner, as they did:
the pending rows of other transactions are not visible to them, their own are (so figures
read in a transaction that wrote invoices still match those invoices). SQLite, one writer
at a time, keeps adding at once (pending_xid stays 0).
"""
import sqlalchemy as sa
from alembic import op

revision = 'a3c8e5f2d917'
down_revision = 'f1b6d3a8e527'
branch_labels = None
depends_on = None

OLD_KEY = "tenant_id, partner_id, issued_month, due_on, is_open, is_unpaid"
KEY = f"{OLD_KEY}, pending_xid"
SUMS = "invoices, total_cents, open_cents"
OPEN = "('issued', 'overdue')"  # app.models.OPEN_INVOICE_STATUSES
UPSERT = f"ON CONFLICT ({KEY}) DO UPDATE SET " + ", ".join(
    f"{name} = partner_invoice_figures.{name} + excluded.{name}" for name in SUMS.split(", "))
NONZERO = "HAVING sum(invoices) <> 0 OR sum(total_cents) <> 0 OR sum(open_cents) <> 0"
# Set once this transaction's pending rows are added, cleared by each statement that adds
# more: the deferred trigger fires once per pending row, and only the first one works.
FOLDED = "relais.partner_figures_folded"


def _counted(r: str) -> str:
    return (f"{r}.partner_id IS NOT NULL AND {r}.archived_at IS NULL "
            f"AND {r}.status NOT IN ('draft', 'cancelled')")


def _cents(amount: str) -> str:
    return f"CAST(COALESCE(round(({amount}) * 100), 0) AS BIGINT)"


def _contribution(r: str, sign: str, pg: bool = True) -> str:
    """The figures' columns for invoice row `r`, times `sign` (as in c7f3a9e2d415)."""
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


def _pending(sources: list[tuple[str, str]]) -> str:
    """One statement adding the rows of each (transition table, sign) to this transaction's
    own pending rows: no other transaction has rows of that key, none waits for another."""
    parts = " UNION ALL ".join(
        f"SELECT {_contribution('r', sign)} FROM {table} r WHERE {_counted('r')}"
        for table, sign in sources)
    return (f"INSERT INTO partner_invoice_figures ({KEY}, {SUMS}) "
            f"SELECT {OLD_KEY}, txid_current(), sum(invoices), sum(total_cents), "
            f"sum(open_cents) FROM ({parts}) c GROUP BY {OLD_KEY} {NONZERO} {UPSERT}")


APPLY = f"""
CREATE OR REPLACE FUNCTION partner_invoice_figures_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('{FOLDED}', '', true);
    IF TG_OP = 'INSERT' THEN
        {_pending([('new_rows', '1')])};
    ELSIF TG_OP = 'UPDATE' THEN
        {_pending([('new_rows', '1'), ('old_rows', '-1')])};
    ELSE
        {_pending([('old_rows', '-1')])};
    END IF;
    RETURN NULL;
END
$$"""

# Under the platform bypass of the row-level policies (this function only): it moves no row
# but this transaction's own, whichever tenant its last statement was bound to.
FOLD = f"""
CREATE FUNCTION partner_invoice_figures_fold() RETURNS trigger
LANGUAGE plpgsql SET app.bypass_rls = 'on' AS $$
BEGIN
    IF current_setting('{FOLDED}', true) = 'yes' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('{FOLDED}', 'yes', true);
    WITH moved AS (
        DELETE FROM partner_invoice_figures WHERE pending_xid = txid_current()
        RETURNING {OLD_KEY}, {SUMS})
    INSERT INTO partner_invoice_figures ({KEY}, {SUMS})
    SELECT {OLD_KEY}, 0, sum(invoices), sum(total_cents), sum(open_cents) FROM moved
    GROUP BY {OLD_KEY} {NONZERO} ORDER BY {OLD_KEY} {UPSERT};
    RETURN NULL;
END
$$"""

FOLD_TRIGGER = (
    "CREATE CONSTRAINT TRIGGER partner_invoice_figures_fold AFTER INSERT "
    "ON partner_invoice_figures DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
    "WHEN (NEW.pending_xid <> 0) EXECUTE FUNCTION partner_invoice_figures_fold()")


def upgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    if not pg:  # they name the key; the table is copied below
        _drop_sqlite_triggers()
    with op.batch_alter_table('partner_invoice_figures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_xid', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.drop_constraint('uq_partner_invoice_figures_key', type_='unique')
        batch_op.create_unique_constraint(
            'uq_partner_invoice_figures_key',
            ['tenant_id', 'partner_id', 'issued_month', 'due_on', 'is_open', 'is_unpaid',
             'pending_xid'])
    op.create_index('ix_partner_invoice_figures_pending', 'partner_invoice_figures',
                    ['pending_xid'], postgresql_where=sa.text('pending_xid <> 0'),
                    sqlite_where=sa.text('pending_xid <> 0'))
    if pg:
        op.execute(APPLY)
        op.execute(FOLD)
        op.execute(FOLD_TRIGGER)
    else:
        _create_sqlite_triggers(KEY)


def downgrade():
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.execute("DROP TRIGGER partner_invoice_figures_fold ON partner_invoice_figures")
        op.execute("DROP FUNCTION partner_invoice_figures_fold()")
        op.execute(APPLY.replace(_pending([('new_rows', '1')]), _at_once('new_rows', '1'))
                   .replace(_pending([('new_rows', '1'), ('old_rows', '-1')]),
                            _at_once('new_rows', '1', 'old_rows', '-1'))
                   .replace(_pending([('old_rows', '-1')]), _at_once('old_rows', '-1'))
                   .replace(f"PERFORM set_config('{FOLDED}', '', true);", ""))
    else:
        _drop_sqlite_triggers()
    op.drop_index('ix_partner_invoice_figures_pending', table_name='partner_invoice_figures')
    with op.batch_alter_table('partner_invoice_figures', schema=None) as batch_op:
        batch_op.drop_constraint('uq_partner_invoice_figures_key', type_='unique')
        batch_op.create_unique_constraint(
            'uq_partner_invoice_figures_key',
            ['tenant_id', 'partner_id', 'issued_month', 'due_on', 'is_open', 'is_unpaid'])
        batch_op.drop_column('pending_xid')
    if not pg:
        _create_sqlite_triggers(OLD_KEY)


def _at_once(*pairs: str) -> str:
    """c7f3a9e2d415's statement: the changes added to the figures at once."""
    sources = list(zip(pairs[::2], pairs[1::2], strict=True))
    parts = " UNION ALL ".join(
        f"SELECT {_contribution('r', sign)} FROM {table} r WHERE {_counted('r')}"
        for table, sign in sources)
    upsert = UPSERT.replace(KEY, OLD_KEY)
    return (f"INSERT INTO partner_invoice_figures ({OLD_KEY}, {SUMS}) "
            f"SELECT {OLD_KEY}, sum(invoices), sum(total_cents), sum(open_cents) FROM ({parts}) c "
            f"GROUP BY {OLD_KEY} {NONZERO} ORDER BY {OLD_KEY} {upsert}")


# SQLite: c7f3a9e2d415's per-row triggers, whose upsert names the unique key.
WATCHED = ("partner_id", "archived_at", "status", "issued_on", "due_on", "total", "amount_paid")


def _drop_sqlite_triggers() -> None:
    for name in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS partner_invoice_figures_{name}")


def _create_sqlite_triggers(key: str) -> None:
    upsert = UPSERT.replace(KEY, key)

    def apply(r: str, sign: str) -> str:
        return (f"INSERT INTO partner_invoice_figures ({OLD_KEY}, {SUMS}) "
                f"SELECT {OLD_KEY}, {SUMS} FROM (SELECT {_contribution(r, sign, False)}) "
                f"WHERE {_counted(r)} {upsert};")

    op.execute("CREATE TRIGGER partner_invoice_figures_insert AFTER INSERT ON invoices "
               f"BEGIN {apply('NEW', '1')} END")
    op.execute(f"CREATE TRIGGER partner_invoice_figures_update AFTER UPDATE OF "
               f"{', '.join(WATCHED)} ON invoices WHEN "
               + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)
               + f" BEGIN {apply('OLD', '-1')} {apply('NEW', '1')} END")
    op.execute("CREATE TRIGGER partner_invoice_figures_delete AFTER DELETE ON invoices "
               f"BEGIN {apply('OLD', '-1')} END")
