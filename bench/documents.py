"""`python -m bench.documents`: how long an invoice's PDF takes to render, by number of lines.

Renders the same invoice (in memory, no database: the figure is the PDF engine's and the
layout's) with 20, 200 and 2,000 lines, `--runs` times each after one untimed run; prints the
median and the best time, the pages and the size, and writes bench/results/bench-documents-*.json.
A document is rendered on each download or mail, inside the request: the target is a 200-line
invoice under 0.5 s.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from app import create_app
from app.documents import document_pdf
from bench import RESULTS_DIR

TARGET_S = 0.5
SIZES = (20, 200, 2000)


def _invoice(lines: int) -> Any:
    account = SimpleNamespace(name="Société Générale d'Œuvres & Cie", address_line="3 place "
                              "Bellecour", postal_code="69002", city="Lyon", country="FR",
                              vat_number="FR01234567890", kind="company")
    rows = [SimpleNamespace(sku=f"SKU{i:05d}", label=f"Store banne électrique n°{i}, toile "
                            "acrylique grise, bras articulés", quantity=Decimal("2.000"),
                            unit_price=Decimal("1234.56"), tax_rate=Decimal("20.00"),
                            amount_excl_tax=Decimal("2469.12")) for i in range(lines)]
    total = Decimal("2469.12") * lines
    return SimpleNamespace(id=1, number="F2026-000123", issued_on=date(2026, 10, 10),
                           due_on=date(2026, 11, 10), order_id=None, order=None, lines=rows,
                           total_excl_tax=total, tax_total=total / 5, total=total * 6 / 5,
                           currency="EUR", amount_paid=Decimal("0"), account=account)


def _tenant() -> Any:
    return SimpleNamespace(id=0, name="Alpha Stores", legal_name="Alpha Stores SAS",
                           legal_address="12 rue de la Paix\n75002 Paris", siren="732829320",
                           vat_number="FR44732829320", payment_terms="30 jours fin de mois",
                           late_penalty_rate=Decimal("12.5"), portal_color="#7a1f5c",
                           logo_sha256=None)


def run_suite(runs: int) -> dict[str, Any]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "bench",
                      "IMPORT_WATCH": False, "WEBHOOK_DISPATCH": False})
    results = []
    with app.test_request_context():
        for size in SIZES:
            invoice, tenant = _invoice(size), _tenant()
            pdf = document_pdf("invoices", invoice, tenant, "fr")
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                document_pdf("invoices", invoice, tenant, "fr")
                times.append(time.perf_counter() - started)
            pages = pdf.content.count(b"/Type /Page\n")
            results.append({"lines": size, "median_s": round(statistics.median(times), 4),
                            "best_s": round(min(times), 4), "pages": pages,
                            "bytes": len(pdf.content)})
    met = next(r for r in results if r["lines"] == 200)["median_s"] < TARGET_S
    return {"runs": runs, "target_s_200_lines": TARGET_S, "meets_target": met,
            "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    report = run_suite(parser.parse_args().runs)
    print(f"{'lines':>6} {'median s':>9} {'best s':>8} {'pages':>6} {'KB':>6}")
    for row in report["results"]:
        print(f"{row['lines']:>6} {row['median_s']:>9.3f} {row['best_s']:>8.3f} "
              f"{row['pages']:>6} {row['bytes'] // 1024:>6}")
    print(f"target: 200 lines under {TARGET_S} s: {'met' if report['meets_target'] else 'MISSED'}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (RESULTS_DIR / f"bench-documents-{stamp}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
