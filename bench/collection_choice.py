"""`python -m bench.collection_choice`: the collection build's choice of debits — which due
invoices it takes, with their sequence type — read through `due_debits` as it is now (the
rules as SQL, filtered by the database) against the Python filter it replaced (kept below
for this comparison only), in the same run, on the same data.

The data is bench.collections' (N customers, each with an active mandate, half of them
never collected: FRST, and one open invoice); each side consumes every row as the build does
(streamed, `yield_per`), alternately, ROUNDS times; wall and CPU seconds of this process
(PostgreSQL's own work is in the wall time only). SQLite in a temporary file; PostgreSQL too
with `--postgresql URL` (default: BENCH_DATABASE_URL; a database this command may drop and
create).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date, timedelta
from typing import Any

from bench.collections import _app, _cpu, _prepare
from bench.databases import ensure_database

ROUNDS = 5


def _python_filter(collection_date: date) -> Any:
    """The build's choice before 2026-12-06: every due row read, the rules applied here."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Debit, Mandate
    from app.queries.collection_due import NON_EEA_SEPA, STREAM, due_statement

    first_taken = set(db.session.scalars(select(Debit.mandate_id).where(
        Debit.status == "pending", Debit.sequence_type.in_(("FRST", "OOFF")))))
    for row in db.session.execute(due_statement(collection_date, True)
                                  .execution_options(yield_per=STREAM)):
        sequence = Mandate.sequence_of(row.is_recurrent, row.last_used_on)
        if not row.bic and row.iban[:2] in NON_EEA_SEPA:
            continue
        if sequence in ("FRST", "OOFF"):
            if row.mandate_id in first_taken:
                continue
            first_taken.add(row.mandate_id)
        yield row, sequence


def _measure(url: str, size: int) -> dict[str, Any]:
    from app.extensions import db
    from app.queries.collection_due import due_debits
    from app.tenancy import SYSTEM, tenant_context

    with tempfile.TemporaryDirectory() as files:
        tenant = _prepare(url, files, size)
        app = _app(url, files)
        when = date.today() + timedelta(days=5)
        times: dict[str, list[tuple[float, float]]] = {"sql": [], "python": []}
        counts: dict[str, int] = {}
        with app.app_context(), tenant_context(tenant, SYSTEM):
            for _round in range(ROUNDS):
                for name, choose in (("sql", due_debits), ("python", _python_filter)):
                    cpu, started = _cpu(), time.perf_counter()
                    counts[name] = sum(1 for _row in choose(when))
                    times[name].append((time.perf_counter() - started, _cpu() - cpu))
                    db.session.rollback()
    assert counts["sql"] == counts["python"] == size, counts
    found = {name: {"seconds": statistics.median(t for t, _c in runs),
                    "cpu_seconds": statistics.median(c for _t, c in runs)}
             for name, runs in times.items()}
    found["ratio_seconds"] = found["sql"]["seconds"] / found["python"]["seconds"]
    found["ratio_cpu"] = found["sql"]["cpu_seconds"] / found["python"]["cpu_seconds"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--postgresql", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        backends = [("sqlite", f"sqlite:///{folder}/bench.db")]
        if args.postgresql:
            ensure_database(args.postgresql)
            backends.append(("postgresql", args.postgresql))
        for name, url in backends:
            found = _measure(url, args.size)
            print(name, args.size, {key: (round(value, 3) if isinstance(value, float) else
                                          {k: round(v, 3) for k, v in value.items()})
                                    for key, value in found.items()}, flush=True)


if __name__ == "__main__":
    main()
