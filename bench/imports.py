"""The import benchmark: a million-row invoice feed through the import engine, against a raw load.

`python -m bench --suite imports` (or `all`). For each backend and file size: a raw baseline (the
same rows parsed with the csv module and loaded with executemany / COPY into the same table, no
validation), the first import (upsert into a tenant without these invoices), then the same file
again (forced): every row comes back unchanged, recognised by its fingerprint
(importers/fingerprints.py); then the same file with 1 % of its rows changed (their
`Promoteur`). Both re-imports are also given as a share of `csv.reader` merely reading the same
file in the same run (`read`). Last, a first import of the file with one row in 10,000
giving the number of the row before it (each batch refused once by the number's unique key),
against the clean first import. Each measurement runs in a child process, so its peak RSS
(VmHWM) is its own. The import tenant (100,000 accounts, the `promoteur` custom field,
the profile) lives in its own databases, relais-bench-imports.sqlite and relais_bench_imports.
"""
from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, inspect, select, text

from bench import RESULTS_DIR
from bench.databases import Backend, ServerCPU, as_app_role, create_if_missing, reset
from bench.invoice_file import HEADER, PROFILE, STATUS_FR, invoice_file

TENANT_SLUG = "bench-imports"
ACTOR_LABEL = "cli:bench-imports"
TARGETS = {"first_rows_per_s": 100_000, "reimport_rows_per_s": 300_000,
           "changed_rows_per_s": 200_000, "baseline_ratio": 0.5, "peak_rss_mb": 300,
           "twice_x_first": 0.5}
CHANGED_EVERY = 100  # one row in a hundred changed: the 1 % file
TWICE_EVERY = 10_000  # one row in ten thousand gives the number of the row before it


@dataclass(frozen=True)
class ImportSet:
    accounts: int = 100_000
    partners: int = 200
    seed: int = 2026

    @property
    def tenant_name(self) -> str:
        return f"Relais import bench v1, seed {self.seed}, {self.accounts} accounts"


def make_app(url: str) -> Flask:
    """The app as wsgi.py builds it for every real process (the CLI, gunicorn, the jobs
    worker): its start-up objects left out of the garbage collector's scans (gc.freeze).
    Without it, a measured child paid the full collections that its fresh start-up heap
    brings on (0.1 to 0.25 s of CPU a run, two full scans of 160,000–240,000 objects),
    which no worker pays for each run."""
    import gc

    from app import create_app

    gc.disable()
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "relais-bench",
        "WTF_CSRF_ENABLED": False, "RATELIMIT_STORAGE_URI": "memory://",
        "FILES_DIR": str(RESULTS_DIR / "files"),
    })
    gc.freeze()
    gc.enable()
    return app


# -- the import tenant ------------------------------------------------------------------------

def prepare(backend: Backend, data: ImportSet, regenerate: bool) -> tuple[int, str]:
    """The import tenant's id, made when missing; and whether it was cached."""
    create_if_missing(backend)
    app = make_app(backend.url)
    if not regenerate:
        with app.app_context():
            tenant_id = _held(data)
            if tenant_id is not None:
                _dispose()
                return tenant_id, "cached"
            _dispose()  # before the file is deleted under it
    reset(backend)
    started = time.perf_counter()
    with app.app_context():
        from bench.generate import analyze, upgrade_schema

        upgrade_schema()
        tenant_id = _generate(data)
        analyze()
        _dispose()
    return tenant_id, f"generated in {time.perf_counter() - started:.0f} s"


def _dispose() -> None:
    from app.extensions import db

    db.session.remove()
    db.engine.dispose()


def _held(data: ImportSet) -> int | None:
    from app.extensions import db
    from app.models import Account, Tenant
    from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context

    if not inspect(db.engine).has_table("alembic_version"):
        return None
    from bench.generate import upgrade_schema

    upgrade_schema()  # the models are read below: the schema must be theirs
    with all_tenants_unsafe("bench"):
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == TENANT_SLUG))
    if tenant is None or tenant.name != data.tenant_name:
        return None
    with tenant_context(tenant.id, SYSTEM):
        accounts = db.session.scalar(select(func.count(Account.id)))
    return tenant.id if accounts == data.accounts else None


def _generate(data: ImportSet) -> int:
    import random

    from app.extensions import db
    from app.services import feeds
    from app.services.custom_field_defs import create_field
    from app.services.tenants import create_tenant
    from app.tenancy import Actor, tenant_context
    from bench import generate

    tenant = create_tenant(TENANT_SLUG, data.tenant_name)
    db.session.flush()
    tenant_id = tenant.id
    with tenant_context(tenant_id, Actor("cli", None, ACTOR_LABEL)):
        create_field({"entity": "invoices", "key": "promoteur", "label_fr": "Promoteur",
                      "label_en": "Property developer", "type": "text", "position": 1})
        feeds.create_profile(PROFILE)
    db.session.commit()
    db.session.remove()
    rng = random.Random(data.seed)
    sqlite = db.engine.dialect.name == "sqlite"
    stamp = generate._sqlite_stamp if sqlite else generate._postgres_stamp
    load = generate._sqlite_load if sqlite else generate._postgres_load
    dataset = generate.Dataset(partners=data.partners, accounts=data.accounts, invoices=0,
                               seed=data.seed)
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        load(cursor, "partners", generate._PARTNER_COLUMNS,
             generate._partners(rng, dataset, tenant_id, stamp))
        partner_ids = [row[0] for row in generate._rows(cursor, "partners", "id", tenant_id)]
        load(cursor, "accounts", generate._ACCOUNT_COLUMNS,
             generate._accounts(rng, dataset, tenant_id, stamp, partner_ids, [None]))
        raw.commit()
    finally:
        raw.close()
    return tenant_id


def clear(backend: Backend, tenant_id: int) -> float:
    """Remove what earlier measurements wrote: invoices, runs, their errors and audit events."""
    started = time.perf_counter()
    app = make_app(backend.url)
    with app.app_context():
        from app.extensions import db

        with db.engine.begin() as conn:
            for statement in (
                "UPDATE import_profiles SET locked_by_run_id = NULL WHERE tenant_id = :t",
                "DELETE FROM invoices WHERE tenant_id = :t",
                "DELETE FROM import_row_errors WHERE tenant_id = :t",
                "DELETE FROM import_runs WHERE tenant_id = :t",
                "DELETE FROM audit_events WHERE tenant_id = :t AND entity IN "
                "('invoices', 'import_runs')",
            ):
                conn.execute(text(statement), {"t": tenant_id})
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("VACUUM ANALYZE invoices, audit_events, import_runs"))
                conn.execute(text("CHECKPOINT"))
            else:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        _dispose()
    stored = RESULTS_DIR / "files" / "imports" / str(tenant_id)
    if stored.exists():
        for path in stored.iterdir():
            path.unlink()
    return time.perf_counter() - started


# -- measurements, each in a child process ------------------------------------------------------

def _memory() -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process, in kB (Linux)."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                found[name] = int(value.split()[0])
    return found


def child(job: dict[str, Any]) -> dict[str, Any]:
    from bench.__main__ import _cpu_times, _idle_share

    app = make_app(job["url"])
    with app.app_context():
        before, cpu = _memory(), _cpu_times()
        result = {"raw": _raw_load, "read": _csv_read}.get(job["kind"], _import)(job)
        after, idle = _memory(), _idle_share(cpu, _cpu_times())
    used = resource.getrusage(resource.RUSAGE_SELF)
    return result | {"rss_before_kb": before["VmRSS"], "peak_rss_kb": after["VmHWM"],
                     "cpu_idle_share": None if idle is None else round(idle, 3),
                     "process_cpu_seconds": round(used.ru_utime + used.ru_stime, 2)}


def _import(job: dict[str, Any]) -> dict[str, Any]:
    from app.extensions import db
    from app.queries.feeds import find_profile
    from app.services import feeds
    from app.tenancy import Actor, tenant_context
    from importers import runs

    path, tenant_id = Path(job["file"]), job["tenant_id"]
    started = time.perf_counter()
    with tenant_context(tenant_id, Actor("cli", None, ACTOR_LABEL)):
        profile = find_profile(job.get("profile", PROFILE["name"]))
        with path.open("rb") as stream:
            run = feeds.create_run(profile, stream, path.name, source="cli",
                                   force=job["force"])
        db.session.commit()
        actor = runs.feed_actor(run)  # reads the run: in its tenant (row-level security)
    stored = time.perf_counter() - started
    with tenant_context(tenant_id, actor):
        if not runs.claim(run):
            raise RuntimeError("the profile is locked by another run")
        watch = db.engine.raw_connection()  # its own: the run's transactions are left alone
        server = ServerCPU(watch.driver_connection)
        started, cpu = time.perf_counter(), time.process_time()
        try:
            run = runs.execute_run(run)
        finally:
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            runs.release(run)
        server_cpu = server.seconds()
        watch.close()
        feeds.run_file_path(run).unlink(missing_ok=True)
        # getattr: the same harness measures code from before fingerprints too
        return {"seconds": seconds, "store_seconds": stored, "rows": run.rows_done,
                "cpu_seconds": cpu, "server_cpu_seconds": server_cpu,
                "status": run.status, "message": run.message, **run.counts,
                "fingerprinted": getattr(run, "fingerprinted", 0)}


def _csv_read(job: dict[str, Any]) -> dict[str, Any]:
    """The floor of any import of the file: csv.reader reading it, every row a list of cells."""
    started, cpu = time.perf_counter(), time.process_time()
    count = 0
    with open(job["file"], encoding="cp1252", newline="") as source:
        for _cells in csv.reader(source, delimiter=";"):
            count += 1
    return {"seconds": time.perf_counter() - started, "rows": count - 1,
            "cpu_seconds": time.process_time() - cpu}


def changed_file(path: Path) -> Path:
    """The file with one row in CHANGED_EVERY changed (its developer), made when missing."""
    changed = path.with_name(f"{path.stem}-changed{CHANGED_EVERY}{path.suffix}")
    if changed.exists():
        return changed
    partial = changed.with_suffix(".part")
    with path.open(encoding="cp1252", newline="") as source, \
            partial.open("w", encoding="cp1252", newline="") as out:
        for number, line in enumerate(source):
            if number and number % CHANGED_EVERY == 0:
                line = line.rstrip("\r\n").rsplit(";", 1)[0] + ";Promoteur changé\r\n"
            out.write(line)
    partial.rename(changed)
    return changed


def twice_file(path: Path) -> Path:
    """The file with one row in TWICE_EVERY (from row 5,000) giving the number of the row
    before it, as an office's export does after a typing mistake, made when missing."""
    twice = path.with_name(f"{path.stem}-twice{TWICE_EVERY}{path.suffix}")
    if twice.exists():
        return twice
    partial = twice.with_suffix(".part")
    number = ""
    with path.open(encoding="cp1252", newline="") as source, \
            partial.open("w", encoding="cp1252", newline="") as out:
        for at, line in enumerate(source):
            if at and at % TWICE_EVERY == TWICE_EVERY // 2:
                line = number + line[line.index(";"):]
            number = line[:line.index(";")]
            out.write(line)
    partial.rename(twice)
    return twice


RAW_COLUMNS = ("tenant_id", "external_ref", "custom", "created_at", "updated_at", "number",
               "account_id", "partner_id", "issued_on", "due_on", "status", "total_excl_tax",
               "tax_total", "total", "amount_paid", "currency", "search_text",
               "import_run_id", "import_profile_id")


def stamping_run(job: dict[str, Any]) -> tuple[int, int]:
    """A run of the profile on the file, made (and committed) for raw rows to carry as the
    import's rows carry theirs: (run id, profile id)."""
    from app.extensions import db
    from app.queries.feeds import find_profile
    from app.services import feeds
    from app.tenancy import Actor, tenant_context

    path = Path(job["file"])
    with tenant_context(job["tenant_id"], Actor("cli", None, ACTOR_LABEL)):
        profile = find_profile(PROFILE["name"])
        with path.open("rb") as stream:
            run = feeds.create_run(profile, stream, path.name, source="cli", force=True)
        run_id, profile_id = run.id, profile.id
        db.session.commit()
        feeds.run_file_path(run).unlink(missing_ok=True)
        db.session.remove()
    return run_id, profile_id


def raw_rows(job: dict[str, Any], cursor: Any, sqlite: bool, run_id: int, profile_id: int
             ) -> Iterator[tuple]:
    """The file's rows as the import writes them (RAW_COLUMNS), parsed by csv.reader with
    no validation: customers read at once, dates and amounts rewritten as text."""
    from app.entities import ENTITIES
    from app.search_text import search_text

    tenant_id = job["tenant_id"]
    invoices = ENTITIES["invoices"]
    statuses = {label: code for code, label in STATUS_FR.items()}
    cursor.execute(f"SELECT external_ref, id, partner_id FROM accounts "
                   f"WHERE tenant_id = {int(tenant_id)}")
    accounts = {ref: (account_id, partner_id) for ref, account_id, partner_id in cursor}
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if not sqlite:
        now += "+00:00"

    def day(text: str) -> str | None:
        return f"{text[6:]}-{text[3:5]}-{text[:2]}" if text else None

    def money(text: str) -> str:
        return text.replace(" ", "").replace("\u00a0", "").replace(",", ".")

    with open(job["file"], encoding="cp1252", newline="") as source:
        reader = csv.reader(source, delimiter=";")
        if tuple(next(reader)) != HEADER:
            raise RuntimeError("unexpected header")
        for c in reader:
            yield (tenant_id, c[1], json.dumps({"promoteur": c[11]}) if c[11] else "{}",
                   now, now, c[0], *accounts[c[2]], day(c[3]), day(c[4]), statuses[c[5]],
                   money(c[6]), money(c[7]), money(c[8]), money(c[9]), c[10],
                   search_text(invoices, {"number": c[0], "external_ref": c[1]}),
                   run_id, profile_id)


def write_raw(cursor: Any, sqlite: bool, rows: list[tuple]) -> None:
    """Rows of RAW_COLUMNS into the invoice table: executemany, or COPY straight into it."""
    names = ", ".join(RAW_COLUMNS)
    if sqlite:
        marks = ", ".join("?" for _ in RAW_COLUMNS)
        cursor.executemany(f"INSERT INTO invoices ({names}) VALUES ({marks})", rows)
        return
    with cursor.copy(f"COPY invoices ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _raw_load(job: dict[str, Any]) -> dict[str, Any]:
    """csv.reader, then executemany (SQLite) or COPY (PostgreSQL): the least a load can do.

    The same rows as the import writes (the same columns and values: the search text, the
    run and profile that created them), into the same table and indexes, committed every
    BATCH_ROWS as the import commits each batch; on SQLite with the page cache the engine
    takes while it writes (the connection's default 2 MB makes both half as fast: compare
    loads, not cache sizes). The run that stamps the rows is made first, untimed."""
    from app.extensions import db
    from app.services.record_sql import WRITE_CACHE_KIB
    from importers.engine import BATCH_ROWS

    run_id, profile_id = stamping_run(job)
    raw = db.engine.raw_connection()
    sqlite = db.engine.dialect.name == "sqlite"
    watch = db.engine.raw_connection()
    server = ServerCPU(watch.driver_connection)
    started, cpu = time.perf_counter(), time.process_time()
    try:
        cursor = raw.cursor()
        if sqlite:
            cursor.execute(f"PRAGMA cache_size = -{WRITE_CACHE_KIB}")
        rows = raw_rows(job, cursor, sqlite, run_id, profile_id)
        count = 0
        while batch := list(islice(rows, BATCH_ROWS)):
            write_raw(cursor, sqlite, batch)
            raw.commit()
            count += len(batch)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        server_cpu = server.seconds()
    finally:
        raw.close()
        watch.close()
    return {"seconds": seconds, "rows": count, "cpu_seconds": cpu,
            "server_cpu_seconds": server_cpu}


def _spawn(job: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-m", "bench.imports", json.dumps(job)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{job['kind']} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the run ------------------------------------------------------------------------------------

def measure(backend: Backend, tenant_id: int, sizes: list[int], data: ImportSet,
            log: Any = print) -> list[dict[str, Any]]:
    results = []
    for size in sizes:
        path = invoice_file(size, data.accounts, data.seed)
        job = {"url": backend.url, "file": str(path), "tenant_id": tenant_id}
        log(f"  {size:,} rows ({path.stat().st_size / 2**20:.0f} MB): raw load ...", flush=True)
        clear(backend, tenant_id)
        raw = _spawn(job | {"kind": "raw"})  # as the owner: row-level security refuses COPY
        clear(backend, tenant_id)
        log(f"    raw {raw['rows'] / raw['seconds']:,.0f} rows/s; first import ...", flush=True)
        job["url"] = backend.measured_url
        first = _spawn(job | {"kind": "import", "force": False})
        log(f"    first {first['rows'] / first['seconds']:,.0f} rows/s ({first['status']}); "
            "unchanged re-import ...", flush=True)
        read = _spawn(job | {"kind": "read"})
        again = _spawn(job | {"kind": "import", "force": True})
        log(f"    again {again['rows'] / again['seconds']:,.0f} rows/s ({again['status']}, "
            f"{again['fingerprinted']:,} by fingerprint); csv.reader "
            f"{read['rows'] / read['seconds']:,.0f} rows/s; 1 % changed ...", flush=True)
        changed = _spawn(job | {"kind": "import", "force": True,
                                "file": str(changed_file(path))})
        log(f"    changed {changed['rows'] / changed['seconds']:,.0f} rows/s "
            f"({changed['status']}, {changed['updated']:,} updated)", flush=True)
        clear(backend, tenant_id)
        twice = _spawn(job | {"kind": "import", "force": False,
                              "file": str(twice_file(path))})
        log(f"    numbers used twice, first import {twice['rows'] / twice['seconds']:,.0f} "
            f"rows/s ({twice['status']}, {twice['failed']:,} failed)", flush=True)
        results.append({"rows": size, "file": path.name, "file_bytes": path.stat().st_size,
                        "raw": raw, "first": first, "read": read, "reimport": again,
                        "changed": changed, "twice": twice})
    return results


def verdicts(result: dict[str, Any]) -> dict[str, Any]:
    raw, first, again = result["raw"], result["first"], result["reimport"]
    read, changed, rows = result["read"], result["changed"], result["rows"]
    raw_rate = raw["rows"] / raw["seconds"]
    first_rate = first["rows"] / first["seconds"]
    again_rate = again["rows"] / again["seconds"]
    read_rate = read["rows"] / read["seconds"]
    changed_rate = changed["rows"] / changed["seconds"]
    peak = max(first["peak_rss_kb"], again["peak_rss_kb"], changed["peak_rss_kb"]) / 1024
    twice = result.get("twice")
    twice_rate = twice["rows"] / twice["seconds"] if twice else None
    cpu = [None if m.get("cpu_seconds") is None else
           m["cpu_seconds"] + (m.get("server_cpu_seconds") or 0) for m in (raw, first)]
    known = None not in cpu and (raw.get("server_cpu_seconds") is None) == (
        first.get("server_cpu_seconds") is None)
    return {
        "baseline_cpu_ratio": round(cpu[0] / cpu[1], 3) if known else None,
        "raw_rows_per_s": round(raw_rate), "first_rows_per_s": round(first_rate),
        "reimport_rows_per_s": round(again_rate), "baseline_ratio": round(first_rate / raw_rate, 3),
        "read_rows_per_s": round(read_rate), "changed_rows_per_s": round(changed_rate),
        "reimport_x_read": round(again_rate / read_rate, 3),
        "changed_x_read": round(changed_rate / read_rate, 3),
        "peak_rss_mb": round(peak, 1),
        "twice_rows_per_s": None if twice is None else round(twice_rate),
        "twice_x_first": None if twice is None else round(twice_rate / first_rate, 3),
        "twice_ok": twice is None or (twice["failed"] == rows // TWICE_EVERY
                                      and twice["created"] == rows - rows // TWICE_EVERY),
        "first_ok": first["created"] == rows and first["failed"] == 0,
        "reimport_ok": again["unchanged"] == rows and again["fingerprinted"] == rows
        and again["failed"] == 0,
        "changed_ok": changed["updated"] == rows // CHANGED_EVERY and changed["failed"] == 0
        and changed["unchanged"] == rows - rows // CHANGED_EVERY,
        "meets": {
            "first_rows_per_s": first_rate >= TARGETS["first_rows_per_s"],
            "reimport_rows_per_s": again_rate >= TARGETS["reimport_rows_per_s"],
            "changed_rows_per_s": changed_rate >= TARGETS["changed_rows_per_s"],
            "baseline_ratio": first_rate / raw_rate >= TARGETS["baseline_ratio"],
            "peak_rss_mb": peak < TARGETS["peak_rss_mb"],
            "twice_x_first": twice is None or twice_rate / first_rate >= TARGETS["twice_x_first"],
        },
    }


def table(name: str, results: list[dict[str, Any]]) -> str:
    head = (f"{'rows':>9} {'raw rows/s':>11} {'first rows/s':>12} {'x raw':>6} {'CPU':>5} "
            f"{'read rows/s':>11} {'again rows/s':>12} {'x read':>6} {'1% rows/s':>10} "
            f"{'x read':>6} {'peak RSS MB':>11}  counts (first / again / 1 %)")
    lines = ["", f"{name} — import benchmark (targets: first ≥ "
             f"{TARGETS['first_rows_per_s']:,}/s, again ≥ {TARGETS['reimport_rows_per_s']:,}/s, "
             f"1 % changed ≥ {TARGETS['changed_rows_per_s']:,}/s, "
             f"≥ {TARGETS['baseline_ratio']} x raw, peak RSS < {TARGETS['peak_rss_mb']} MB)",
             head, "-" * len(head)]
    for result in results:
        v = result["verdicts"]
        mark = {k: "" if ok else "!" for k, ok in v["meets"].items()}
        first, again, changed = result["first"], result["reimport"], result["changed"]
        cpu_ratio = "" if v.get("baseline_cpu_ratio") is None else f"{v['baseline_cpu_ratio']:.2f}"
        lines.append(
            f"{result['rows']:>9,} {v['raw_rows_per_s']:>11,} "
            f"{v['first_rows_per_s']:>11,}{mark['first_rows_per_s']:1} "
            f"{v['baseline_ratio']:>5.2f}{mark['baseline_ratio']:1} "
            f"{cpu_ratio:>5} "
            f"{v['read_rows_per_s']:>11,} "
            f"{v['reimport_rows_per_s']:>11,}{mark['reimport_rows_per_s']:1} "
            f"{v['reimport_x_read']:>6.2f} "
            f"{v['changed_rows_per_s']:>9,}{mark['changed_rows_per_s']:1} "
            f"{v['changed_x_read']:>6.2f} "
            f"{v['peak_rss_mb']:>10.0f}{mark['peak_rss_mb']:1}  "
            f"created {first['created']:,} failed {first['failed']:,} / "
            f"unchanged {again['unchanged']:,} (fingerprint {again['fingerprinted']:,}) "
            f"failed {again['failed']:,} / updated {changed['updated']:,} "
            f"failed {changed['failed']:,}")
    for result in results:
        v = result["verdicts"]
        if v.get("twice_x_first") is not None:
            lines.append(
                f"{result['rows']:>9,} numbers used twice (one row in {TWICE_EVERY:,} gives "
                f"the number of the row before): first import {v['twice_rows_per_s']:,} "
                f"rows/s, {v['twice_x_first']:.2f} x the clean one"
                f"{'' if v['meets']['twice_x_first'] else '!'} (≥ {TARGETS['twice_x_first']}; "
                f"failed {result['twice']['failed']:,})")
    lines.append("  ! = target missed; rows/s = rows / time of execute_run (the file already "
                 "stored); read = csv.reader reading the file, same run; peak RSS = VmHWM of "
                 "the child process")
    lines.append("  CPU = the raw load's CPU time / the first import's (the measured process's "
                 "and, on PostgreSQL, the database's server processes'): x raw, undisturbed by "
                 "other work")
    busy = [f"{r['rows']:,} {kind} ({r[kind]['cpu_idle_share']:.0%} idle)" for r in results
            for kind in ("raw", "first", "reimport", "changed")
            if r[kind].get("cpu_idle_share") is not None and r[kind]["cpu_idle_share"] < 0.25]
    if busy:
        lines.append("  note: the CPUs were busy with other processes during "
                     f"{', '.join(busy)}: those figures are pessimistic.")
    return "\n".join(lines)


def run_suite(backends: list[Backend], sizes: list[int], regenerate: bool,
              app_role: str = "") -> dict[str, Any]:
    """Measure every backend; print a table each; the JSON report's part."""
    data = ImportSet()
    report: dict[str, Any] = {"targets": TARGETS, "accounts": data.accounts, "sizes": sizes,
                              "backends": {}}
    for backend in backends:
        if backend.skip_reason:
            print(f"\n{backend.name} (imports): skipped. {backend.skip_reason}")
            report["backends"][backend.name] = {"status": "skipped",
                                                "reason": backend.skip_reason}
            continue
        print(f"\n{backend.name} (imports): {backend.display_url}")
        tenant_id, how = prepare(backend, data, regenerate)
        print(f"  tenant {TENANT_SLUG} ({data.accounts:,} accounts): {how}", flush=True)
        as_app_role(backend, app_role)
        results = measure(backend, tenant_id, sizes, data)
        for result in results:
            result["verdicts"] = verdicts(result)
        print(table(backend.name, results))
        report["backends"][backend.name] = {"status": "measured", "data": how,
                                            "results": results}
    return report


def all_met(report: dict[str, Any]) -> bool:
    return all(all(r["verdicts"]["meets"].values()) and r["verdicts"]["first_ok"]
               and r["verdicts"]["reimport_ok"] and r["verdicts"]["changed_ok"]
               and r["verdicts"]["twice_ok"]
               for b in report["backends"].values() for r in b.get("results", []))


if __name__ == "__main__":
    print(json.dumps(child(json.loads(sys.argv[1]))))
