"""Attachments' search text: their name and extracted text folded, indexed for the search box

Revision ID: 5b9e2f7c41a8
Revises: e3b8c1d4f702
Create Date: 2026-12-05 00:00:00

Filled here in batches by app/search_text.py, as the attachments service writes it, so that
files attached before (and their text) are found too.
"""

import sqlalchemy as sa
from alembic import op

from app.entities import ENTITIES
from app.search_text import search_text, searched_fields

revision = "5b9e2f7c41a8"
down_revision = "e3b8c1d4f702"
branch_labels = None
depends_on = None

BATCH = 1_000


def upgrade():
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    if postgresql:
        op.execute("SELECT set_config('app.bypass_rls', 'on', true)")
    with op.batch_alter_table("attachments") as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=True))
    entity = ENTITIES["attachments"]
    fields = searched_fields(entity)
    last = 0
    while True:
        rows = bind.execute(
            sa.text(
                f"SELECT id, {', '.join(fields)} FROM attachments WHERE id > :last ORDER BY id "
                f"LIMIT {BATCH}"
            ),
            {"last": last},
        ).all()
        if not rows:
            break
        bind.execute(
            sa.text("UPDATE attachments SET search_text = :text WHERE id = :id"),
            [
                {"id": row[0], "text": search_text(entity, dict(zip(fields, row[1:], strict=True)))}
                for row in rows
            ],
        )
        last = rows[-1][0]
    if postgresql:
        op.create_index(
            "ix_attachments_search_text",
            "attachments",
            ["tenant_id", "search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )
    else:
        op.create_index("ix_attachments_search_text", "attachments", ["tenant_id", "search_text"])


def downgrade():
    op.drop_index("ix_attachments_search_text", table_name="attachments")
    with op.batch_alter_table("attachments") as batch_op:
        batch_op.drop_column("search_text")
