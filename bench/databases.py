"""The databases a run measures: a SQLite file, and PostgreSQL when it answers."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench import RESULTS_DIR

SQLITE_PATH = RESULTS_DIR / "relais-bench.sqlite"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/relais_bench"


@dataclass
class Backend:
    name: str
    url: str
    required: bool = False  # asked for explicitly: being unreachable is a failure, not a skip
    skip_reason: str | None = None
    path: Path = SQLITE_PATH  # the SQLite file
    # PostgreSQL: the URL the measured app connects with (--app-role); the data is prepared,
    # and the raw ceilings loaded, with `url` (the owner).
    app_url: str = ""

    @property
    def measured_url(self) -> str:
        return self.app_url or self.url

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)


def backends(selected: str, suffix: str = "", postgres_url: str | None = None) -> list[Backend]:
    """The backends of this run: `sqlite`, `postgresql` or `all`.

    `suffix` names another pair of databases next to the default ones (the import benchmark
    keeps its own: relais-bench-imports.sqlite, relais_bench_imports). `postgres_url`, when
    given, is the PostgreSQL database itself, without the suffix.
    """
    found = []
    if selected in ("sqlite", "all"):
        path = SQLITE_PATH.with_name(f"{SQLITE_PATH.stem}{suffix}{SQLITE_PATH.suffix}")
        found.append(Backend("sqlite", f"sqlite:///{path}", path=path))
    if selected in ("postgresql", "all"):
        url = os.environ.get("BENCH_DATABASE_URL")
        full = make_url(url or DEFAULT_POSTGRES_URL)
        if postgres_url:
            full, url = make_url(postgres_url), postgres_url
        elif suffix:
            full = full.set(database=f"{full.database}{suffix.replace('-', '_')}")
        backend = Backend("postgresql", full.render_as_string(hide_password=False),
                          required=bool(url) or selected == "postgresql")
        backend.skip_reason = _postgres_unreachable(backend.url)
        found.append(backend)
    return found


def _server_connect(url: str):
    """A connection to the server's maintenance database (to create or drop the bench one)."""
    import psycopg

    parts = make_url(url)
    return psycopg.connect(host=parts.host or "127.0.0.1", port=parts.port or 5432,
                           user=parts.username, password=parts.password, dbname="postgres",
                           autocommit=True, connect_timeout=3)


def _postgres_unreachable(url: str) -> str | None:
    try:
        with _server_connect(url):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure is a reason to skip, printed
        return f"PostgreSQL unreachable at {make_url(url).render_as_string(hide_password=True)}: " \
               f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"


def create_if_missing(backend: Backend) -> None:
    if backend.name == "sqlite":
        backend.path.parent.mkdir(parents=True, exist_ok=True)
        return
    name = make_url(backend.url).database
    with _server_connect(backend.url) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def reset(backend: Backend) -> None:
    """Start from an empty database: delete the SQLite file, drop and create the PostgreSQL one."""
    if backend.name == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            backend.path.with_name(backend.path.name + suffix).unlink(missing_ok=True)
        create_if_missing(backend)
        return
    name = make_url(backend.url).database or ""
    if "bench" not in name:
        # The database is dropped: refuse anything that does not look like a bench database.
        raise SystemExit(f"Refusing to drop database {name!r}: its name must contain 'bench'.")
    with _server_connect(backend.url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def as_app_role(backend: Backend, role: str) -> None:
    """Measure as `role`, a login of the server that owns nothing in the bench database, as
    production's application role: row-level security applies to it (docs/operations.md).
    Created when missing (password: its name), granted the rows of every table."""
    if backend.name != "postgresql" or not role:
        return
    if not role.isidentifier():
        raise SystemExit(f"--app-role {role!r}: letters, digits and _ only")
    with _server_connect(backend.url) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
            conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{role}' NOSUPERUSER NOBYPASSRLS")
    parts = make_url(backend.url)
    import psycopg

    with psycopg.connect(host=parts.host or "127.0.0.1", port=parts.port or 5432,
                         user=parts.username, password=parts.password, dbname=parts.database,
                         autocommit=True) as conn:
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
                     f"TO {role}")
        conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    backend.app_url = parts.set(username=role, password=role).render_as_string(
        hide_password=False)


class ServerCPU:
    """CPU seconds spent by the server processes of a PostgreSQL database since this was made
    (read from /proc: the bench runs on the database's machine), which the machine's other
    work disturbs far less than wall-clock time. `connection` (DBAPI, one of its own: its
    transactions are ended) lists the database's processes; nothing on SQLite, which works in
    the measured process itself."""

    def __init__(self, connection: Any) -> None:
        self.connection = None if type(connection).__module__.startswith("sqlite3") \
            else connection
        self.start = self._times()

    def _times(self) -> dict[int, float] | None:
        if self.connection is None:
            return None
        cursor = self.connection.cursor()
        try:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            pids = [row[0] for row in cursor.fetchall()]
        finally:
            cursor.close()
        self.connection.rollback()
        times = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone, or another machine's server
                continue
            times[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return times

    def seconds(self) -> float | None:
        """CPU seconds since; None on SQLite or when the server's processes are not
        readable."""
        now = self._times()
        if now is None or self.start is None or not now:
            return None
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in now.items())


def empty_schema() -> None:
    """Drop and create the app's tables on the current app's database (within an app
    context), with the PostgreSQL extensions the search indexes need."""
    from app.extensions import db

    db.drop_all()
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            for extension in ("pg_trgm", "btree_gin"):
                connection.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    db.create_all()


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database `url` names when it is missing."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    server = make_url(url)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT",
                          poolclass=NullPool)
    with admin.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                       {"name": server.database}) is None:
            conn.execute(text(f'CREATE DATABASE "{server.database}"'))
    admin.dispose()
