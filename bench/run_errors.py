"""A run with 100,000 row errors in the bench tenant, for the pages suite: its page, the page
of its largest kind of error, and the API's first page of errors and its summary by kind.

The errors mimic a broken nightly export: a column of dates that are not dates (one value),
unknown customers (500 references), amounts that are not numbers (5,000 values) and rows left
out because another line of their document failed. Made once, then kept with the bench data;
written in bulk as a fixture (it sets tenant_id itself), like bench/generate.py.
"""
from __future__ import annotations

import random
from typing import Any

from flask import Flask
from sqlalchemy import delete, func, insert, select

from app.extensions import db
from app.models import ImportProfile, ImportRowError, ImportRun
from app.queries.error_groups import count_groups, error_summary
from app.services import feeds
from app.tenancy import SYSTEM, tenant_context
from bench.generate import analyze, bench_tenant

ERRORS = 100_000
FILE_NAME = "bench-errors-100000.csv"
PROFILE = {"name": "bench-errors", "entity": "invoices", "mode": "upsert", "key": "number",
           "columns": {"N° facture": "number", "Code client": "account.external_ref",
                       "Date": "issued_on", "Montant TTC": "total"}}
NOT_A_DATE = "“%(value)s” is not a date: write it as %(expected)s."
NOT_A_NUMBER = "“%(value)s” is not a number: write it as %(expected)s."
NO_CUSTOMER = "No customer with the reference “%(ref)s”."
LEFT_OUT = "Not imported: line %(line)d of the same document failed."


def error_run(app: Flask) -> tuple[int, int]:
    """The run's id and the id of its largest group's first error (made on first use)."""
    with app.app_context():
        tenant = bench_tenant()
        with tenant_context(tenant.id, SYSTEM):
            run = db.session.scalar(select(ImportRun).where(ImportRun.file_name == FILE_NAME))
            held = 0 if run is None else db.session.scalar(select(func.count()).select_from(
                ImportRowError).where(ImportRowError.run_id == run.id))
            if held != ERRORS:
                print(f"  making a run with {ERRORS:,} row errors ...", flush=True)
                run = _make(tenant.id, run)
                db.session.commit()
                analyze()
            if run.error_groups is None:
                run.error_groups = count_groups(run)  # as the engine does when a run ends
                db.session.commit()
            run_id = run.id
            group_id = error_summary(run, 1).groups[0].first.id
        db.session.remove()
    return run_id, group_id


def _make(tenant_id: int, run: ImportRun | None) -> ImportRun:
    if run is not None:
        db.session.execute(delete(ImportRowError).where(ImportRowError.run_id == run.id))
    else:
        profile = db.session.scalar(select(ImportProfile).where(
            ImportProfile.name == PROFILE["name"])) or feeds.create_profile(dict(PROFILE))
        run = ImportRun(profile_id=profile.id, profile_version=profile.version, source="cli",
                        file_name=FILE_NAME, file_size=0, sha256="0" * 64, status="partial",
                        started_by="bench", rows_total=ERRORS, rows_done=ERRORS, failed=ERRORS)
        db.session.add(run)
        db.session.flush()
    rng = random.Random(2026)
    rows = [_error(rng, tenant_id, run.id, line) for line in range(2, ERRORS + 2)]
    for start in range(0, len(rows), 10_000):
        db.session.execute(insert(ImportRowError), rows[start:start + 10_000])
    return run


def _error(rng: random.Random, tenant_id: int, run_id: int, line: int) -> dict[str, Any]:
    number, ref, day, amount = f"F{line:07d}", "C001", "31/12/2025", "10,00"
    roll = rng.random()
    if roll < 0.4123:
        day = "pas une date"
        column, value, message_id, params = "Date", day, NOT_A_DATE, {
            "value": day, "expected": "31/12/2025"}
    elif roll < 0.7123:
        ref = f"C9{rng.randrange(500):04d}"
        column, value, message_id, params = "Code client", ref, NO_CUSTOMER, {"ref": ref}
    elif roll < 0.9123:
        amount = f"{rng.randrange(5000)},O0"
        column, value, message_id, params = "Montant TTC", amount, NOT_A_NUMBER, {
            "value": amount, "expected": "1234,56"}
    else:
        column, value, message_id, params = None, None, LEFT_OUT, {"line": line - 1}
    return {"tenant_id": tenant_id, "run_id": run_id, "line": line, "column": column,
            "value": value, "message": message_id % params, "message_id": message_id,
            "message_params": params, "raw": [number, ref, day, amount]}
