"""`python -m bench`: generate (or reuse) the bench tenant and time its heaviest pages.

Runs on SQLite (bench/results/relais-bench.sqlite) and on PostgreSQL (BENCH_DATABASE_URL, by
default postgresql+psycopg://postgres@127.0.0.1:5432/relais_bench, skipped when unreachable).
Prints a table per backend and writes bench/results/bench-<time>.json (and latest.json).
`--suite imports` measures the import engine instead (bench/imports.py), `--suite bulk` the API's
bulk upsert on the same tenant as the pages (bench/api_bulk.py), `--suite exports` an export of
its 1,000,000 invoices (bench/exports.py), `--suite cli` the start-up of `flask --help`
(bench/cli_startup.py), `--suite archives` a ZIP of 1,000 CVs through a documents profile
(bench/archives.py), `--suite contention` the agent's extranet home and an API list over HTTP,
idle and while a large import runs on a job worker (bench/contention.py), `--suite sftp` a
200 MB CSV over the SFTP inbox and the time from its upload to its run's start
(bench/sftp.py), `--suite reverts` the revert of a run that changed every record of a
file, on the imports' tenant (bench/reverts.py), `--suite all` all nine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from bench import RESULTS_DIR
from bench.databases import Backend, as_app_role, backends
from bench.generate import Dataset, prepare
from bench.measure import Timing, login, measure, targets


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "sqlite": sqlite3.sqlite_version, "cpus": os.cpu_count()},
    }
    failed = False
    if args.suite in ("pages", "all"):
        failed |= _pages(args, report)
    if args.suite in ("bulk", "all"):
        failed |= _bulk(args, report)
    if args.suite in ("cli", "all"):
        from bench import cli_startup

        report["cli"] = cli_startup.run_suite(args.cli_runs)
        failed |= args.strict and not report["cli"]["meets_target"]
    if args.suite in ("exports", "all"):
        failed |= _exports(args, report)
    if args.suite in ("imports", "all"):
        from bench import imports

        sizes = [int(n) for n in args.import_rows.split(",") if n.strip()]
        part = imports.run_suite(backends(args.backend, suffix="-imports"), sizes,
                                 args.regenerate, args.app_role)
        report["imports"] = part
        failed |= args.strict and not imports.all_met(part)
    if args.suite in ("reverts", "all"):
        from bench import reverts

        sizes = [int(n) for n in args.revert_rows.split(",") if n.strip()]
        part = reverts.run_suite(backends(args.backend, suffix="-imports"), sizes,
                                 args.regenerate, args.app_role)
        report["reverts"] = part
        failed |= args.strict and not reverts.all_met(part)
    if args.suite in ("archives", "all"):
        from bench import archives

        report["archives"] = archives.run_suite(args.backend)
        failed |= args.strict and not all(r["meets_target"] for r in report["archives"])
    if args.suite in ("contention", "all"):
        failed |= _contention(args, report)
    if args.suite in ("sftp", "all"):
        from bench import sftp

        part = sftp.run_suite(backends(args.backend, suffix="-sftp"), args.sftp_mb,
                              args.sftp_small, args.sftp_paramiko)
        report["sftp"] = part
        failed |= args.strict and not sftp.all_met(part)
    _write(report, "bench" if args.suite == "pages" else f"bench-{args.suite}")
    return 1 if failed else 0


def _pages(args: argparse.Namespace, report: dict[str, Any]) -> bool:
    dataset = Dataset(partners=args.partners, accounts=args.accounts, invoices=args.invoices)
    report.update({
        "dataset": vars(dataset) | {"tenant": dataset.tenant_name},
        "target_p95_ms": args.target_ms, "runs": args.runs, "warmup": args.warmup,
        "backends": {},
    })
    failed = False
    for backend in backends(args.backend):
        if backend.skip_reason:
            print(f"\n{backend.name}: skipped. {backend.skip_reason}")
            report["backends"][backend.name] = {"status": "skipped", "reason": backend.skip_reason}
            failed |= backend.required
            continue
        result = _run(backend, dataset, args)
        report["backends"][backend.name] = result
        failed |= args.strict and not result["meets_target"]
    return failed


def _bulk(args: argparse.Namespace, report: dict[str, Any]) -> bool:
    from bench import api_bulk

    dataset = Dataset(partners=args.partners, accounts=args.accounts, invoices=args.invoices)
    report["bulk"] = {}
    failed = False
    for backend in backends(args.backend):
        if backend.skip_reason:
            print(f"\n{backend.name}: skipped. {backend.skip_reason}")
            report["bulk"][backend.name] = {"status": "skipped", "reason": backend.skip_reason}
            failed |= backend.required
            continue
        app = _app(backend)
        print(f"\n{backend.name}: bulk upsert on {backend.display_url}", flush=True)
        data = prepare(app, backend, dataset, args.regenerate)
        before = _cpu_times()
        result = api_bulk.run(app)
        idle = _idle_share(before, _cpu_times())
        result.update(status="measured", data=data, server=_server(app),
                      cpu_idle_share=None if idle is None else round(idle, 3))
        print(api_bulk.table(backend.name, result))
        report["bulk"][backend.name] = result
        failed |= args.strict and not all(p["meets_target"] for p in result["passes"].values())
    return failed


def _exports(args: argparse.Namespace, report: dict[str, Any]) -> bool:
    from bench import exports

    dataset = Dataset(partners=args.partners, accounts=args.accounts, invoices=args.invoices)
    report["exports"] = {}
    failed = False
    for backend in backends(args.backend):
        if backend.skip_reason:
            print(f"\n{backend.name}: skipped. {backend.skip_reason}")
            report["exports"][backend.name] = {"status": "skipped",
                                               "reason": backend.skip_reason}
            failed |= backend.required
            continue
        app = _app(backend)
        print(f"\n{backend.name}: exports on {backend.display_url}", flush=True)
        data = prepare(app, backend, dataset, args.regenerate)
        result = exports.run(app, args.export_formats.split(","))
        result.update(status="measured", data=data, server=_server(app))
        print(exports.table(backend.name, result))
        report["exports"][backend.name] = result
        csv_pass = result["exports"].get("csv_cp1252", {})
        failed |= args.strict and not csv_pass.get("meets_target", True)
    return failed


def _contention(args: argparse.Namespace, report: dict[str, Any]) -> bool:
    from bench import contention

    report["contention"] = {}
    unreachable = contention.redis_unreachable()
    if unreachable:
        print(f"\ncontention: skipped. {unreachable}")
        report["contention"] = {"status": "skipped", "reason": unreachable}
        return False
    failed = False
    for backend in backends(args.backend, suffix="-contention",
                            postgres_url=os.environ.get("BENCH_CONTENTION_DATABASE_URL")):
        if backend.skip_reason:
            print(f"\n{backend.name}: skipped. {backend.skip_reason}")
            report["contention"][backend.name] = {"status": "skipped",
                                                  "reason": backend.skip_reason}
            failed |= backend.required
            continue
        result = contention.run_backend(_app(backend), backend, args.contention_rows,
                                        args.contention_runs)
        result["server"] = _server(_app(backend))
        report["contention"][backend.name] = result
        failed |= args.strict and not result["meets_target"]
    return failed


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("pages", "imports", "bulk", "exports", "cli",
                                            "archives", "contention", "sftp", "reverts",
                                            "all"),
                        default="pages",
                        help="page times, the import benchmark, the API's bulk upsert, the "
                             "start-up of flask --help, pages during an import, or all")
    parser.add_argument("--cli-runs", type=int, default=5,
                        help="times each command of the cli suite is started")
    parser.add_argument("--export-formats", default="csv_cp1252,xlsx",
                        help="exports suite: the formats timed (csv_cp1252, csv_utf8, xlsx)")
    parser.add_argument("--backend", choices=("all", "sqlite", "postgresql"), default="all")
    parser.add_argument("--sftp-mb", type=int, default=200, help="size of the file sent over SFTP")
    parser.add_argument("--sftp-small", type=int, default=10,
                        help="small files sent after it, for the time to their run's start")
    parser.add_argument("--sftp-paramiko", action="store_true",
                        help="also time the upload with paramiko's client")
    parser.add_argument("--import-rows", default="200000,1000000",
                        help="sizes of the imported files, comma-separated")
    parser.add_argument("--revert-rows", default="200000,1000000",
                        help="reverts suite: sizes of the files whose run is reverted")
    parser.add_argument("--contention-rows", type=int, default=1_000_000,
                        help="contention suite: rows of the file imported while timing")
    parser.add_argument("--contention-runs", type=int, default=100,
                        help="contention suite: idle requests per page")
    parser.add_argument("--regenerate", action="store_true",
                        help="rebuild the data even when the database already holds it")
    parser.add_argument("--runs", type=int, default=50, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests first")
    parser.add_argument("--accounts", type=int, default=Dataset.accounts)
    parser.add_argument("--invoices", type=int, default=Dataset.invoices)
    parser.add_argument("--partners", type=int, default=Dataset.partners)
    parser.add_argument("--target-ms", type=float, default=50.0, help="p95 target of a page")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a page misses it")
    parser.add_argument("--app-role", default="",
                        help="PostgreSQL: measure as this role (created and granted when "
                             "missing), so that row-level security applies, as in production")
    return parser.parse_args(argv)


def _app(backend: Backend, url: str = "") -> Flask:
    return create_app({
        "SQLALCHEMY_DATABASE_URI": url or backend.url, "SECRET_KEY": "relais-bench",
        "WTF_CSRF_ENABLED": False, "RATELIMIT_STORAGE_URI": "memory://",
        "FILES_DIR": str(RESULTS_DIR / "files"),
    })


def _run(backend: Backend, dataset: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    app = _app(backend)
    print(f"\n{backend.name}: {backend.display_url}")
    print(f"  data: {dataset.accounts:,} accounts, {dataset.invoices:,} invoices, "
          f"{dataset.partners} partners ...", flush=True)
    data = prepare(app, backend, dataset, args.regenerate)
    print(f"  data {data}", flush=True)
    as_app_role(backend, args.app_role)
    if backend.measured_url != backend.url:
        print(f"  measured as {make_url(backend.measured_url).username}", flush=True)
        app = _app(backend, backend.measured_url)
    found, picked = targets(app)
    clients = login(app)
    print(f"  timing {len(found)} pages x {args.runs} requests, round-robin ...", flush=True)
    before = _cpu_times()
    timings = measure(app, clients, found, args.warmup, args.runs)
    idle = _idle_share(before, _cpu_times())
    for timing in timings:
        timing.ratio = timing.median_ms / timings[0].median_ms
    pages = timings[1:]
    meets = all(t.p95_ms < args.target_ms for t in pages)
    print(_table(backend, timings, args.target_ms))
    cpus = os.cpu_count() or 1
    if idle is not None and idle < (cpus - 1.5) / cpus:
        # Alone, the run keeps about one CPU busy (two with PostgreSQL's backend, in turns).
        print(f"  note: the {cpus} CPUs were {idle:.0%} idle while timing: other processes "
              "competed for them, so these figures (p95 most) are pessimistic.")
    return {
        "status": "measured", "database": backend.display_url, "server": _server(app),
        "data": data, "picked": picked, "meets_target": meets,
        "cpu_idle_share": None if idle is None else round(idle, 3),
        "pages": [t.as_json() for t in timings],
    }


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies of all CPUs, from /proc/stat (Linux); None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return fields[3] + fields[4], sum(fields[:8])


def _idle_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def _server(app: Flask) -> str:
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            return f"SQLite {sqlite3.sqlite_version}"
        version = db.session.scalar(text("SHOW server_version"))
        db.session.remove()
        return f"PostgreSQL {version}"


def _table(backend: Backend, timings: list[Timing], target_ms: float) -> str:
    head = f"{'page':<34} {'median ms':>9} {'p95 ms':>8} {'x healthz':>9} {'queries':>7}  " \
           f"p95 < {target_ms:g} ms"
    lines = ["", f"{backend.name} — {len(timings[0].samples_ms)} timed requests per page",
             head, "-" * len(head)]
    for i, t in enumerate(timings):
        verdict = "" if i == 0 else ("ok" if t.p95_ms < target_ms else "MISSED")
        lines.append(f"{t.name:<34} {t.median_ms:>9.1f} {t.p95_ms:>8.1f} {t.ratio:>9.1f} "
                     f"{t.queries:>7}  {verdict}")
    lines += ["", *(f"  {t.name}: {t.url}" for t in timings[1:])]
    return "\n".join(lines)


def _write(report: dict[str, Any], prefix: str) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    body = json.dumps(report, indent=2, ensure_ascii=False)
    path = RESULTS_DIR / f"{prefix}-{stamp}.json"
    path.write_text(body)
    latest = "latest.json" if prefix == "bench" else f"latest-{prefix.removeprefix('bench-')}.json"
    (RESULTS_DIR / latest).write_text(body)
    print(f"\nResults written to {path.relative_to(RESULTS_DIR.parent.parent)}")


if __name__ == "__main__":
    sys.exit(main())
