"""The bulk upsert benchmark: POST /api/v1/invoices/bulk on the generated large tenant.

`python -m bench --suite bulk` (or `all`). Per backend, on the pages' tenant (1,000,000 invoices,
100,000 accounts): CALLS calls of 10,000 new invoices each (customers by external_ref, every
field an accounting export carries), then the same calls again (every item unchanged), then
once more with a payment recorded on each (every item updated), after an untimed call of
1,000 other new invoices. Each call is timed through the
Flask test client with its body encoded beforehand; /healthz is timed in the same run as the
trivial endpoint the figures are compared with. The invoices and audit events written are
removed afterwards, so that the tenant stays what the page benchmark expects.

One more call of new items, one of which gives the number of the item before it, is timed
against the new pass's median call: the database refuses the call's write once, and only that
item then goes alone.

Where a call of new items spends its time is read on one more call after the passes (its
figures are not in theirs): each table's insert statements, the commit, and the rest (the
JSON body, reading and checking the items, the reads of customers and keys, planning,
binding the values, the answer), in milliseconds.

The database's own ceiling is measured in the same run: the same new invoices, already
checked and with their customers resolved, as they are stored (the model's defaults and the
search text filled in, untimed), written straight into the table by the same statements the
bulk path uses (executemany on SQLite, COPY on PostgreSQL) with no reading, checking, audit
or answer, each call in its own transaction, committed; deleted (untimed) once all are
written, so that each call writes into a table holding the calls before it, as the new
pass's do. Bulk
creation cannot go faster than that. Each pass and the raw writes are also timed in CPU
seconds (this process's and, on PostgreSQL, those of the database's server processes):
`x_raw_cpu`, the new pass against the raw writes in CPU time, holds when other work on the
machine slows the clock.
"""
from __future__ import annotations

import json
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.entities import ENTITIES
from app.extensions import db
from app.models import Account, ApiToken, AuditEvent, Invoice
from app.services.record_batches import RecordWriter
from app.services.record_sql import BulkSQL
from app.services.tokens import create_token
from app.tenancy import SYSTEM, tenant_context
from bench.databases import ServerCPU
from bench.generate import bench_tenant

ITEMS = 10_000
CALLS = 5
WARMUP_ITEMS = 1_000
TARGET_ITEMS_PER_S = 20_000
TOKEN = "bench-bulk"
PREFIX = "BULK-"


def run(app: Flask) -> dict[str, Any]:
    """Time the three passes; the bulk invoices are removed whatever happens."""
    client, tenant_id = _client(app)
    warmup, *bodies, split, twice = _bodies(app, tenant_id, CALLS + 3)
    try:
        _pass(client, [warmup[:WARMUP_ITEMS]], "created")  # caches filled, code loaded
        healthz = _healthz(app)
        passes = {}
        for name, expected, payloads in (("new", "created", bodies),
                                         ("unchanged", "unchanged", bodies),
                                         ("updated", "updated", _paid(bodies))):
            passes[name] = _pass(client, payloads, expected)
            print(f"  {name}: {passes[name]['items_per_s']:,.0f} items/s", flush=True)
        raw = _raw_writes(app, tenant_id, bodies)
        print(f"  raw table writes: {raw['items_per_s']:,.0f} items/s", flush=True)
        passes["new"]["split_ms"] = _split(client, split)
        passes["new"]["twice_ms"] = _twice(client, twice)
    finally:
        _clean(app, tenant_id)
    passes["new"]["x_raw"] = round(passes["new"]["items_per_s"] / raw["items_per_s"], 2)
    # The same share in CPU time (this process's and the database server's), which the
    # machine's other work disturbs far less than the clock.
    passes["new"]["x_raw_cpu"] = round(raw["cpu_seconds"] / passes["new"]["cpu_seconds"], 2) \
        if passes["new"]["cpu_seconds"] else None
    for result in passes.values():
        result["x_healthz"] = round(result["median_call_ms"] / healthz, 1)
        result["meets_target"] = result["items_per_s"] >= TARGET_ITEMS_PER_S
    return {"items_per_call": ITEMS, "calls": CALLS, "target_items_per_s": TARGET_ITEMS_PER_S,
            "healthz_median_ms": round(healthz, 2), "raw_writes": raw, "passes": passes}


def _client(app: Flask) -> tuple[FlaskClient, int]:
    with app.app_context():
        tenant = bench_tenant()
        with tenant_context(tenant.id, SYSTEM):
            for token in db.session.scalars(select(ApiToken).where(ApiToken.name == TOKEN)):
                db.session.delete(token)
            _token, secret = create_token(TOKEN, "read,write")
            db.session.commit()
        tenant_id = tenant.id
        db.session.remove()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client, tenant_id


def _bodies(app: Flask, tenant_id: int, calls: int) -> list[list[dict[str, Any]]]:
    """`calls` lists of ITEMS new invoices of random customers, as an ERP would send them."""
    with app.app_context(), tenant_context(tenant_id, SYSTEM):
        refs = db.session.scalars(select(Account.external_ref).where(
            Account.external_ref.is_not(None)).order_by(Account.id)).all()
        db.session.remove()
    rng = random.Random(2026)
    first = date.today() - timedelta(days=60)
    bodies = []
    for call in range(calls):
        items = []
        for n in range(ITEMS):
            day = first + timedelta(days=rng.randrange(60))
            excl = rng.randrange(5_000, 500_000)
            tax = excl // 5
            items.append({
                "external_ref": f"{PREFIX}{call}-{n:05d}", "number": f"B{call}-{n:05d}",
                "account_ref": rng.choice(refs), "issued_on": day.isoformat(),
                "due_on": (day + timedelta(days=30)).isoformat(), "status": "issued",
                "total_excl_tax": _money(excl), "tax_total": _money(tax),
                "total": _money(excl + tax), "amount_paid": "0.00", "currency": "EUR"})
        bodies.append(items)
    return bodies


def _paid(bodies: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    return [[{"external_ref": item["external_ref"], "amount_paid": item["total"],
              "status": "paid"} for item in items] for items in bodies]


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _pass(client: FlaskClient, bodies: list[list[dict[str, Any]]], expected: str
          ) -> dict[str, Any]:
    times = []
    with client.application.app_context():
        watch = db.engine.raw_connection()
    cpu = 0.0
    for items in bodies:
        payload = json.dumps({"items": items}).encode()
        server, process = ServerCPU(watch.driver_connection), time.process_time()
        started = time.perf_counter()
        response = client.post("/api/v1/invoices/bulk", data=payload,
                               content_type="application/json")
        times.append(time.perf_counter() - started)
        cpu += time.process_time() - process + (server.seconds() or 0.0)
        if response.status_code != 200:
            raise RuntimeError(f"bulk upsert: HTTP {response.status_code}: "
                               f"{response.data[:300]!r}")
        counts = response.get_json()
        if counts[expected] != len(items):
            raise RuntimeError(f"bulk upsert: expected {len(items)} {expected}, got {counts}")
    watch.close()
    total = sum(len(items) for items in bodies)
    return {"items": total, "seconds": round(sum(times), 3),
            "items_per_s": round(total / sum(times)), "cpu_seconds": round(cpu, 2),
            "median_call_ms": round(statistics.median(times) * 1000, 1),
            "slowest_call_ms": round(max(times) * 1000, 1)}


def _split(client: FlaskClient, items: list[dict[str, Any]]) -> dict[str, int]:
    """One call of new items, with each table's inserts and the commit timed apart."""
    spent: dict[str, float] = defaultdict(float)
    payload = json.dumps({"items": items}).encode()
    with _timed(BulkSQL, "insert", spent, lambda sql, columns, rows, table=None, **kw:
                f"insert {(sql.table if table is None else table).name}"), \
            _timed(Session, "commit", spent, lambda session: "commit"):
        started = time.perf_counter()
        response = client.post("/api/v1/invoices/bulk", data=payload,
                               content_type="application/json")
        call = time.perf_counter() - started
    if response.status_code != 200 or response.get_json()["created"] != len(items):
        raise RuntimeError(f"bulk upsert: HTTP {response.status_code}: {response.data[:300]!r}")
    split = {name: round(seconds * 1000) for name, seconds in spent.items()}
    split["rest"] = round((call - sum(spent.values())) * 1000)
    split["call"] = round(call * 1000)
    return split


def _twice(client: FlaskClient, items: list[dict[str, Any]]) -> float:
    """One call of new items, one of which gives the number of the item before it: ms."""
    items[ITEMS // 2]["number"] = items[ITEMS // 2 - 1]["number"]
    payload = json.dumps({"items": items}).encode()
    started = time.perf_counter()
    response = client.post("/api/v1/invoices/bulk", data=payload,
                           content_type="application/json")
    call = time.perf_counter() - started
    counts = response.get_json() if response.status_code == 200 else {}
    if (counts.get("created"), counts.get("failed")) != (len(items) - 1, 1):
        raise RuntimeError(f"bulk upsert: HTTP {response.status_code}: {response.data[:300]!r}")
    return round(call * 1000, 1)


@contextmanager
def _timed(owner: type, method: str, spent: dict[str, float], name: Any) -> Iterator[None]:
    """`owner.method` timed into `spent` under `name(*its arguments)`; an iterable of rows is
    read before the clock starts, so that building the values counts as the rest."""
    original = getattr(owner, method)

    def timed(*args: Any, **kwargs: Any) -> Any:
        args = tuple(list(a) if isinstance(a, Iterator) else a for a in args)
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name(*args, **kwargs)] += time.perf_counter() - started

    with mock.patch.object(owner, method, timed):
        yield


def _raw_writes(app: Flask, tenant_id: int, bodies: list[list[dict[str, Any]]]
                ) -> dict[str, Any]:
    """The new invoices of each call written straight into the table and committed."""
    with app.app_context(), tenant_context(tenant_id, SYSTEM):
        customers = dict(db.session.execute(select(
            Account.external_ref, Account.id).where(Account.external_ref.is_not(None))).all())
        partners = dict(db.session.execute(select(Account.id, Account.partner_id)).all())
        sql = BulkSQL(Invoice.__table__, "external_ref", tenant_id)
        writer = RecordWriter(ENTITIES["invoices"])
        times = []
        cpu = 0.0
        watch = db.engine.raw_connection()
        for call, items in enumerate(bodies):
            now = datetime.now(UTC)
            rows = [{"external_ref": f"RAW-{call}-{n}", "number": f"R{call}-{n}",
                     "account_id": (account := customers[item["account_ref"]]),
                     "partner_id": partners[account],
                     "issued_on": date.fromisoformat(item["issued_on"]),
                     "due_on": date.fromisoformat(item["due_on"]), "status": item["status"],
                     **{name: Decimal(item[name]) for name in
                        ("total_excl_tax", "tax_total", "total", "amount_paid")},
                     "currency": item["currency"], "custom": {}, "created_at": now,
                     "updated_at": now} for n, item in enumerate(items)]
            rows = [writer.completed(row) for row in rows]  # as stored: search text, defaults
            server, process = ServerCPU(watch.driver_connection), time.process_time()
            started = time.perf_counter()
            sql.insert_dicts(Invoice.__table__, rows)
            db.session.commit()
            times.append(time.perf_counter() - started)
            cpu += time.process_time() - process + (server.seconds() or 0.0)
        # Removed once all are written: each call writes into the table as the new pass
        # found it, holding the calls before it (not into pages a deletion just freed).
        db.session.execute(delete(Invoice).where(Invoice.external_ref.like("RAW-%")))
        db.session.commit()
        watch.close()
        db.session.remove()
    total = sum(len(items) for items in bodies)
    return {"items": total, "seconds": round(sum(times), 3),
            "items_per_s": round(total / sum(times)), "cpu_seconds": round(cpu, 2),
            "median_call_ms": round(statistics.median(times) * 1000, 1)}


def _healthz(app: Flask, runs: int = 50) -> float:
    client = app.test_client()
    times = []
    for _ in range(runs + 5):
        started = time.perf_counter()
        client.get("/healthz")
        times.append(time.perf_counter() - started)
    return statistics.median(times[5:]) * 1000


def _clean(app: Flask, tenant_id: int) -> None:
    with app.app_context(), tenant_context(tenant_id, SYSTEM):
        ids = select(Invoice.id).where(Invoice.external_ref.like(f"{PREFIX}%"))
        db.session.execute(delete(AuditEvent).where(
            AuditEvent.entity == "invoices", AuditEvent.record_id.in_(ids)))
        db.session.execute(delete(Invoice).where(Invoice.external_ref.like(f"{PREFIX}%")))
        db.session.commit()
        db.session.remove()


def table(name: str, result: dict[str, Any]) -> str:
    head = f"{'pass':<10} {'items/s':>9} {'median call ms':>15} {'x healthz':>10}  " \
           f"≥ {TARGET_ITEMS_PER_S:,} items/s"
    raw = result["raw_writes"]
    lines = ["", f"{name} — bulk upsert, {result['calls']} calls × {result['items_per_call']:,} "
             f"invoices (healthz median {result['healthz_median_ms']} ms)", head,
             "-" * len(head)]
    for pass_name, p in result["passes"].items():
        lines.append(f"{pass_name:<10} {p['items_per_s']:>9,} {p['median_call_ms']:>15} "
                     f"{p['x_healthz']:>10}  {'ok' if p['meets_target'] else 'MISSED'}")
    lines.append(f"{'raw writes':<10} {raw['items_per_s']:>9,} {raw['median_call_ms']:>15}"
                 f"{'':>12}  the table's own insert speed (new: "
                 f"{result['passes']['new']['x_raw']} × it; in CPU time "
                 f"{result['passes']['new'].get('x_raw_cpu')} × it)")
    twice = result["passes"]["new"].get("twice_ms")
    if twice:
        lines.append(f"one more call of new items, one giving the number of the item before it: "
                     f"{twice:,} ms ({twice / result['passes']['new']['median_call_ms']:.2f} "
                     "x the new pass's median call)")
    split = result["passes"]["new"].get("split_ms")
    if split:
        lines.append("one more call of new items, ms: " + ", ".join(
            f"{name} {ms:,}" for name, ms in split.items()))
    return "\n".join(lines)
