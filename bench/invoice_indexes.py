"""What each index of the invoice table costs a first import.

`python -m bench.invoice_indexes [--backend sqlite|postgresql] [--rows N] [--repeat N]`, on
the import benchmark's tenant (bench/imports.py, prepared when missing): the first N rows of
its invoice file, as the import writes them (bench/imports.py `raw_rows`), written into the
invoice table with every index, then without each index in turn, then without any but the
primary key: executemany (SQLite) or COPY (PostgreSQL) in batches of the engine's size,
in one transaction that drops the index first and is rolled back after, so the table is
left as it was. Only the writes are timed, after an untimed one that reads the table's pages;
the variants take turns, `--repeat` rounds, and each one's median is compared with the
median of all indexes in the same run.

The unique keys (tenant and external reference, tenant and number) are table constraints:
PostgreSQL drops them like an index, SQLite cannot (they are measured there only as part of
"every index" and "only the primary key" cannot go below them).
"""

from __future__ import annotations

import argparse
import statistics
import time
from itertools import islice
from typing import Any

from bench import imports
from bench.databases import backends
from bench.invoice_file import invoice_file

ALL = "(every index)"
NONE = "(primary key only)"


def _indexes(sqlite: bool) -> list[tuple[str, str]]:
    """(name, statement that drops it) of every index and unique key of the table."""
    from sqlalchemy import UniqueConstraint

    from app.models import Invoice

    table = Invoice.__table__
    found = [(index.name, f"DROP INDEX {index.name}") for index in table.indexes]
    if not sqlite:
        found += [
            (c.name, f"ALTER TABLE invoices DROP CONSTRAINT {c.name}")
            for c in table.constraints
            if isinstance(c, UniqueConstraint)
        ]
    return sorted(found)


def _write(raw: Any, sqlite: bool, rows: list[tuple], drops: list[str]) -> float:
    """Seconds to write `rows` once `drops` ran; everything rolled back after."""
    from app.services.record_sql import WRITE_CACHE_KIB
    from importers.engine import BATCH_ROWS

    cursor = raw.cursor()
    try:
        if sqlite:
            cursor.execute(f"PRAGMA cache_size = -{WRITE_CACHE_KIB}")
            cursor.execute("BEGIN")
        for statement in drops:
            cursor.execute(statement)
        started = time.perf_counter()
        batches = iter(rows)
        while batch := list(islice(batches, BATCH_ROWS)):
            imports.write_raw(cursor, sqlite, batch)
        return time.perf_counter() - started
    finally:
        raw.rollback()
        cursor.close()


def measure(backend_name: str, size: int, repeat: int) -> dict[str, Any]:
    from app.extensions import db

    data = imports.ImportSet()
    backend = backends(backend_name, suffix="-imports")[0]
    if backend.skip_reason:
        raise SystemExit(f"{backend.name}: {backend.skip_reason}")
    tenant_id, _how = imports.prepare(backend, data, False)
    imports.clear(backend, tenant_id)
    job = {"file": str(invoice_file(size, data.accounts, data.seed)), "tenant_id": tenant_id}
    app = imports.make_app(backend.url)
    with app.app_context():
        run_id, profile_id = imports.stamping_run(job)
        sqlite = db.engine.dialect.name == "sqlite"
        indexes = _indexes(sqlite)
        variants = {
            ALL: [],
            **{name: [drop] for name, drop in indexes},
            NONE: [drop for _name, drop in indexes],
        }
        raw = db.engine.raw_connection()
        try:
            rows = list(imports.raw_rows(job, raw.cursor(), sqlite, run_id, profile_id))
            raw.rollback()
            _write(raw, sqlite, rows, [])  # untimed: the table's pages read once
            times: dict[str, list[float]] = {name: [] for name in variants}
            for _round in range(repeat):
                for name, drops in variants.items():
                    times[name].append(_write(raw, sqlite, rows, drops))
                    print(f"  {name}: {len(rows) / times[name][-1]:,.0f} rows/s", flush=True)
        finally:
            raw.close()
        imports._dispose()
    imports.clear(backend, tenant_id)
    medians = {name: statistics.median(found) for name, found in times.items()}
    return {"backend": backend.name, "rows": len(rows), "medians": medians, "times": times}


def table(result: dict[str, Any]) -> str:
    medians, rows = result["medians"], result["rows"]
    every = medians[ALL]
    head = f"{'without':<44} {'rows/s':>9} {'seconds':>8} {'share of the write':>19}"
    lines = [
        "",
        f"{result['backend']} — invoice table, {rows:,} new rows (median of each)",
        head,
        "-" * len(head),
    ]
    for name, seconds in medians.items():
        share = "" if name == ALL else f"{(every - seconds) / every:>18.0%}"
        lines.append(f"{name:<44} {rows / seconds:>9,.0f} {seconds:>8.2f} {share:>19}")
    lines.append("  share = time saved by dropping it / time of the write with every index")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.invoice_indexes", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(table(measure(args.backend, args.rows, args.repeat)))


if __name__ == "__main__":
    main()
