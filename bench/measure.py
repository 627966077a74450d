"""Server time of pages, measured through the Flask test client logged in as the bench admin."""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from app.extensions import db
from app.models import Invoice, Role, User
from app.queries.keyset import encode_cursor
from app.tenancy import SYSTEM, tenant_context
from bench.generate import ADMIN_EMAIL, ADMIN_PASSWORD, TENANT_SLUG, bench_tenant

DEEP_FRACTION = 0.8  # the deep page starts 80 % of the way into the filtered list
AGENT_EMAIL = "agent@bench.example"


@dataclass
class Target:
    name: str
    url: str
    who: str = "staff"  # its client: "staff" (the admin), "agent" or "token" (API, bearer)


@dataclass
class Timing:
    name: str
    url: str
    median_ms: float
    p95_ms: float
    queries: int
    response_bytes: int
    samples_ms: list[float] = field(repr=False)
    ratio: float = 0.0  # median / median of the trivial route

    def as_json(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()
                if k != "samples_ms"} | {"samples_ms": [round(s, 3) for s in self.samples_ms]}


def targets(app: Flask) -> tuple[list[Target], dict[str, Any]]:
    """The measured URLs, the trivial route first, and what was picked to build them."""
    with app.app_context():
        tenant = bench_tenant()
        with tenant_context(tenant.id, SYSTEM):
            account_id, account_invoices = db.session.execute(
                select(Invoice.account_id, func.count()).group_by(Invoice.account_id)
                .order_by(func.count().desc(), Invoice.account_id).limit(1)).one()
            issued = select(Invoice).where(Invoice.status == "issued",
                                           Invoice.issued_on.isnot(None))
            issued_count = db.session.scalar(issued.with_only_columns(func.count(Invoice.id)))
            offset = int(issued_count * DEEP_FRACTION)
            deep = db.session.execute(
                issued.with_only_columns(Invoice.issued_on, Invoice.id)
                .order_by(Invoice.issued_on.desc(), Invoice.id.desc())
                .offset(offset).limit(1)).one()
            partner_id, partner_invoices = db.session.execute(
                select(Invoice.partner_id, func.count()).where(Invoice.partner_id.isnot(None))
                .group_by(Invoice.partner_id)
                .order_by(func.count().desc(), Invoice.partner_id).limit(1)).one()
            partner_offset = int(partner_invoices * DEEP_FRACTION)
            partner_deep = db.session.execute(
                select(Invoice.issued_on, Invoice.id).where(Invoice.partner_id == partner_id)
                .order_by(Invoice.issued_on.desc(), Invoice.id.desc())
                .offset(partner_offset).limit(1)).one()
            _ensure_agent(partner_id)
            deep_number = db.session.scalar(select(Invoice.number).where(Invoice.id == deep.id))
            since = db.session.execute(
                select(Invoice.updated_at).order_by(Invoice.updated_at.desc(), Invoice.id.desc())
                .offset(int(db.session.scalar(select(func.count(Invoice.id))) * 0.2))
                .limit(1)).scalar_one()
        db.session.remove()
    from bench.run_errors import ERRORS, error_run

    run_id, group_id = error_run(app)
    base = f"/{TENANT_SLUG}"
    status_list = f"{base}/invoices/?status=issued&sort=-issued_on"
    found = [
        Target("healthz (trivial)", "/healthz"),
        Target("invoices, default list", f"{base}/invoices/"),
        Target("invoices status=issued, page 1", status_list),
        Target(f"invoices status=issued, row {offset:,}",
               f"{status_list}&after={encode_cursor(deep.issued_on, deep.id)}"),
        Target("invoices, overdue", f"{base}/invoices/?status=overdue&sort=-issued_on"),
        Target("dashboard", f"{base}/"),
        Target("invoices of one account", f"{base}/invoices/?account={account_id}"),
        Target("account 360°", f"{base}/accounts/{account_id}/360"),
        Target("extranet: agent's home", f"{base}/portal/", "agent"),
        Target("extranet: agent's invoices", f"{base}/portal/invoices/?sort=-issued_on",
               "agent"),
        Target(f"extranet: invoices, row {partner_offset:,}",
               f"{base}/portal/invoices/?sort=-issued_on&after="
               f"{encode_cursor(partner_deep.issued_on, partner_deep.id)}", "agent"),
        Target("API: invoices, page 1", "/api/v1/invoices?limit=50&sort=-issued_on&status=issued",
               "token"),
        Target(f"API: invoices, row {offset:,}",
               "/api/v1/invoices?limit=50&sort=-issued_on&status=issued&cursor="
               f"{encode_cursor(deep.issued_on, deep.id)}", "token"),
        Target("API: updated_since, last 20 %",
               f"/api/v1/invoices?limit=50&updated_since={quote(since.isoformat())}", "token"),
        # Search, typed without accents: "Hôtel André" is about one customer in 1,500, and a
        # rare word ("andre lyon", one in 2,000) must read all 100,000 before answering.
        Target("customers, q=hotel andre", f"{base}/accounts/?q=hotel+andre"),
        Target("customers, q=andre lyon", f"{base}/accounts/?q=andre+lyon"),
        Target("customers, q=zzz (none)", f"{base}/accounts/?q=zzz"),
        Target("header search, q=hotel andre", f"{base}/search?q=hotel+andre"),
        Target("header search, invoice number", f"{base}/search?q={quote(deep_number)}"),
        Target("API: customers, q=hotel andre", "/api/v1/accounts?limit=50&q=hotel+andre",
               "token"),
        # A run with 100,000 row errors: its page (errors by kind, first hundred lines), its
        # largest kind's page, and the API's first page of errors and summary by kind.
        Target(f"run page, {ERRORS:,} errors", f"{base}/feeds/runs/{run_id}"),
        Target("run page, largest kind", f"{base}/feeds/runs/{run_id}?group={group_id}"),
        Target("API: run errors, page 1", f"/api/v1/imports/{run_id}/errors?limit=100",
               "token"),
        Target("API: run errors by kind", f"/api/v1/imports/{run_id}/errors/summary",
               "token"),
    ]
    picked = {"account_id": account_id, "account_invoices": account_invoices,
              "issued_invoices": issued_count, "deep_row": offset,
              "agent_partner_id": partner_id, "agent_invoices": partner_invoices,
              "agent_deep_row": partner_offset, "error_run_id": run_id}
    return found, picked


def _token_client(app: Flask) -> FlaskClient:
    """A client with a new read token of the bench tenant (the previous ones revoked)."""
    from app.models import ApiToken
    from app.services.tokens import create_token

    with app.app_context():
        tenant = bench_tenant()
        with tenant_context(tenant.id, SYSTEM):
            for token in db.session.scalars(select(ApiToken).where(ApiToken.name == "bench")):
                db.session.delete(token)
            _token, secret = create_token("bench", "read")
            db.session.commit()
        db.session.remove()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def _ensure_agent(partner_id: int) -> None:
    """The extranet's bench user: an agent of the busiest partner (made once, kept)."""
    from app.services.tenants import create_user, update_user

    agent = db.session.scalar(select(User).where(User.email == AGENT_EMAIL))
    if agent is None:
        create_user({"email": AGENT_EMAIL, "role": Role.AGENT.value, "partner_id": partner_id,
                     "password": ADMIN_PASSWORD, "full_name": "Agent du banc"})
    elif agent.partner_id != partner_id:
        update_user(agent, {"partner_id": partner_id})
    db.session.commit()


def login(app: Flask) -> dict[str, FlaskClient]:
    """A logged-in client per kind of user: the admin (back office), the agent (extranet),
    and an API client with a fresh read token."""
    clients = {"token": _token_client(app)}
    for who, email in (("staff", ADMIN_EMAIL), ("agent", AGENT_EMAIL)):
        client = app.test_client()
        response = client.post(f"/{TENANT_SLUG}/login",
                               data={"email": email, "password": ADMIN_PASSWORD})
        if response.status_code != 302:
            raise RuntimeError(f"bench login of {email} failed: HTTP {response.status_code}")
        clients[who] = client
    return clients


def measure(app: Flask, clients: dict[str, FlaskClient], found: list[Target], warmup: int,
            runs: int) -> list[Timing]:
    """Time every target `runs` times, round-robin, so a burst of load hits them all alike."""
    for _ in range(warmup):
        for target in found:
            _get(clients[target.who], target.url)
    samples: list[list[float]] = [[] for _ in found]
    for _ in range(runs):
        for target, times in zip(found, samples, strict=True):
            client = clients[target.who]
            started = time.perf_counter()
            _get(client, target.url)
            times.append((time.perf_counter() - started) * 1000)
    timings = []
    for target, times in zip(found, samples, strict=True):
        queries, size = _count_queries(app, clients[target.who], target.url)
        timings.append(Timing(target.name, target.url, statistics.median(times), _p95(times),
                              queries, size, times))
    return timings


def _get(client: FlaskClient, url: str) -> bytes:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: HTTP {response.status_code}")
    return response.data


def _p95(samples: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(samples)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def _count_queries(app: Flask, client: FlaskClient, url: str) -> tuple[int, int]:
    """SQL statements run by one (untimed) request, and the response size."""
    with app.app_context():
        engine = db.engine
    statements = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        size = len(_get(client, url))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements), size
