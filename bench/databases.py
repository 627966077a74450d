"""The databases a run measures: a SQLite file, and PostgreSQL when it answers."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)


def backends(selected: str, suffix: str = "") -> list[Backend]:
    """The backends of this run: `sqlite`, `postgresql` or `all`.

    `suffix` names another pair of databases next to the default ones (the import benchmark
    keeps its own: relais-bench-imports.sqlite, relais_bench_imports).
    """
    found = []
    if selected in ("sqlite", "all"):
        path = SQLITE_PATH.with_name(f"{SQLITE_PATH.stem}{suffix}{SQLITE_PATH.suffix}")
        found.append(Backend("sqlite", f"sqlite:///{path}", path=path))
    if selected in ("postgresql", "all"):
        url = os.environ.get("BENCH_DATABASE_URL")
        full = make_url(url or DEFAULT_POSTGRES_URL)
        if suffix:
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
