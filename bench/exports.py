"""The export benchmark: 1,000,000 invoices written to a file by a scheduled export.

`python -m bench --suite exports`. Per backend, on the pages' tenant (1,000,000 invoices,
100,000 accounts): an export of every invoice with the columns an accounting export carries
(number, dates, status, the customer's code through a join, the three amounts), as the CSV
`;` Windows-1252 file French accounting software reads, run by the export engine as the job
runs it (importers/export_runs.py: read by id in pages, cells formatted, file kept, run
recorded). Then the same export as XLSX.

The database's own ceiling is measured in the same run, on the same rows and columns: on
PostgreSQL `COPY (SELECT … JOIN …) TO STDOUT (FORMAT csv)` into a file, on SQLite the same
SELECT written with Python's csv module (SQLite has no COPY); before the exports and again
after them, the ratios taken against the better of the two (the first may read the tables
from disk). The target is a CSV export at
half that pace or better. Memory: the process's resident size is sampled every 20 ms during
the export; the figure is its peak above the size before the export (flat: it does not grow
with the rows).

CPU time, beside the wall clock (on a shared machine the clock counts the time spent waiting
for a CPU): this process's own, plus, on PostgreSQL when the server runs on this machine, that
of the server processes serving the bench's connections (/proc/<pid>/stat; none otherwise).
The ratio of CPU times says how much more work the export does than the raw copy, whatever
the load.
"""

from __future__ import annotations

import csv
import os
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import delete, event

from app.extensions import db
from app.models import Export, ExportRun
from app.services.exports import create_export, start_run
from app.tenancy import SYSTEM, tenant_context
from bench import RESULTS_DIR
from bench.generate import bench_tenant
from importers.export_runs import run_export, run_file_path

COLUMNS = [
    "number",
    "issued_on",
    "due_on",
    "status",
    "account.external_ref",
    "total_excl_tax",
    "tax_total",
    "total",
]
RAW_SELECT = (
    "SELECT i.number, i.issued_on, i.due_on, i.status, a.external_ref, "
    "i.total_excl_tax, i.tax_total, i.total FROM invoices i "
    "LEFT JOIN accounts a ON a.id = i.account_id "
    "WHERE i.tenant_id = {tenant} AND i.archived_at IS NULL ORDER BY i.id"
)
TARGET_RATIO = 0.5


class RssPeak:
    """The resident size's peak above its start, sampled by a thread."""

    def __init__(self) -> None:
        self.start = self.peak = _rss()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, _rss())
            time.sleep(0.02)

    def __enter__(self) -> RssPeak:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 1024 / 1024


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class CpuTime:
    """CPU seconds of this process and of the PostgreSQL server processes behind the
    engine's connections (their pids recorded as they connect), between enter and exit."""

    def __init__(self, backends: dict[int, None] | None) -> None:
        self.backends = backends
        self.client = 0.0
        self.server: float | None = None

    def __enter__(self) -> CpuTime:
        self.started = time.process_time()
        self.before = _server_cpu(self.backends)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client = time.process_time() - self.started
        after = _server_cpu(self.backends)
        if self.before is not None and after is not None:
            self.server = sum(after[pid] - self.before.get(pid, 0.0) for pid in after)

    @property
    def total(self) -> float:
        return self.client + (self.server or 0.0)

    def as_json(self) -> dict[str, Any]:
        return {
            "cpu_client_s": round(self.client, 2),
            "cpu_server_s": None if self.server is None else round(self.server, 2),
        }


def _server_cpu(pids: dict[int, None] | None) -> dict[int, float] | None:
    """utime + stime of each server process, None when they cannot be read (a remote server,
    or SQLite: no server)."""
    if not pids:
        return None
    found = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in list(pids):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # not on this machine, or its connection closed
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return found or None


def watch_backends() -> dict[int, None] | None:
    """The server pids of the engine's connections from now on (PostgreSQL on this machine)."""
    if db.engine.dialect.name != "postgresql":
        return None
    pids: dict[int, None] = {}

    def record(dbapi_connection: Any, _record: Any) -> None:
        pids[dbapi_connection.info.backend_pid] = None

    event.listen(db.engine, "connect", record)
    db.engine.dispose()  # every connection from here on is a new one, recorded
    return pids


def run(app: Flask, formats: list[str] | None = None) -> dict[str, Any]:
    """The export's and the raw copy's rows per second on this backend."""
    with app.app_context():
        tenant = bench_tenant()
        tenant_id = tenant.id
        backends = watch_backends()
        first = _raw(tenant_id, backends)
        passes = {}
        for fmt in formats or ("csv_cp1252", "xlsx"):
            passes[fmt] = _export(tenant_id, fmt, backends)
        # Again after the exports: the first copy may have read the tables from disk (a cold
        # server), and the load moves. Each ratio is taken against the better of the two.
        again = _raw(tenant_id, backends)
        raw = {
            **max(first, again, key=lambda r: r["rows_per_s"]),
            "cpu_s": min(first["cpu_s"], again["cpu_s"]),
            "runs": [first, again],
        }
        for found in passes.values():
            found["ratio_to_raw"] = round(found["rows_per_s"] / raw["rows_per_s"], 3)
            # The raw copy's CPU seconds over the export's, per row (both read the same rows).
            found["cpu_ratio_to_raw"] = round(
                raw["cpu_s"] / raw["rows"] / (found["cpu_s"] / found["rows"]), 3
            )
        if "csv_cp1252" in passes:
            csv_pass = passes["csv_cp1252"]
            csv_pass["meets_target"] = csv_pass["ratio_to_raw"] >= TARGET_RATIO
        db.session.remove()
    return {"raw": raw, "exports": passes, "target_ratio": TARGET_RATIO}


def _export(tenant_id: int, fmt: str, backends: dict[int, None] | None) -> dict[str, Any]:
    with tenant_context(tenant_id, SYSTEM):
        db.session.execute(delete(Export).where(Export.name == f"bench-{fmt}"))
        export = create_export(
            {"name": f"bench-{fmt}", "entity": "invoices", "columns": COLUMNS, "format": fmt}
        )
        queued = start_run(export, "cli")
        db.session.commit()
        run_id = queued.id
    db.session.remove()
    with RssPeak() as memory, CpuTime(backends) as cpu:
        started = time.perf_counter()
        done = run_export(run_id, tenant_id)
        seconds = time.perf_counter() - started
    with tenant_context(tenant_id, SYSTEM):
        done = db.session.get(ExportRun, run_id)
        size = run_file_path(done).stat().st_size
        result = {
            "status": done.status,
            "rows": done.rows,
            "seconds": round(seconds, 2),
            "rows_per_s": round(done.rows / seconds),
            "file_mb": round(size / 1e6, 1),
            "rss_growth_mb": round(memory.growth_mb, 1),
            "cpu_s": round(cpu.total, 2),
            **cpu.as_json(),
        }
        run_file_path(done).unlink()
        db.session.execute(delete(Export).where(Export.name == f"bench-{fmt}"))
        db.session.commit()
    return result


def _raw(tenant_id: int, backends: dict[int, None] | None) -> dict[str, Any]:
    """The same rows and columns straight from the database into a CSV file."""
    target = RESULTS_DIR / "raw-export.csv"
    sql = RAW_SELECT.format(tenant=int(tenant_id))
    connection = db.engine.raw_connection()
    try:
        with RssPeak() as memory, CpuTime(backends) as cpu:
            started = time.perf_counter()
            if db.engine.dialect.name == "postgresql":
                rows = _copy_postgres(connection, sql, target)
            else:
                rows = _copy_sqlite(connection, sql, target)
            seconds = time.perf_counter() - started
    finally:
        connection.close()
    target.unlink(missing_ok=True)
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "rss_growth_mb": round(memory.growth_mb, 1),
        "cpu_s": round(cpu.total, 2),
        **cpu.as_json(),
        "how": "COPY … TO STDOUT"
        if db.engine.dialect.name == "postgresql"
        else "SELECT + csv.writer",
    }


def _copy_postgres(connection: Any, sql: str, target: Path) -> int:
    cursor = connection.cursor()
    lines = 0
    with (
        target.open("wb") as out,
        cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, DELIMITER ';')") as copy,
    ):
        for chunk in copy:
            out.write(chunk)
            lines += bytes(chunk).count(b"\n")
    connection.commit()
    return lines


def _copy_sqlite(connection: Any, sql: str, target: Path) -> int:
    cursor = connection.cursor()
    cursor.execute(sql)
    rows = 0
    with target.open("w", newline="", encoding="cp1252", errors="replace") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        while batch := cursor.fetchmany(5000):
            writer.writerows(batch)
            rows += len(batch)
    return rows


def table(name: str, result: dict[str, Any]) -> str:
    raw = result["raw"]
    lines = [
        f"  raw ({one['how']}, {when}): {one['rows']:,} rows in {one['seconds']} s = "
        f"{one['rows_per_s']:,} rows/s, {_cpu(one)}"
        for when, one in zip(("first", "after the exports"), raw["runs"], strict=True)
    ]
    lines.append(
        f"  raw, the better of the two: {raw['rows_per_s']:,} rows/s, CPU {raw['cpu_s']} s"
    )
    for fmt, found in result["exports"].items():
        lines.append(
            f"  export {fmt}: {found['rows']:,} rows in {found['seconds']} s = "
            f"{found['rows_per_s']:,} rows/s, {found['ratio_to_raw']}x raw, "
            f"{_cpu(found)} ({found['cpu_ratio_to_raw']}x raw's per row), "
            f"file {found['file_mb']} MB, RSS +{found['rss_growth_mb']} MB"
            + (
                f" (target >= {result['target_ratio']}x: "
                f"{'met' if found['meets_target'] else 'MISSED'})"
                if "meets_target" in found
                else ""
            )
        )
    return f"{name}:\n" + "\n".join(lines)


def _cpu(found: dict[str, Any]) -> str:
    server = found["cpu_server_s"]
    return f"CPU {found['cpu_client_s']} s here" + (
        "" if server is None else f" + {server} s server = {found['cpu_s']} s"
    )
