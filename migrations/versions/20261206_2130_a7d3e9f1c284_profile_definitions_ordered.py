"""Import profiles keep their JSON as written: columns in the file's order (json, not jsonb)

Revision ID: a7d3e9f1c284
Revises: f2c7a9d4e81b
Create Date: 2026-12-06 21:30:00

On PostgreSQL a profile's definition was jsonb, which keeps an object's keys sorted by length,
then bytes: the mapping screen, the JSON editor and the API listed a profile's columns in that
order instead of the file's. The json type keeps the text as written. The columns of profiles
saved before keep the order jsonb gave them (the file's is not known any more); the options
are put back in the order a profile is written in (importers/profile.py `normalized`).
"""
import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'a7d3e9f1c284'
down_revision = 'f2c7a9d4e81b'
branch_labels = None
depends_on = None

TABLES = ('import_profiles', 'import_profile_versions')
ORDER = ('name', 'entity', 'mode', 'columns', 'key', 'encoding', 'delimiter', 'date_format',
         'decimal', 'full_sync', 'sheet', 'value_maps', 'documents')


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return  # JSON text already
    for table in TABLES:
        op.alter_column(table, 'definition', type_=sa.JSON(),
                        postgresql_using='definition::text::json')
        _in_order(table)


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TABLES:
        op.alter_column(table, 'definition', type_=postgresql.JSONB(astext_type=sa.Text()),
                        postgresql_using='definition::jsonb')


def _in_order(table):
    bind = op.get_bind()
    # Every tenant's profiles: the platform bypass of row-level security, for this
    # transaction only (app/row_security.py).
    op.execute("SELECT set_config('app.bypass_rls', 'on', true)")
    rows = bind.execute(sa.text(f'SELECT id, definition::text FROM {table}')).all()
    for row_id, text in rows:
        definition = json.loads(text)
        if not isinstance(definition, dict):
            continue
        ordered = {key: definition[key] for key in ORDER if key in definition}
        ordered.update((key, value) for key, value in definition.items() if key not in ordered)
        bind.execute(sa.text(f'UPDATE {table} SET definition = CAST(:definition AS json) '
                             'WHERE id = :id'),
                     {'definition': json.dumps(ordered, ensure_ascii=False), 'id': row_id})
