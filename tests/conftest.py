"""Fixtures: one app per database backend (SQLite always, PostgreSQL when TEST_DATABASE_URL
is set), a clean database for every test, factories and logged-in clients per role."""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import Config as _unused  # noqa: F401  (Flask-Migrate must import first)
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from app import create_app, jobs
from app.entities import ENTITIES
from app.extensions import db, limiter, migrations
from app.models import Role, Tenant, User
from app.services.records import create_record
from app.services.tenants import create_tenant, create_user
from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context

PASSWORD = "correct-horse-battery"
BACKENDS = ["sqlite", "postgresql"]


# PostgreSQL: the app connects as a role that owns nothing, so that row-level security
# applies to it (docs/operations.md); TEST_DATABASE_URL's role owns the tables and migrates.
APP_ROLE = "relais_test_app"
OWNER_ENGINE = "relais_test_owner_engine"


def _database_urls(backend: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The app's URL and the tables' owner's (the same on SQLite)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'relais-test.db'}"
        return url, url
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (make test in CI sets it)")
    url = _worker_database(url)
    _create_app_role(url)
    app_url = make_url(url).set(username=APP_ROLE, password=APP_ROLE)
    return app_url.render_as_string(hide_password=False), url


def xdist_worker() -> int:
    """N for pytest-xdist's worker gwN, 0 without xdist: what a worker keeps to itself (its
    PostgreSQL database, its Redis databases) is numbered by it."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def _worker_database(url: str) -> str:
    """TEST_DATABASE_URL itself, or under pytest-xdist a database of the worker's own beside
    it (`<name>_gwN`, created when missing): each worker rebuilds and empties its schema."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    server = make_url(url)
    name = f"{server.database}_{worker}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT",
                          poolclass=NullPool)
    try:
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                           {"name": name}) is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def _create_app_role(owner_url: str) -> None:
    """The app's role, once per server (roles are shared by its databases)."""
    engine = create_engine(owner_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                f"DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_ROLE}' "
                "NOSUPERUSER NOBYPASSRLS; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"))
    finally:
        engine.dispose()


def owner_engine(app: Flask) -> Engine:
    """An engine on the tables' owner (cleaning, ANALYZE); the app's own on SQLite."""
    return app.extensions[OWNER_ENGINE]


def _reset_schema(app: Flask) -> None:
    """Start from an empty database and build the schema with the migrations (as the owner,
    who lets the app's role use every table and sequence it creates)."""
    with app.app_context():
        owner = owner_engine(app)
        if owner.dialect.name == "postgresql":
            with owner.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
                conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}"))
                conn.execute(text("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, "
                                  f"INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"))
                conn.execute(text("ALTER DEFAULT PRIVILEGES IN SCHEMA public "
                                  f"GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}"))
        else:
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        config = migrations(app).get_config()
        command.upgrade(config, "head")


@pytest.fixture(scope="session", params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    files = tmp_path_factory.mktemp("files")
    app_url, owner_url = _database_urls(request.param, tmp_path_factory)
    application = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": app_url,
        "MIGRATION_DATABASE_URL": owner_url if owner_url != app_url else "",
        "SECRET_KEY": "test-secret",
        "FILES_DIR": str(files),
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        # No background sending unless a test asks for it (tests/webhooks: webhooks_on):
        # a dispatcher left running would send other tests' rows and add to their queries.
        "WEBHOOK_DISPATCH": False,
        # Nor a run watch (tests/importers/test_recovery.py calls its functions itself).
        "IMPORT_WATCH": False,
        # Nor a sweep of deleted tenants' files (tests/test_tenant_data.py runs it itself).
        "TENANT_FILES_SWEEP": False,
        "MANDATE_EXPIRY": False,
        "COLLECTION_RECOVERY": False,
        # Nor the periodic retry of the mail outbox (tests/selling run its job themselves); a
        # commit that queues mails still sends them at once.
        "MAIL_OUTBOX": False,
        "SUBSCRIPTION_EXPIRY": False,
        # Nor feed alerts (tests/services/test_feed_alerts.py fires their job itself).
        "FEED_ALERTS": False,
        # Nor the schedules of exports and pulls (tests/exports fire them themselves).
        "FEED_SCHEDULES": False,
        # Their SFTP and HTTPS servers are on loopback.
        "REMOTE_ALLOW_PRIVATE": True,
        # Nor a sweep of the SFTP inbox (tests/importers/test_sftp_inbox.py runs it itself).
        "FEED_SWEEP": False,
        # Nor an in-process scheduler: started by the session's first request when a test had
        # just switched a periodic job on, it held the scheduler lease (30 s, renewed) for the
        # rest of the run, and the `flask scheduler` processes of tests/jobs never got it.
        "JOBS_SCHEDULER": False,
    })
    with application.app_context():
        application.extensions[OWNER_ENGINE] = db.engine if owner_url == app_url \
            else create_engine(owner_url, pool_size=1)
    application.test_client_class = RequestClient
    _reset_schema(application)
    return application


@pytest.fixture(autouse=True)
def _clean_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test that uses the app starts on empty tables."""
    if "app" not in request.fixturenames:
        yield
        return
    app: Flask = request.getfixturevalue("app")
    with app.app_context():
        limiter.reset()
    yield
    with app.app_context():
        # A job a test left running (a mail being sent, say) would otherwise act on the next
        # test's rows, whose ids start again from 1.
        found = jobs.runner(app)
        if isinstance(found, jobs.EmbeddedRunner):
            found.wait_idle(30)
        db.session.remove()
        _empty_tables(owner_engine(app))


def _empty_tables(engine: Engine) -> None:
    """DELETE (much faster than TRUNCATE on small tables), children first, ids restarted."""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        for table in tables:
            conn.execute(text(f"DELETE FROM {table}"))
        if postgres:
            conn.execute(text("; ".join(
                f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), 1, false)" for t in tables)))
        else:
            conn.execute(text("DELETE FROM sqlite_sequence WHERE 1")) if conn.execute(text(
                "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first() else None


class RequestClient(FlaskClient):
    """A test client whose every request starts with an empty `g`, as in production.

    Tests keep an application context pushed for their factories, and Flask reuses it for
    requests: without this, `g` (Flask-Login's user, Flask-Babel's locale) would leak from one
    request into the next, even across clients.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        from flask import g, has_app_context

        if has_app_context():
            for name in list(g):
                g.pop(name, None)
        return super().open(*args, **kwargs)


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with test-sized costs: a login per test stays cheap."""
    from argon2 import PasswordHasher

    from app.services import tenants as tenant_service

    monkeypatch.setattr(tenant_service, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def backend(app: Flask) -> str:
    with app.app_context():
        return db.engine.dialect.name


@pytest.fixture
def sqlite_statements(app: Flask, backend: str) -> Iterator[list[str]]:
    """Every statement SQLite runs during the test, those the record writer sends through the
    driver's own cursors too (SQLite only: the test is skipped on PostgreSQL)."""
    if backend != "sqlite":
        pytest.skip("statements traced by SQLite")
    statements: list[str] = []

    def traced(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    def untraced(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.set_trace_callback(None)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "checkout", traced)
    event.listen(engine, "checkin", untraced)
    try:
        yield statements
    finally:
        event.remove(engine, "checkout", traced)
        event.remove(engine, "checkin", untraced)


def _make_tenant(slug: str, name: str) -> Tenant:
    with all_tenants_unsafe("tests"):
        tenant = create_tenant(slug, name)
        db.session.commit()
    return tenant


@pytest.fixture
def tenant(app_ctx: Flask) -> Iterator[Tenant]:
    """Tenant A, bound to the test's context (as a platform job would be)."""
    created = _make_tenant("alpha", "Alpha Stores")
    with tenant_context(created.id, SYSTEM):
        yield created


@pytest.fixture
def other_tenant(app_ctx: Flask) -> Tenant:
    """Tenant B: its rows are made under its own context, then A is current again."""
    return _make_tenant("beta", "Beta Volets")


@pytest.fixture
def in_tenant() -> Callable[..., Any]:
    """Run a function inside a tenant's context and commit: in_tenant(t, fn, *args)."""

    def run(target: Tenant, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with tenant_context(target.id, SYSTEM):
            result = fn(*args, **kwargs)
            db.session.commit()
            # Loaded while its tenant is bound, then detached: back in another tenant, a
            # commit would expire it and PostgreSQL's row-level security hide its row from
            # the refresh.
            for obj in result if isinstance(result, list | tuple) else [result]:
                if isinstance(obj, db.Model) and obj in db.session:
                    db.session.refresh(obj)
                    db.session.expunge(obj)
            return result

    return run


@pytest.fixture
def make_user(tenant: Tenant) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(role: str = "admin", **over: Any) -> User:
        data = {"email": f"{role}{next(counter)}@alpha.example", "password": PASSWORD,
                "role": role, "full_name": f"{role.title()} User", **over}
        user = create_user(data)
        db.session.commit()
        return user

    return make


def _record_factory(entity_name: str, defaults: Callable[[], dict[str, Any]]):
    def fixture(tenant: Tenant) -> Callable[..., Any]:
        def make(**over: Any) -> Any:
            record = create_record(ENTITIES[entity_name], {**defaults(), **over})
            db.session.commit()
            return record

        return make

    return fixture


_seq = iter(range(1, 10**9))

make_partner = pytest.fixture(_record_factory("partners", lambda: {
    "name": f"Agence {next(_seq)}"}))
make_account = pytest.fixture(_record_factory("accounts", lambda: {
    "name": f"Client {next(_seq)}", "kind": "company", "country": "FR", "city": "Lyon"}))


def _document(prefix: str, **extra: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {"number": f"{prefix}{next(_seq):06d}", **extra}


@pytest.fixture
def make_contact(make_account: Callable[..., Any]) -> Callable[..., Any]:
    def make(**over: Any) -> Any:
        account = over.pop("account", None) or make_account().id
        record = create_record(ENTITIES["contacts"], {
            "last_name": f"Martin{next(_seq)}", "first_name": "Claire", "account": account, **over})
        db.session.commit()
        return record

    return make


def _with_account(entity_name: str, defaults: Callable[[], dict[str, Any]]):
    def fixture(make_account: Callable[..., Any]) -> Callable[..., Any]:
        def make(**over: Any) -> Any:
            data = {**defaults(), **over}
            if "account" not in data:
                data["account"] = make_account().id
            record = create_record(ENTITIES[entity_name], data)
            db.session.commit()
            return record

        return make

    return fixture


make_deal = pytest.fixture(_with_account("deals", lambda: {
    "title": f"Projet {next(_seq)}", "stage": "proposal", "amount": Decimal("1500.00")}))
make_quote = pytest.fixture(_with_account("quotes", _document(
    "D", status="sent", issued_on=date(2026, 10, 1),
    lines=[{"label": "Store banne", "quantity": Decimal("1"), "unit_price": Decimal("800"),
            "tax_rate": Decimal("20")}])))
make_order = pytest.fixture(_with_account("orders", _document(
    "C", status="confirmed", ordered_on=date(2026, 10, 5),
    lines=[{"label": "Volet roulant", "quantity": Decimal("2"), "unit_price": Decimal("450"),
            "tax_rate": Decimal("20")}])))
make_contract = pytest.fixture(_with_account("contracts", lambda: {
    "number": f"CT{next(_seq):06d}", "title": "Maintenance annuelle", "status": "active",
    "starts_on": date(2026, 1, 1), "recurring_amount": Decimal("49.90")}))
make_delivery = pytest.fixture(_with_account("deliveries", _document(
    "BL", status="shipped", expected_on=date(2026, 11, 30), carrier="Geodis")))
make_activity = pytest.fixture(_with_account("activities", lambda: {
    "kind": "call", "subject": f"Appel {next(_seq)}",
    "due_at": datetime(2026, 12, 10, 9, 30, tzinfo=UTC)}))
make_invoice = pytest.fixture(_with_account("invoices", _document(
    "F", status="issued", issued_on=date(2026, 10, 10), due_on=date(2026, 11, 10),
    lines=[{"label": "Store banne 4 m", "quantity": Decimal("1"),
            "unit_price": Decimal("1234.56"), "tax_rate": Decimal("20")}])))


def login(client: FlaskClient, user: User, slug: str = "alpha") -> FlaskClient:
    response = client.post(f"/{slug}/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.data[:500]
    return client


@pytest.fixture
def client(app: Flask, app_ctx: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN.value)


@pytest.fixture
def admin_client(app: Flask, admin: User) -> FlaskClient:
    return login(app.test_client(), admin)


@pytest.fixture
def sales_client(app: Flask, make_user: Callable[..., User]) -> FlaskClient:
    return login(app.test_client(), make_user(Role.SALES.value))


def page_text(response: Any) -> str:
    """The visible text of an HTML response, whitespace folded (for 'the page shows …')."""
    html = response.data.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\u202f", " ") \
        .replace("\xa0", " ")


def local_day() -> date:
    """Today where the app's users are (its default time zone, as app.clock reads it): from
    23:00 UTC Paris is already tomorrow, and an invoice due "today" by the server's clock is
    late there."""
    return datetime.now(ZoneInfo(os.environ.get("DEFAULT_TIMEZONE", "Europe/Paris"))).date()


def days_ago(n: int) -> date:
    return local_day() - timedelta(days=n)
