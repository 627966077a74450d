"""The revert benchmark: undoing a nightly file's run that changed every record it names.

`python -m bench --suite reverts` (or `all`). On the import benchmark's tenant and databases
(bench/imports.py), for each size: the invoice file imported (its first import), then the
same file with every row's `Promoteur` changed — a column mapped wrong, say, the run an
admin wants undone — then that run's revert previewed (`?dry_run`: its plan), then reverted
as the revert job does it (queued, taken, executed in one transaction, committed). Each
step runs in a child process, so its peak RSS (VmHWM) is its own. Targets: the preview's
and the revert's peak RSS under the import's own (300 MB), and the revert no slower than
twice the run it undoes (it writes as many records, and reads the run's audit events
first). The invoices are checked afterwards: none keeps the changed developer.

Then, on the same tenant holding those invoices, a customer file of NEW_CUSTOMERS customers
it does not have is imported and that run reverted: the revert deletes every customer the run
created, and the database looks for what refers to each one (its invoices, contacts…: ON
DELETE CASCADE and SET NULL). What a customer's deletion costs is given, and the revert against
the run: it must not grow with the tenant's invoices (compare the sizes, or the schema before
e4a7c2f9b613, whose indexes had PostgreSQL read every invoice for each customer deleted).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import RESULTS_DIR
from bench.databases import Backend, as_app_role
from bench.imports import (
    ACTOR_LABEL,
    TARGETS,
    ImportSet,
    _dispose,
    _memory,
    clear,
    make_app,
    prepare,
)
from bench.imports import _spawn as _spawn_import
from bench.invoice_file import invoice_file

CHANGED_TO = "Promoteur corrigé"
REVERT_TARGETS = {"peak_rss_mb": TARGETS["peak_rss_mb"], "revert_x_run": 2.0}
NEW_CUSTOMERS = 5_000
CUSTOMERS_PROFILE = {
    "name": "clients-nouveaux", "entity": "accounts", "mode": "upsert", "key": "external_ref",
    "columns": {"Code client": "external_ref", "Raison sociale": "name", "Ville": "city"},
    "encoding": "auto", "delimiter": "auto",
}


def changed_everywhere(path: Path) -> Path:
    """The file with every row's developer changed, made when missing."""
    changed = path.with_name(f"{path.stem}-all-changed{path.suffix}")
    if changed.exists():
        return changed
    partial = changed.with_suffix(".part")
    with path.open(encoding="cp1252", newline="") as source, \
            partial.open("w", encoding="cp1252", newline="") as out:
        for number, line in enumerate(source):
            if number:
                line = line.rstrip("\r\n").rsplit(";", 1)[0] + f";{CHANGED_TO}\r\n"
            out.write(line)
    partial.rename(changed)
    return changed


def customers_file(count: int) -> Path:
    """A file of `count` customers the import tenant does not have, made when missing."""
    path = RESULTS_DIR / f"import-new-customers-{count}.csv"
    if not path.exists():
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        lines = ["Code client;Raison sociale;Ville", *(
            f"NEW{n:06d};Client nouveau {n};Lyon" for n in range(1, count + 1))]
        path.write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    return path


def _customers_profile(backend: Backend, tenant_id: int) -> None:
    """The customers' profile of the import tenant, made when missing."""
    from app.extensions import db
    from app.queries.feeds import find_profile
    from app.services import feeds
    from app.tenancy import Actor, tenant_context

    app = make_app(backend.url)
    with app.app_context(), tenant_context(tenant_id, Actor("cli", None, ACTOR_LABEL)):
        if find_profile(CUSTOMERS_PROFILE["name"]) is None:
            feeds.create_profile(CUSTOMERS_PROFILE)
            db.session.commit()
        _dispose()


def child(job: dict[str, Any]) -> dict[str, Any]:
    """The revert of `job["run_id"]`, previewed or done, timed in this process."""
    from app.extensions import db
    from app.models import ImportRun
    from app.services.import_revert import plan_revert, request_revert
    from app.tenancy import Actor, tenant_context
    from importers.reverts import run_revert

    app = make_app(job["url"])
    with app.app_context():
        before = _memory()
        with tenant_context(job["tenant_id"], Actor("cli", None, ACTOR_LABEL)):
            run = db.session.get(ImportRun, job["run_id"])
            started, cpu = time.perf_counter(), time.process_time()
            if job["dry_run"]:
                counts = plan_revert(run).counts
                db.session.rollback()
            else:
                request_revert(run)
                db.session.commit()
                reverted = run_revert(run.id, job["tenant_id"])
                db.session.expire_all()
                run = db.session.get(ImportRun, job["run_id"])
                if not reverted:
                    raise RuntimeError(f"revert failed: {run.revert_message}")
                counts = run.revert_summary["counts"]
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        _dispose()
    return {"seconds": seconds, "cpu_seconds": cpu, "counts": counts,
            "rss_before_kb": before["VmRSS"], "peak_rss_kb": _memory()["VmHWM"]}


def _spawn(job: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-m", "bench.reverts", json.dumps(job)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"revert failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _last_run_and_left(backend: Backend, tenant_id: int) -> tuple[int, int]:
    """The tenant's last run, and how many invoices hold the changed developer."""
    from app.extensions import db
    from app.models import ImportRun, Invoice
    from app.tenancy import SYSTEM, tenant_context

    app = make_app(backend.url)
    with app.app_context(), tenant_context(tenant_id, SYSTEM):
        run_id = db.session.scalar(select(func.max(ImportRun.id)))
        left = db.session.scalar(select(func.count(Invoice.id)).where(
            Invoice.custom["promoteur"].as_string() == CHANGED_TO))
        _dispose()
    return run_id, left


def measure(backend: Backend, tenant_id: int, sizes: list[int], data: ImportSet,
            log: Any = print) -> list[dict[str, Any]]:
    results = []
    for size in sizes:
        path = invoice_file(size, data.accounts, data.seed)
        clear(backend, tenant_id)
        job = {"url": backend.measured_url, "file": str(path), "tenant_id": tenant_id}
        log(f"  {size:,} rows: first import ...", flush=True)
        first = _spawn_import(job | {"kind": "import", "force": False})
        log(f"    {first['created']:,} created; the file with every row changed ...",
            flush=True)
        changed = _spawn_import(job | {"kind": "import", "force": True,
                                       "file": str(changed_everywhere(path))})
        run_id, left = _last_run_and_left(backend, tenant_id)
        log(f"    {changed['updated']:,} updated in {changed['seconds']:.1f} s "
            f"({left:,} with the changed developer); preview ...", flush=True)
        revert = {"url": backend.measured_url, "tenant_id": tenant_id, "run_id": run_id}
        preview = _spawn(revert | {"dry_run": True})
        log(f"    preview {preview['seconds']:.1f} s; revert ...", flush=True)
        done = _spawn(revert | {"dry_run": False})
        _run, left = _last_run_and_left(backend, tenant_id)
        log(f"    revert {done['seconds']:.1f} s ({left:,} left with the changed developer)",
            flush=True)
        results.append({"rows": size, "first": first, "changed": changed, "preview": preview,
                        "revert": done, "left_changed": left,
                        "customers": _created_and_reverted(backend, tenant_id, log)})
    return results


def _created_and_reverted(backend: Backend, tenant_id: int, log: Any) -> dict[str, Any]:
    """NEW_CUSTOMERS customers imported, then that run reverted (the customers deleted)."""
    _customers_profile(backend, tenant_id)
    job = {"url": backend.measured_url, "tenant_id": tenant_id, "kind": "import",
           "force": True, "file": str(customers_file(NEW_CUSTOMERS)),
           "profile": CUSTOMERS_PROFILE["name"]}
    created = _spawn_import(job)
    run_id, _left = _last_run_and_left(backend, tenant_id)
    log(f"    {created['created']:,} new customers in {created['seconds']:.1f} s; revert ...",
        flush=True)
    done = _spawn({"url": backend.measured_url, "tenant_id": tenant_id, "run_id": run_id,
                   "dry_run": False})
    log(f"    revert {done['seconds']:.1f} s ({done['counts']['deleted']:,} deleted)",
        flush=True)
    return {"run": created, "revert": done}


def verdicts(result: dict[str, Any]) -> dict[str, Any]:
    changed, preview, revert = result["changed"], result["preview"], result["revert"]
    peak = max(preview["peak_rss_kb"], revert["peak_rss_kb"]) / 1024
    ratio = revert["seconds"] / changed["seconds"]
    customers = result["customers"]
    customers_ratio = customers["revert"]["seconds"] / customers["run"]["seconds"]
    return {
        "run_rows_per_s": round(changed["rows"] / changed["seconds"]),
        "revert_records_per_s": round(revert["counts"]["restored"] / revert["seconds"]),
        "revert_x_run": round(ratio, 2), "preview_seconds": round(preview["seconds"], 2),
        "preview_peak_rss_mb": round(preview["peak_rss_kb"] / 1024),
        "revert_peak_rss_mb": round(revert["peak_rss_kb"] / 1024),
        "ok": revert["counts"]["restored"] == result["rows"] == changed["updated"]
        and preview["counts"] == revert["counts"] and result["left_changed"] == 0
        and customers["revert"]["counts"]["deleted"] == customers["run"]["created"]
        == NEW_CUSTOMERS,
        "customers_revert_x_run": round(customers_ratio, 2),
        "customer_deleted_ms": round(customers["revert"]["seconds"] * 1000 / NEW_CUSTOMERS, 3),
        "meets": {"peak_rss_mb": peak < REVERT_TARGETS["peak_rss_mb"],
                  "revert_x_run": ratio <= REVERT_TARGETS["revert_x_run"]},
    }


def table(name: str, results: list[dict[str, Any]]) -> str:
    head = (f"{'rows':>9} {'run rows/s':>10} {'preview s':>9} {'RSS MB':>6} "
            f"{'revert s':>9} {'rec/s':>7} {'x run':>6} {'RSS MB':>6}  restored / skipped")
    lines = ["", f"{name} — revert of a run that changed every record (targets: peak RSS < "
             f"{REVERT_TARGETS['peak_rss_mb']} MB, revert ≤ {REVERT_TARGETS['revert_x_run']} "
             "x the run)", head, "-" * len(head)]
    for result in results:
        v = result["verdicts"]
        mark = {k: "" if ok else "!" for k, ok in v["meets"].items()}
        counts = result["revert"]["counts"]
        lines.append(
            f"{result['rows']:>9,} {v['run_rows_per_s']:>10,} {v['preview_seconds']:>9.1f} "
            f"{v['preview_peak_rss_mb']:>6} {result['revert']['seconds']:>9.1f} "
            f"{v['revert_records_per_s']:>7,} {v['revert_x_run']:>5.2f}{mark['revert_x_run']:1}"
            f"{v['revert_peak_rss_mb']:>6}{mark['peak_rss_mb']:1}  "
            f"{counts['restored']:,} / {counts['skipped']:,}"
            f"{'' if v['ok'] else '  WRONG: not every record came back'}")
        customers = result["customers"]
        lines.append(
            f"{'':>9} then {NEW_CUSTOMERS:,} new customers: run "
            f"{customers['run']['seconds']:.1f} s, revert {customers['revert']['seconds']:.1f} s "
            f"({v['customer_deleted_ms']:.2f} ms a customer deleted), "
            f"{v['customers_revert_x_run']:.2f} x the run")
    lines.append("  ! = target missed; run = the import that changed every record; RSS = "
                 "VmHWM of the child process")
    return "\n".join(lines)


def run_suite(backends: list[Backend], sizes: list[int], regenerate: bool,
              app_role: str = "") -> dict[str, Any]:
    data = ImportSet()
    report: dict[str, Any] = {"targets": REVERT_TARGETS, "sizes": sizes, "backends": {}}
    for backend in backends:
        if backend.skip_reason:
            print(f"\n{backend.name} (reverts): skipped. {backend.skip_reason}")
            report["backends"][backend.name] = {"status": "skipped",
                                                "reason": backend.skip_reason}
            continue
        print(f"\n{backend.name} (reverts): {backend.display_url}")
        tenant_id, how = prepare(backend, data, regenerate)
        as_app_role(backend, app_role)
        results = measure(backend, tenant_id, sizes, data)
        for result in results:
            result["verdicts"] = verdicts(result)
        print(table(backend.name, results))
        report["backends"][backend.name] = {"status": "measured", "data": how,
                                            "results": results}
    return report


def all_met(report: dict[str, Any]) -> bool:
    return all(all(r["verdicts"]["meets"].values()) and r["verdicts"]["ok"]
               for b in report["backends"].values() for r in b.get("results", []))


if __name__ == "__main__":
    print(json.dumps(child(json.loads(sys.argv[1]))))
