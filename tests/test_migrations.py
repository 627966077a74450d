"""The Alembic migrations build exactly the models' schema on an empty database, and go down
and up again: SQLite in a temporary file and, with TEST_DATABASE_URL, a PostgreSQL database
created (and dropped) by the test."""
from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import Config as _unused  # noqa: F401  (Flask-Migrate must import first)
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db, migrations

FILE_NAME = re.compile(r"^\d{8}_\d{4}_(?P<rev>[0-9a-f]+)_[a-z0-9_]+\.py$")


def _app_on(url: str, tmp_path: Path) -> Flask:
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                       "SECRET_KEY": "test-secret", "FILES_DIR": str(tmp_path / "files"),
                       "IMPORT_WATCH": False, "WEBHOOK_DISPATCH": False})


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with nothing in it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (make test in CI sets it)")
    name = f"relais_migrations_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(server_url).set(database="postgres"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tables(connection: Any) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _pending_changes(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, db.metadata)


def test_migrations_build_the_models_schema_and_go_down_and_up(
        empty_database: str, tmp_path: Path):
    app = _app_on(empty_database, tmp_path)
    expected = set(db.metadata.tables)
    with app.app_context():
        config = migrations(app).get_config()
        try:
            with db.engine.connect() as conn:
                assert _tables(conn) == set()
            command.upgrade(config, "head")
            with db.engine.connect() as conn:
                assert _tables(conn) == expected
                assert _pending_changes(conn) == []
                head = ScriptDirectory.from_config(config).get_current_head()
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() \
                    == head

            command.downgrade(config, "base")
            with db.engine.connect() as conn:
                assert _tables(conn) == set()

            command.upgrade(config, "head")
            with db.engine.connect() as conn:
                assert _tables(conn) == expected
                assert _pending_changes(conn) == []
                # The rebuilt schema works: a tenant row goes in and comes out.
                conn.execute(text(
                    "INSERT INTO tenants (slug, name, default_locale, is_active, created_at, "
                    "updated_at) VALUES ('gamma', 'Gamma', 'fr', true, CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP)"))
                assert conn.execute(text("SELECT name FROM tenants")).scalar() == "Gamma"
        finally:
            db.session.remove()
            db.engine.dispose()


def test_revisions_form_one_line_of_named_and_described_files(tmp_path: Path):
    app = _app_on(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path)
    with app.app_context():
        script = ScriptDirectory.from_config(migrations(app).get_config())
        assert len(script.get_heads()) == 1, script.get_heads()
        revisions = list(script.walk_revisions())
        assert revisions and revisions[-1].down_revision is None
        for revision in revisions:
            path = Path(revision.path)
            match = FILE_NAME.match(path.name)
            assert match and match["rev"] == revision.revision, path.name
            first_line = (revision.module.__doc__ or "").strip().splitlines()[0]
            assert len(first_line) > 10 and not first_line.startswith("empty message"), path.name
            assert hasattr(revision.module, "downgrade"), path.name


INITIAL_ROWS = [
    "INSERT INTO tenants (id, slug, name, default_locale, is_active, created_at, updated_at) "
    "VALUES (1, 'alpha', 'Alpha', 'fr', TRUE, '2025-01-01', '2025-01-01')",
    "INSERT INTO accounts (id, tenant_id, name, kind, country, custom, created_at, updated_at) "
    "VALUES (1, 1, 'Dupont', 'company', 'FR', '{}', '2025-01-01', '2025-01-01')",
    "INSERT INTO contacts (id, tenant_id, account_id, last_name, custom, created_at, updated_at) "
    "VALUES (1, 1, 1, 'Martin', '{}', '2025-01-01', '2025-01-01')",
    "INSERT INTO invoices (id, tenant_id, account_id, number, status, total_excl_tax, tax_total,"
    " total, amount_paid, currency, custom, created_at, updated_at) VALUES (1, 1, 1, 'F1',"
    " 'issued', 100, 20, 120, 0, 'EUR', '{}', '2025-01-01', '2025-01-01')",
    "INSERT INTO invoice_lines (id, tenant_id, invoice_id, position, label, quantity,"
    " unit_price, tax_rate) VALUES (1, 1, 1, 0, 'Store', 1, 100, 20)",
]


def test_upgrading_a_database_keeps_its_rows(empty_database: str, tmp_path: Path):
    """Later migrations rebuild tables on SQLite: no row may be lost (or cascaded away)."""
    app = _app_on(empty_database, tmp_path)
    with app.app_context():
        config = migrations(app).get_config()
        script = ScriptDirectory.from_config(config)
        first = list(script.walk_revisions())[-1].revision
        try:
            command.upgrade(config, first)
            with db.engine.begin() as conn:
                for statement in INITIAL_ROWS:
                    conn.execute(text(statement))
            command.upgrade(config, "head")
            with db.engine.connect() as conn:
                counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                          for t in ("tenants", "accounts", "contacts", "invoices",
                                    "invoice_lines")}
            assert counts == dict.fromkeys(counts, 1)
        finally:
            db.engine.dispose()
