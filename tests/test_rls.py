"""The second wall (PostgreSQL): row-level security holds where the ORM's scoping does not
reach. Raw SQL, COPY and the bulk statements of app/services/record_sql.py, run while tenant A is
bound, read and write nothing of tenant B, nor do the API's bulk upsert and a feed whose
set-based SQL is handed B's id by mistake; with no tenant bound nothing is visible; the named
bypass sees everything. The app connects as a role the policies apply to (tests/conftest.py),
as in production (docs/operations.md).
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Table, text
from sqlalchemy.exc import DBAPIError

from app.entities import ENTITIES
from app.extensions import db
from app.models import Account, ImportRun, Tenant
from app.row_security import POLICY
from app.services import feeds, record_sql
from app.services.record_sql import BulkSQL
from app.services.records import create_record
from app.services.tokens import create_token
from app.tenancy import all_tenants_unsafe, bind, tenant_context, unbind
from importers import runs
from tests.api.conftest import bearer
from tests.test_tenancy import World, make_rows

TENANT_TABLES: list[Table] = [t for t in db.metadata.sorted_tables if "tenant_id" in t.c]


@pytest.fixture(autouse=True)
def _postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("row-level security is PostgreSQL's (SQLite: the ORM's scoping only)")


@pytest.fixture
def world(tenant: Tenant, other_tenant: Tenant) -> World:
    """One committed row of every tenant-scoped model in A (current) and in B."""
    a, b = tenant.id, other_tenant.id
    found = World(a, b, make_rows(a), make_rows(b))
    db.session.expunge_all()
    return found


@pytest.fixture
def unbound() -> Iterator[None]:
    tokens = bind(None, None)
    try:
        yield
    finally:
        unbind(tokens)


def _tenants_seen(table: Table) -> set[int]:
    return set(db.session.execute(text(f"SELECT DISTINCT tenant_id FROM {table.name}")).scalars())


def _raw_cursor() -> Any:
    """The DBAPI cursor of the session's connection, as app/services/record_sql.py takes it."""
    return BulkSQL(Account.__table__, "external_ref", 0).cursor(binary=False)


def _account_row(tenant_id: int, ref: str) -> tuple:
    return (tenant_id, ref, f"Client {ref}", "company", "FR", "{}")


ACCOUNT_COLUMNS = ["tenant_id", "external_ref", "name", "kind", "country", "custom"]


# --- the set-up the wall relies on ------------------------------------------------------------

def test_every_tenant_table_has_the_policy_forced_even_on_its_owner(app_ctx):
    rows = db.session.execute(text(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
        "       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid "
        "               AND p.polname = :policy) "
        "FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
        "AND c.relkind = 'r'"), {"policy": POLICY}).all()
    found = {name: (enabled, forced, policy) for name, enabled, forced, policy in rows}
    for table in TENANT_TABLES:
        assert found[table.name] == (True, True, True), table.name
    assert found["tenants"] == (False, False, False)
    assert found["alembic_version"] == (False, False, False)


def test_each_policy_is_the_tenant_rule_and_the_only_one(app_ctx):
    """A policy of that name with another rule, or a second (permissive) policy beside it,
    would open the wall while the test above still passed."""
    rows = db.session.execute(text(
        "SELECT c.relname, p.polname, p.polcmd, p.polpermissive, p.polroles, "
        "       pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid) "
        "FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace")).all()
    by_table: dict[str, list] = {}
    for table, *policy in rows:
        by_table.setdefault(table, []).append(policy)
    assert set(by_table) == {table.name for table in TENANT_TABLES}
    rules = set()
    for table, policies in by_table.items():
        assert len(policies) == 1, table
        name, command, permissive, roles, using, check = policies[0]
        assert (name, command, permissive, list(roles)) == (POLICY, "*", True, [0]), table
        assert using == check, table
        rules.add(using)
    (rule,) = rules
    assert "tenant_id = " in rule and "current_setting('app.tenant_id'" in rule
    assert "current_setting('app.bypass_rls'" in rule


def test_the_app_role_is_subject_to_the_policies(app_ctx):
    user, exempt, owns = db.session.execute(text(
        "SELECT current_user, rolsuper OR rolbypassrls, "
        "       EXISTS (SELECT 1 FROM pg_tables WHERE tableowner = current_user) "
        "FROM pg_roles WHERE rolname = current_user")).one()
    assert not exempt and not owns, user


# --- raw SQL under tenant A -------------------------------------------------------------------

def test_raw_reads_under_a_see_no_row_of_b(world: World):
    for table in TENANT_TABLES:
        assert _tenants_seen(table) <= {world.a}, table.name
    assert db.session.execute(text("SELECT count(*) FROM accounts")).scalar() == 1
    assert db.session.execute(text("SELECT id FROM accounts WHERE id = :id"),
                              {"id": world.b_ids[Account]}).first() is None


def test_raw_insert_of_a_b_row_under_a_is_refused(world: World):
    with pytest.raises(DBAPIError, match="row-level security"):
        db.session.execute(text(
            "INSERT INTO accounts (tenant_id, name, kind, country, custom, created_at, "
            "updated_at) VALUES (:b, 'Intrus', 'company', 'FR', '{}', now(), now())"),
            {"b": world.b})
    db.session.rollback()
    with all_tenants_unsafe("tests"):
        assert db.session.execute(text("SELECT count(*) FROM accounts WHERE name = 'Intrus'")) \
            .scalar() == 0


def test_raw_update_and_delete_under_a_leave_b_untouched(world: World):
    for table in reversed(TENANT_TABLES):
        assert db.session.execute(text(f"UPDATE {table.name} SET tenant_id = tenant_id "
                                       "WHERE tenant_id = :b"), {"b": world.b}).rowcount == 0
        assert db.session.execute(text(f"DELETE FROM {table.name} WHERE tenant_id <> :a"),
                                  {"a": world.a}).rowcount == 0, table.name
    db.session.commit()
    with all_tenants_unsafe("tests"):
        for table in TENANT_TABLES:
            assert world.b in _tenants_seen(table), table.name


def test_raw_update_cannot_move_a_row_to_b(world: World):
    with pytest.raises(DBAPIError, match="row-level security"):
        db.session.execute(text("UPDATE accounts SET tenant_id = :b WHERE id = :id"),
                           {"b": world.b, "id": world.a_ids[Account]})
    db.session.rollback()


# --- COPY and the bulk statements --------------------------------------------------------------

def test_copy_into_a_tenant_table_is_refused_whatever_its_rows(world: World):
    cursor = _raw_cursor()
    with pytest.raises(db.engine.dialect.dbapi.Error, match="row-level security"):
        with cursor.copy(f"COPY accounts ({', '.join(ACCOUNT_COLUMNS)}) FROM STDIN") as copy:
            copy.write_row(_account_row(world.a, "A-COPY"))
    db.session.rollback()


def test_copy_out_under_a_gives_a_rows_only(world: World):
    cursor = _raw_cursor()
    with cursor.copy("COPY accounts (tenant_id) TO STDOUT") as copy:
        tenants = {int(row[0]) for row in copy.rows()}
    assert tenants == {world.a}


def test_bulk_insert_of_b_rows_under_a_is_refused_by_the_database(world: World, monkeypatch):
    monkeypatch.setattr(record_sql, "_bound", lambda rows, tenant_id: rows)  # the Python check
    wrong = BulkSQL(Account.__table__, "external_ref", world.b)  # a bug: B's writer under A
    with pytest.raises(db.engine.dialect.dbapi.Error, match="row-level security"):
        wrong.insert(ACCOUNT_COLUMNS, [_account_row(world.b, "B-BULK")])
    db.session.rollback()
    with all_tenants_unsafe("tests"):
        assert db.session.execute(text("SELECT count(*) FROM accounts WHERE external_ref = "
                                       "'B-BULK'")).scalar() == 0


def test_bulk_insert_under_a_writes_a_rows(world: World):
    BulkSQL(Account.__table__, "external_ref", world.a).insert(
        [*ACCOUNT_COLUMNS, "created_at", "updated_at"],
        [(*_account_row(world.a, "A-BULK"), "2026-12-03", "2026-12-03")])
    db.session.commit()
    assert db.session.execute(text("SELECT tenant_id FROM accounts WHERE external_ref = "
                                   "'A-BULK'")).scalar() == world.a


def test_bulk_reads_and_updates_with_b_under_a_reach_nothing(world: World):
    wrong = BulkSQL(Account.__table__, "external_ref", world.b)
    assert wrong.count(Account.__table__) == 0
    assert wrong.references(Account.__table__, False, None) == {}
    wrong.update([{"id": world.b_ids[Account], "name": "Changé"}])
    db.session.commit()
    with all_tenants_unsafe("tests"):
        assert db.session.execute(text("SELECT name FROM accounts WHERE id = :id"),
                                  {"id": world.b_ids[Account]}).scalar() != "Changé"


# --- no tenant, another tenant, the bypass ----------------------------------------------------

def test_with_no_tenant_bound_nothing_is_visible_nor_writable(world: World, unbound):
    for table in TENANT_TABLES:
        assert _tenants_seen(table) == set(), table.name
    with pytest.raises(DBAPIError, match="row-level security"):
        db.session.execute(text(
            "INSERT INTO accounts (tenant_id, name, kind, country, custom, created_at, "
            "updated_at) VALUES (:a, 'Orphelin', 'company', 'FR', '{}', now(), now())"),
            {"a": world.a})
    db.session.rollback()


@pytest.mark.parametrize("previous", ["tenant B", "the bypass"])
def test_a_pooled_connections_next_transaction_starts_with_no_tenant(world: World, previous):
    # A transaction that starts with nothing bound sends no setting (the settings are
    # transaction-local): what the previous transaction on the same connection set must be gone.
    with db.engine.connect() as conn:
        context = tenant_context(world.b) if previous == "tenant B" \
            else all_tenants_unsafe("tests")
        with context:
            assert conn.execute(text("SELECT count(*) FROM accounts")).scalar() > 0
            conn.commit()
        tokens = bind(None, None)
        try:
            assert conn.execute(text("SELECT count(*) FROM accounts")).scalar() == 0
            with pytest.raises(DBAPIError, match="row-level security"):
                conn.execute(text(
                    "INSERT INTO accounts (tenant_id, name, kind, country, custom, created_at, "
                    "updated_at) VALUES (:b, 'Orphelin', 'company', 'FR', '{}', now(), now())"),
                    {"b": world.b})
        finally:
            unbind(tokens)


def test_the_named_bypass_sees_every_tenant(world: World):
    with all_tenants_unsafe("tests"):
        for table in TENANT_TABLES:
            assert _tenants_seen(table) == {world.a, world.b}, table.name


def test_a_context_entered_inside_a_transaction_applies_at_once(world: World):
    assert _tenants_seen(Account.__table__) == {world.a}
    with tenant_context(world.b):
        assert _tenants_seen(Account.__table__) == {world.b}
        with all_tenants_unsafe("tests"):
            assert _tenants_seen(Account.__table__) == {world.a, world.b}
        assert _tenants_seen(Account.__table__) == {world.b}
    assert _tenants_seen(Account.__table__) == {world.a}


def test_a_rolled_back_savepoint_does_not_leave_another_tenant_behind(world: World):
    assert _tenants_seen(Account.__table__) == {world.a}
    savepoint = db.session.begin_nested()
    db.session.execute(text("SELECT 1"))  # the savepoint is open, A still set
    with tenant_context(world.b):
        assert _tenants_seen(Account.__table__) == {world.b}  # B set inside the savepoint
        savepoint.rollback()  # which undoes it (A again): the next statement sets B again
        assert _tenants_seen(Account.__table__) == {world.b}
    assert _tenants_seen(Account.__table__) == {world.a}


# --- the API's bulk upsert and a feed, their set-based SQL given B's id ----------------------

@pytest.fixture
def b_partner(other_tenant: Tenant, in_tenant) -> int:
    partner = in_tenant(other_tenant, create_record, ENTITIES["partners"],
                        {"external_ref": "P-B", "name": "Agence Beta"})
    return partner.id


@pytest.fixture
def sql_given_b(b_partner: int, other_tenant: Tenant, monkeypatch) -> None:
    """A bug below the ORM: every set-based statement that tenant A's bulk upsert or feed runs
    (app/services/record_sql.py, through the batch writer) filters on, and writes, B's id."""
    built = BulkSQL.__init__

    def given_b(self: BulkSQL, table: Table, key: str, tenant_id: int) -> None:
        built(self, table, key, other_tenant.id)

    monkeypatch.setattr(BulkSQL, "__init__", given_b)
    monkeypatch.setattr(record_sql, "_bound", lambda rows, tenant_id: rows)  # its Python check


def _partners_of(tenant_id: int) -> dict[str, str]:
    with all_tenants_unsafe("tests"):
        rows = db.session.execute(text("SELECT external_ref, name FROM partners "
                                       "WHERE tenant_id = :t"), {"t": tenant_id}).all()
    db.session.rollback()
    return dict(rows)


def _events_of(tenant_id: int) -> int:
    with all_tenants_unsafe("tests"):
        found = db.session.execute(text("SELECT count(*) FROM audit_events "
                                        "WHERE tenant_id = :t"), {"t": tenant_id}).scalar()
    db.session.rollback()
    return found


def test_a_bulk_upsert_whose_sql_is_given_b_reads_and_writes_nothing_of_b(
        app, tenant: Tenant, other_tenant: Tenant, sql_given_b):
    b_events = _events_of(other_tenant.id)
    _token, secret = create_token("ERP", "read,write")
    db.session.commit()
    answer = bearer(app, secret).post("/api/v1/partners/bulk", json={"items": [
        {"external_ref": "P-B", "name": "Renamed by A"},
        {"external_ref": "P-NEW", "name": "Agence Alpha"}]})
    # B's partner is not found (so not changed); as a new row of B, each item is refused.
    items = answer.get_json()["items"]
    assert answer.status_code == 200 and [item["id"] for item in items] == [None, None]
    assert all("row-level security" in item["errors"]["_schema"][0] for item in items)
    assert _partners_of(other_tenant.id) == {"P-B": "Agence Beta"}
    assert _events_of(other_tenant.id) == b_events


def test_a_feed_whose_sql_is_given_b_reads_and_writes_nothing_of_b(
        tenant: Tenant, other_tenant: Tenant, sql_given_b):
    b_events = _events_of(other_tenant.id)
    profile = feeds.create_profile({"name": "partenaires", "entity": "partners",
                                    "columns": {"Code": "external_ref", "Nom": "name"}})
    db.session.commit()
    with io.BytesIO(b"Code;Nom\r\nP-B;Renamed by A\r\nP-NEW;Agence Alpha\r\n") as stream:
        run = feeds.create_run(profile, stream, "partenaires.csv", source="cli")
    db.session.commit()
    runs.run_import(run.id, tenant.id, max_wait=0)
    db.session.expire_all()
    # B's partner is not found (so not changed): A's feed makes its own.
    done = db.session.get(ImportRun, run.id)
    assert (done.status, done.created, done.updated, done.failed) == ("succeeded", 2, 0, 0)
    assert _partners_of(other_tenant.id) == {"P-B": "Agence Beta"}
    assert _events_of(other_tenant.id) == b_events
    assert _partners_of(tenant.id) == {"P-B": "Renamed by A", "P-NEW": "Agence Alpha"}
