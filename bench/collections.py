"""`python -m bench.collections`: a SEPA collection of N debits, against sepaxml building the
same debits alone, in the same run.

For each size (`--sizes`, default 20,000, 50,000 and 100,000) a tenant gets N customers, each
with an active mandate and one open invoice; then, each in a fresh process (its peak memory
its own):
- **Relais**: first, untimed in the ratio, the back office's preview of the collection; then
  `build_collection` (what the `build_collection` job does) — read the due invoices with their
  mandates a batch at a time, write the debits as they come and each debit's transaction
  into the pain.008.001.08 file's part (app/services/pain008.py), assemble the file, check
  it against the XSD (libxml2) and our rules; then, timed apart, `settle_collection` (the
  invoices paid, the mandates used, all audited); rolled back afterwards so that every run
  starts equal.
- **sepaxml alone**: the same N payments (read from the database before the clock starts),
  with the same creditor's and debtors' postal addresses as Relais writes (`--bare-baseline`:
  without them, as measured before 2026-12-06), given to `SepaDD.add_payment`, then
  `export()` without its own validation: xmlschema stops at 1,000,000 XML elements, about
  90,000 debits.

Target: Relais at ≥ 0.5 × sepaxml's debits per second, and peak memory flat: the same from
one size to the next (each child's `start_mb` is its peak before the build, `peak_mb` after
it, `settle_peak_mb` after the settlement). SQLite in a temporary file; PostgreSQL too with
`--postgresql URL` (default: BENCH_DATABASE_URL; a database this command may drop and create).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench import RESULTS_DIR
from bench.databases import empty_schema, ensure_database

TARGET_RATIO = 0.5
CREDITOR = {"name": "Telepeage Services", "street": "Rue de la Paix", "building_number": "12",
            "postal_code": "75002", "town": "Paris", "country": "FR",
            "creditor_identifier": "FR72ZZZ123456", "iban": "FR7630006000011234567890189",
            "prenotification_days": 1}
IBAN = "DE89370400440532013000"


def _app(url: str, files: str) -> Any:
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                       "IMPORT_WATCH": False, "WEBHOOK_DISPATCH": False,
                       "JOBS_SCHEDULER": False, "FILES_DIR": files})


def _prepare(url: str, files: str, size: int) -> int:
    from sqlalchemy import insert

    from app import models as m
    from app.extensions import db
    from app.services.offers import set_creditor
    from app.services.tenants import create_tenant
    from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context

    app = _app(url, files)
    with app.app_context():
        empty_schema()
        with all_tenants_unsafe("bench set-up"):
            tenant = create_tenant("bench", "Bench")
            db.session.commit()
        now = datetime.now(UTC)
        with tenant_context(tenant.id, SYSTEM):
            set_creditor(dict(CREDITOR))
            db.session.commit()
            for start in range(0, size, 10_000):
                block = range(start, min(start + 10_000, size))
                db.session.execute(insert(m.Account), [
                    {"id": i + 1, "tenant_id": tenant.id, "name": f"Client Éloïse {i}",
                     "kind": "company", "custom": {}, "created_at": now, "updated_at": now}
                    for i in block])
                db.session.execute(insert(m.Mandate), [
                    {"id": i + 1, "tenant_id": tenant.id, "account_id": i + 1,
                     "reference": f"M20260105-{i:010d}", "creditor_identifier": "FR72ZZZ123456",
                     "debtor_name": f"Éloïse Müller & Fils {i}", "street": "Rue des Lilas",
                     "building_number": str(i % 200), "postal_code": "69003", "town": "Lyon",
                     "country": "FR", "iban": IBAN, "bic": "COBADEFFXXX",
                     "is_recurrent": True, "channel": "paper", "signed_on": date(2026, 1, 5),
                     "status": "active", "last_used_on": date(2026, 6, 1) if i % 2 else None,
                     "created_at": now, "updated_at": now} for i in block])
                db.session.execute(insert(m.Invoice), [
                    {"id": i + 1, "tenant_id": tenant.id, "account_id": i + 1,
                     "number": f"F2026-{i:07d}", "status": "issued",
                     "issued_on": date(2026, 11, 1), "due_on": date(2026, 12, 1),
                     "total_excl_tax": Decimal("41.25"), "tax_total": Decimal("8.25"),
                     "total": Decimal("49.50"), "amount_paid": Decimal("0"),
                     "currency": "EUR", "custom": {}, "created_at": now, "updated_at": now}
                    for i in block])
                db.session.commit()
        return tenant.id


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    """This process's CPU seconds: less moved than wall time by other processes' load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _relais(job: dict[str, Any]) -> dict[str, Any]:
    from app.extensions import db
    from app.queries.collection_due import preview
    from app.services.collections import build_collection, settle_collection
    from app.tenancy import SYSTEM, tenant_context

    app = _app(job["url"], job["files"])
    when = date.today() + timedelta(days=5)
    with app.app_context(), tenant_context(job["tenant"], SYSTEM):
        # What the back office shows before the admin confirms (streamed: little memory).
        started = time.perf_counter()
        previewed = preview(when).count
        previewed_in = time.perf_counter() - started
        if job.get("preview_only"):
            return {"preview_seconds": previewed_in, "previewed": previewed}
        before, cpu = _peak_mb(), _cpu()
        started = time.perf_counter()
        collection = build_collection(when)
        elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
        count, peak = collection.count, _peak_mb()
        started = time.perf_counter()
        settle_collection(collection)
        settled = time.perf_counter() - started
        db.session.rollback()
    return {"seconds": elapsed, "cpu_seconds": cpu, "debits": count, "peak_mb": peak,
            "start_mb": before, "settle_seconds": settled, "settle_peak_mb": _peak_mb(),
            "preview_seconds": previewed_in, "previewed": previewed}


def _sepaxml(job: dict[str, Any]) -> dict[str, Any]:
    from sepaxml import SepaDD
    from sqlalchemy import select

    from app import models as m
    from app.extensions import db
    from app.tenancy import SYSTEM, tenant_context

    app = _app(job["url"], job["files"])
    with app.app_context(), tenant_context(job["tenant"], SYSTEM):
        rows = db.session.execute(select(
            m.Invoice.number, m.Invoice.total, m.Mandate.reference, m.Mandate.signed_on,
            m.Mandate.debtor_name, m.Mandate.iban, m.Mandate.bic, m.Mandate.street,
            m.Mandate.building_number, m.Mandate.postal_code, m.Mandate.town,
            m.Mandate.country).join(
            m.Mandate, m.Mandate.account_id == m.Invoice.account_id)).all()
    when = date.today() + timedelta(days=5)
    addresses = not job.get("bare")
    before, cpu = _peak_mb(), _cpu()
    started = time.perf_counter()
    config = {"name": CREDITOR["name"], "IBAN": CREDITOR["iban"], "batch": True,
              "creditor_id": CREDITOR["creditor_identifier"], "currency": "EUR"}
    if addresses:  # the same debits as Relais's: the creditor's and debtors' addresses
        config["address"] = {"street_name": CREDITOR["street"],
                             "building_number": CREDITOR["building_number"],
                             "postcode": CREDITOR["postal_code"], "town": CREDITOR["town"],
                             "country": CREDITOR["country"]}
    document = SepaDD(config, schema="pain.008.001.08")
    for n, (number, total, reference, signed_on, name, iban, bic, street, building,
            postcode, town, country) in enumerate(rows):
        payment = {"name": name, "IBAN": iban, "BIC": bic,
                   "amount": int(total * 100), "type": "RCUR" if n % 2 else "FRST",
                   "collection_date": when, "mandate_id": reference,
                   "mandate_date": signed_on, "description": number}
        if addresses:
            payment["address"] = {"street_name": street, "building_number": building,
                                  "postcode": postcode, "town": town, "country": country}
        document.add_payment(payment)
    # Without its own validation (the module's docstring says why).
    content = document.export(validate=False)
    elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
    return {"seconds": elapsed, "cpu_seconds": cpu, "debits": len(rows), "peak_mb": _peak_mb(),
            "start_mb": before, "bytes": len(content)}


def _child(job: dict[str, Any]) -> dict[str, Any]:
    return (_relais if job["kind"] == "relais" else _sepaxml)(job)


def _spawn(job: dict[str, Any]) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_child, (job,))


def run(url: str, files: str, sizes: list[int], bare: bool = False,
        preview_only: bool = False) -> list[dict[str, Any]]:
    results = []
    for size in sizes:
        tenant = _prepare(url, files, size)
        job = {"url": url, "files": files, "tenant": tenant, "bare": bare,
               "preview_only": preview_only}
        if preview_only:
            ours = _spawn({**job, "kind": "relais"})
            results.append({"size": size, "relais": ours})
            print(f"{size:>8,} debits  previewed ({ours['previewed']:,}) in "
                  f"{ours['preview_seconds']:.2f} s")
            continue
        ours, theirs = _spawn({**job, "kind": "relais"}), _spawn({**job, "kind": "sepaxml"})
        rate, baseline = ours["debits"] / ours["seconds"], theirs["debits"] / theirs["seconds"]
        cpu_ratio = theirs["cpu_seconds"] / ours["cpu_seconds"]
        results.append({"size": size, "relais": ours, "sepaxml": theirs,
                        "relais_per_s": round(rate), "sepaxml_per_s": round(baseline),
                        "ratio": round(rate / baseline, 2), "cpu_ratio": round(cpu_ratio, 2)})
        print(f"{size:>8,} debits  Relais {ours['seconds']:7.2f} s ({rate:8,.0f}/s, peak "
              f"{ours['peak_mb']:6.0f} MB)  sepaxml alone {theirs['seconds']:7.2f} s "
              f"({baseline:8,.0f}/s, peak {theirs['peak_mb']:6.0f} MB)  ratio "
              f"{rate / baseline:.2f} (target ≥ {TARGET_RATIO}; in CPU time "
              f"{cpu_ratio:.2f})  settled in "
              f"{ours['settle_seconds']:.2f} s  previewed in {ours['preview_seconds']:.2f} s")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,50000,100000")
    parser.add_argument("--postgresql", default=os.environ.get("BENCH_DATABASE_URL", ""),
                        help="a PostgreSQL URL to measure too (default: BENCH_DATABASE_URL)")
    parser.add_argument("--bare-baseline", action="store_true",
                        help="sepaxml alone without the postal addresses Relais writes (the "
                             "baseline of the figures measured before 2026-12-06)")
    parser.add_argument("--preview-only", action="store_true",
                        help="time the back office's preview alone (no build, no sepaxml)")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    report: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                              "target_ratio": TARGET_RATIO}
    with tempfile.TemporaryDirectory() as scratch:
        print("SQLite")
        report["sqlite"] = run(f"sqlite:///{scratch}/bench.sqlite", scratch, sizes,
                               args.bare_baseline, args.preview_only)
        if args.postgresql:
            print("PostgreSQL")
            ensure_database(args.postgresql)
            report["postgresql"] = run(args.postgresql, scratch, sizes, args.bare_baseline,
                                     args.preview_only)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (RESULTS_DIR / f"bench-collections-{stamp}.json").write_text(json.dumps(report, indent=2))
    met = all(r.get("ratio", TARGET_RATIO) >= TARGET_RATIO for key in ("sqlite", "postgresql")
              for r in report.get(key, []))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
