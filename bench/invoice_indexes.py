"""What each index of the invoice table costs a first import.

`python -m bench.invoice_indexes [--backend sqlite|postgresql] [--rows N] [--repeat N]`, on
the import benchmark's tenant (bench/imports.py, prepared when missing): the first N rows of
its invoice file, as the import writes them (bench/imports.py `raw_rows`), written into the
invoice table with every index, then without each index in turn, then without any but the
primary key: executemany (SQLite) or COPY (PostgreSQL) in batches of the engine's size, in
one transaction that drops the index first and is rolled back after (then, on PostgreSQL,
VACUUM), so the table is left as it was. Only the writes are timed, after an untimed one
that reads the table's pages; the variants take turns, `--repeat` rounds, and each one's
median is compared with the median of all indexes in the same run. Compared in CPU time
(this process's and, on PostgreSQL, its server process's), which other work on the machine
disturbs far less than the wall-clock time, also shown.

The unique keys (tenant and external reference, tenant and number) are table constraints:
PostgreSQL drops them like an index, SQLite cannot (there, "primary key only" keeps them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from itertools import islice
from pathlib import Path
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


def _cpu_clock(raw: Any, sqlite: bool) -> Any:
    """CPU seconds spent writing, the machine's other work left out: this process's, and on
    PostgreSQL its server process's too (read from /proc: the server runs on this machine)."""
    if sqlite:
        return time.process_time
    cursor = raw.cursor()
    cursor.execute("SELECT pg_backend_pid()")
    stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")
    cursor.close()
    raw.rollback()
    tick = os.sysconf("SC_CLK_TCK")

    def seconds() -> float:
        # utime and stime, after the process name (which may hold spaces)
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return time.process_time() + (int(fields[11]) + int(fields[12])) / tick

    return seconds


def _write(raw: Any, sqlite: bool, rows: list[tuple], drops: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall-clock seconds) to write `rows` once `drops` ran; everything rolled
    back after."""
    from app.services.record_sql import WRITE_CACHE_KIB
    from importers.engine import BATCH_ROWS

    clock = _cpu_clock(raw, sqlite)
    cursor = raw.cursor()
    try:
        if sqlite:
            cursor.execute(f"PRAGMA cache_size = -{WRITE_CACHE_KIB}")
            cursor.execute("BEGIN")
        for statement in drops:
            cursor.execute(statement)
        cpu, started = clock(), time.perf_counter()
        batches = iter(rows)
        while batch := list(islice(batches, BATCH_ROWS)):
            imports.write_raw(cursor, sqlite, batch)
        return clock() - cpu, time.perf_counter() - started
    finally:
        raw.rollback()
        cursor.close()
        if not sqlite:  # the rolled-back rows and index entries go, or each write pays more
            driver = raw.driver_connection
            driver.autocommit = True
            try:
                driver.execute("VACUUM invoices")
            finally:
                driver.autocommit = False


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
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
            names = list(variants)
            for turn in range(repeat):  # each round starts with another variant
                for name in names[turn % len(names) :] + names[: turn % len(names)]:
                    drops = variants[name]
                    times[name].append(_write(raw, sqlite, rows, drops))
                    cpu, wall = times[name][-1]
                    print(f"  {name}: {cpu:.2f} s CPU, {wall:.2f} s", flush=True)
        finally:
            raw.close()
        imports._dispose()
    imports.clear(backend, tenant_id)
    medians = {
        name: (
            statistics.median(cpu for cpu, _wall in found),
            statistics.median(wall for _cpu, wall in found),
        )
        for name, found in times.items()
    }
    return {"backend": backend.name, "rows": len(rows), "medians": medians, "times": times}


def table(result: dict[str, Any]) -> str:
    medians, rows = result["medians"], result["rows"]
    every = medians[ALL][0]
    head = f"{'without':<40} {'CPU s':>7} {'wall s':>7} {'CPU share of the write':>23}"
    lines = [
        "",
        f"{result['backend']} — invoice table, {rows:,} new rows (median of each)",
        head,
        "-" * len(head),
    ]
    for name, (cpu, wall) in medians.items():
        share = "" if name == ALL else f"{(every - cpu) / every:>22.0%}"
        lines.append(f"{name:<40} {cpu:>7.2f} {wall:>7.2f} {share:>23}")
    lines.append(
        "  share = CPU time saved by dropping it / CPU time of the write with every "
        "index (this process and, on PostgreSQL, its server process)"
    )
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
