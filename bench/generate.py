"""The bench tenant: created through the service layer, its rows generated and loaded in bulk.

Rows are generated in Python from a fixed seed (every run builds the same data) and loaded with
executemany on SQLite and COPY on PostgreSQL, in one transaction, bypassing the ORM: this is a
fixture, like a platform job, so it writes tenant_id itself.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any

from alembic import command
from alembic.runtime.migration import MigrationContext
from flask import Flask, current_app
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from app.entities import ENTITIES
from app.extensions import db, migrations
from app.models import Account, Invoice, Partner, Role, Tenant
from app.search_text import search_text
from app.services.tenants import create_tenant_with_admin, create_user
from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context
from bench import databases
from bench.names import AGENCIES, CITIES, FIRST_NAMES, STREETS, SURNAMES, TRADES

DATASET_VERSION = 1
TENANT_SLUG = "bench"
ADMIN_EMAIL = "admin@bench.example"
ADMIN_PASSWORD = "bench-password-2026"
YEARS = 5
SALES_USERS = 8


@dataclass(frozen=True)
class Dataset:
    partners: int = 200
    accounts: int = 100_000
    invoices: int = 1_000_000
    seed: int = 2026

    @property
    def sizes(self) -> tuple[int, int, int]:
        return self.partners, self.accounts, self.invoices

    @property
    def tenant_name(self) -> str:
        # Records how the rows were made, so a cached tenant from another generator is rebuilt.
        return f"Relais bench v{DATASET_VERSION}, seed {self.seed}"


def prepare(app: Flask, backend: databases.Backend, dataset: Dataset, regenerate: bool) -> str:
    """Make sure the database holds `dataset`; say whether it was cached or generated."""
    databases.create_if_missing(backend)
    note = ""
    if not regenerate:
        with app.app_context():
            held = _held(dataset)
            cached = held == dataset.sizes
            if cached and upgrade_schema():
                # Migrations must keep the data: a table rebuilt on SQLite can cascade deletes.
                after = _held(dataset)
                if after != held:
                    cached = False
                    note = f" after migrations changed its rows {held} -> {after} (MIGRATION BUG)"
                    print(f"  WARNING: the migrations just applied changed the bench data: "
                          f"(partners, accounts, invoices) {held} -> {after}", flush=True)
                else:
                    analyze()  # new indexes need statistics too
            db.engine.dispose()
        if cached:
            return "cached"
    databases.reset(backend)
    started = time.perf_counter()
    with app.app_context():
        upgrade_schema()
        _generate(dataset)
        analyze()
        db.engine.dispose()
    return f"generated in {time.perf_counter() - started:.0f} s{note}"


def bench_tenant() -> Tenant:
    with all_tenants_unsafe("bench"):
        return db.session.scalar(select(Tenant).where(Tenant.slug == TENANT_SLUG))


def _held(dataset: Dataset) -> tuple[int, ...] | None:
    """How many partners, accounts and invoices the bench tenant holds; None if not this data."""
    if not inspect(db.engine).has_table("alembic_version"):
        return None
    tenant = bench_tenant()
    if tenant is None or tenant.name != dataset.tenant_name:
        return None
    with tenant_context(tenant.id, SYSTEM):
        counts = tuple(db.session.scalar(select(func.count(model.id)))
                       for model in (Partner, Account, Invoice))
    db.session.remove()
    return counts


def upgrade_schema() -> bool:
    """`flask db upgrade`: bring the schema to the migrations' head; True when it changed."""
    before = _revision()
    command.upgrade(migrations(current_app).get_config(), "head")
    return _revision() != before


def _revision() -> tuple[str, ...]:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_heads()


def analyze() -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does after a bulk load
            try:  # write the load out now rather than while timing (superuser or pg_checkpoint)
                conn.execute(text("CHECKPOINT"))
            except DBAPIError:
                pass
        else:
            conn.execute(text("ANALYZE"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def _generate(dataset: Dataset) -> None:
    tenant = create_tenant_with_admin(TENANT_SLUG, dataset.tenant_name, ADMIN_EMAIL,
                                      ADMIN_PASSWORD)
    with tenant_context(tenant.id, SYSTEM):
        owners = [create_user({"email": f"sales{n}@bench.example", "role": Role.SALES.value,
                               "full_name": f"Commercial {n}"}).id
                  for n in range(1, SALES_USERS + 1)]
    db.session.commit()
    tenant_id = tenant.id
    db.session.remove()
    rng = random.Random(dataset.seed)
    sqlite = db.engine.dialect.name == "sqlite"
    stamp = _sqlite_stamp if sqlite else _postgres_stamp
    load = _sqlite_load if sqlite else _postgres_load
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if sqlite:
            cursor.execute("PRAGMA cache_size=-1000000")  # 1 GB while loading
        load(cursor, "partners", (*_PARTNER_COLUMNS, "search_text"),
             _searched("partners", _PARTNER_COLUMNS, _partners(rng, dataset, tenant_id, stamp)))
        partner_ids = [row[0] for row in _rows(cursor, "partners", "id", tenant_id)]
        load(cursor, "accounts", (*_ACCOUNT_COLUMNS, "search_text"),
             _searched("accounts", _ACCOUNT_COLUMNS,
                       _accounts(rng, dataset, tenant_id, stamp, partner_ids, owners)))
        accounts = _rows(cursor, "accounts", "id, partner_id", tenant_id)
        load(cursor, "invoices", (*_INVOICE_COLUMNS, "search_text"),
             _searched("invoices", _INVOICE_COLUMNS,
                       _invoices(rng, dataset, tenant_id, stamp, accounts)))
        raw.commit()
    finally:
        raw.close()


def _searched(entity: str, columns: tuple[str, ...], rows: Iterator[tuple]) -> Iterator[tuple]:
    """The rows with their search text, as the record writer computes it."""
    spec = ENTITIES[entity]
    for row in rows:
        yield (*row, search_text(spec, dict(zip(columns, row, strict=True))))


def _rows(cursor: Any, table: str, columns: str, tenant_id: int) -> list[tuple]:
    cursor.execute(f"SELECT {columns} FROM {table} WHERE tenant_id = {int(tenant_id)} ORDER BY id")
    return [tuple(row) for row in cursor.fetchall()]


def _sqlite_load(cursor: Any, table: str, columns: tuple[str, ...], rows: Iterator[tuple]) -> None:
    marks = ", ".join("?" for _ in columns)
    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def _postgres_load(cursor: Any, table: str, columns: tuple[str, ...],
                   rows: Iterator[tuple]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# Values are written as the ORM stores them: text dates, money as decimal text (SQLite's
# NUMERIC affinity makes it a number), UTC timestamps (SQLite keeps them without the offset).
def _sqlite_stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _postgres_stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _moment(day: date, rng: random.Random) -> datetime:
    return datetime(day.year, day.month, day.day, 7, tzinfo=UTC) + timedelta(
        seconds=rng.randrange(11 * 3600))


_COMMON = ("tenant_id", "external_ref", "custom", "created_at", "updated_at")
_PARTNER_COLUMNS = (*_COMMON, "name", "email", "phone")
_ACCOUNT_COLUMNS = (*_COMMON, "name", "kind", "email", "phone", "address_line", "postal_code",
                    "city", "country", "vat_number", "owner_id", "partner_id")
_INVOICE_COLUMNS = (*_COMMON, "number", "account_id", "partner_id", "issued_on", "due_on",
                    "status", "total_excl_tax", "tax_total", "total", "amount_paid", "currency")


def _phone(rng: random.Random) -> str:
    return f"+33 {rng.randint(1, 7)} {rng.randint(10, 99)} {rng.randint(10, 99)} " \
           f"{rng.randint(10, 99)} {rng.randint(10, 99)}"


def _partners(rng: random.Random, dataset: Dataset, tenant_id: int,
              stamp: Callable[[datetime], str]) -> Iterator[tuple]:
    first_day = date.today() - timedelta(days=YEARS * 365 + 30)
    for n in range(1, dataset.partners + 1):
        created = stamp(_moment(first_day + timedelta(days=rng.randrange(30)), rng))
        city = rng.choice(CITIES)[0]
        yield (tenant_id, f"P{n:04d}", "{}", created, created,
               f"{rng.choice(AGENCIES)} {city} {n}", f"agence{n}@partenaires.example",
               _phone(rng))


def _accounts(rng: random.Random, dataset: Dataset, tenant_id: int,
              stamp: Callable[[datetime], str], partner_ids: list[int],
              owners: list[int]) -> Iterator[tuple]:
    first_day = date.today() - timedelta(days=YEARS * 365)
    for n in range(1, dataset.accounts + 1):
        created = stamp(_moment(first_day + timedelta(days=rng.randrange(YEARS * 365)), rng))
        company = rng.random() < 0.85
        last = rng.choice(SURNAMES)
        name = f"{rng.choice(TRADES)} {last}" if company else f"{rng.choice(FIRST_NAMES)} {last}"
        city, postal_code = rng.choice(CITIES)
        country = "FR" if rng.random() < 0.95 else rng.choice(("BE", "CH", "LU"))
        # A few big agencies bring most customers; one account in ten comes direct.
        partner = partner_ids[int(len(partner_ids) * rng.random() ** 2)] \
            if rng.random() < 0.9 else None
        yield (tenant_id, f"C{n:06d}", "{}", created, created, name,
               "company" if company else "person", f"contact{n}@client{n}.example",
               _phone(rng), f"{rng.randint(1, 150)} {rng.choice(STREETS)}", postal_code, city,
               country, f"FR{rng.randint(10, 99)}{rng.randint(10**8, 10**9 - 1)}" if company
               else None, rng.choice(owners) if rng.random() < 0.9 else None, partner)


# (maximum age in days, [(status, weight), ...]): recent invoices are open, old ones settled.
_STATUS_BY_AGE = (
    (15, (("draft", 30), ("issued", 70))),
    (60, (("draft", 5), ("issued", 55), ("paid", 40))),
    (120, (("issued", 20), ("overdue", 25), ("paid", 55))),
    (10**6, (("issued", 6), ("overdue", 4), ("paid", 86), ("cancelled", 4))),
)


_STATUS_CHOICES = [(limit, [status for status, _ in weights],
                    list(accumulate(weight for _, weight in weights)))
                   for limit, weights in _STATUS_BY_AGE]


def _status(rng: random.Random, age: int) -> str:
    for limit, statuses, cum_weights in _STATUS_CHOICES:
        if age < limit:
            return rng.choices(statuses, cum_weights=cum_weights)[0]
    raise AssertionError(age)


def _invoices(rng: random.Random, dataset: Dataset, tenant_id: int,
              stamp: Callable[[datetime], str], accounts: list[tuple]) -> Iterator[tuple]:
    today = date.today()
    first_day = today - timedelta(days=YEARS * 365)
    # Ids grow with time, as when invoices arrive night after night; a few accounts buy a lot.
    days = sorted(rng.randrange(YEARS * 365) for _ in range(dataset.invoices))
    buyers = list(accounts)
    rng.shuffle(buyers)
    for seq, offset in enumerate(days, 1):
        day = first_day + timedelta(days=offset)
        status = _status(rng, (today - day).days)
        account_id, partner_id = buyers[int(len(buyers) * rng.random() ** 2)]
        excl = min(max(int(rng.lognormvariate(11, 1.1)), 1_000), 5_000_000)
        tax = excl * rng.choice((200, 200, 200, 100, 55)) // 1000  # VAT 20 %, 10 %, 5.5 %
        total = excl + tax
        paid = total if status == "paid" else (
            total * rng.randint(1, 9) // 10 if status in ("issued", "overdue")
            and rng.random() < 0.15 else 0)
        issued = None if status == "draft" else day
        due = None if issued is None or rng.random() < 0.07 else day + timedelta(
            days=rng.choice((30, 30, 45, 60)))
        created = _moment(day, rng)
        updated = created + timedelta(days=rng.randint(10, 60)) if status == "paid" else created
        yield (tenant_id, f"ERP-{seq:07d}", "{}", stamp(created), stamp(updated),
               f"F{day.year}-{seq:07d}", account_id, partner_id,
               issued.isoformat() if issued else None, due.isoformat() if due else None,
               status, _money(excl), _money(tax), _money(total), _money(paid), "EUR")
