"""Index only the deletions among audit events: ix_audit_events_tenant_id_deletions on
(tenant_id, entity, created_at, id) WHERE action = 'delete'

Revision ID: e9c4a1d7b352
Revises: d4b7e2a9c613
Create Date: 2026-12-06 12:30:00

The index serves the API's sync of deletions alone, yet held an entry for every event: each
write paid for it. COPY of 10,000 events into a table of 1,000,000 on PostgreSQL: 108 ms with
the whole index, 89 ms with the partial one (bench/README.md).
"""
import sqlalchemy as sa
from alembic import op

revision = 'e9c4a1d7b352'
down_revision = 'd4b7e2a9c613'
branch_labels = None
depends_on = None

DELETION = sa.text("action = 'delete'")


def upgrade():
    op.drop_index('ix_audit_events_tenant_id_deletions', table_name='audit_events')
    op.create_index('ix_audit_events_tenant_id_deletions', 'audit_events',
                    ['tenant_id', 'entity', 'created_at', 'id'],
                    postgresql_where=DELETION, sqlite_where=DELETION)


def downgrade():
    op.drop_index('ix_audit_events_tenant_id_deletions', table_name='audit_events')
    op.create_index('ix_audit_events_tenant_id_deletions', 'audit_events',
                    ['tenant_id', 'entity', 'action', 'created_at', 'id'])
