"""`python -m bench.subscribe`: the online subscription's server time per step, against
/healthz in the same run.

N customers (`--customers`, default 100) each go through `/<tenant>/subscribe/<offer>` as a
browser would: the offer's form, their details posted (checked whole, the resume link
mailed), the review, the contract PDF, the consent (the code mailed), the code page, the
code posted (checked, the contract sealed, the customer, contact, contract, mandate, order and
delivery written in one transaction, the signed PDF and the extranet invitation mailed), then
the thank-you page. Every request goes through the app in this process (no network between),
so its time is the server's; mail goes to a real SMTP server on loopback (aiosmtpd), whose
messages give the codes. Between two customers /healthz is asked as many times as there are
steps: the baseline is its p95 in the same run.

Printed: p50 and p95 per step, and each step's p95 as a multiple of /healthz's. SQLite in a
temporary file; PostgreSQL too with `--postgresql URL` (a database of its own, created when
missing and emptied: never the pages' bench database).
"""
from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from bench import RESULTS_DIR
from bench.databases import empty_schema, ensure_database

CREDITOR = {"name": "Telepeage Services", "street": "Rue de la Paix", "building_number": "12",
            "postal_code": "75002", "town": "Paris", "country": "FR",
            "creditor_identifier": "FR72ZZZ123456", "iban": "FR7630006000011234567890189"}
TEMPLATE = ("Entre {{ creditor.name }} et {{ customer.name }}, {{ customer.address }}.\n\n"
            "{{ customer.name }} souscrit à {{ offer.name }} pour {{ offer.price }} "
            "({{ offer.recurrence }}), mandat {{ mandate.reference }}.")
DETAILS = {"first_name": "Hélène", "last_name": "Dupré", "street": "Avenue des Châtaigniers",
           "building_number": "4", "postal_code": "69003", "town": "Lyon", "country": "FR",
           "phone": "", "iban": "FR76 3000 6000 0112 3456 7890 189", "bic": "",
           "custom.plaque": "AB-123-CD"}
STEPS = ("offer page", "details posted", "review", "contract PDF", "consent (code mailed)",
         "code page", "code posted (seal + fulfilment)", "thank-you page")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"

    def code_for(self, email: str) -> str:
        for message in reversed(self.messages):
            if message["To"] == email and "signature" in message["Subject"].lower():
                body = message.get_body(("plain",)).get_content()
                return re.search(r"\b(\d{6})\b", body).group(1)
        raise RuntimeError(f"no code mailed to {email}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _app(url: str, files: str, smtp_port: int) -> Any:
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                       "IMPORT_WATCH": False, "WEBHOOK_DISPATCH": False,
                       "JOBS_SCHEDULER": False, "FILES_DIR": files,
                       "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                       "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
                       "MAIL_FROM": "Relais <no-reply@relais.example>",
                       "PUBLIC_URL": "https://crm.example.com"})


def _prepare(app: Any) -> None:
    from app.extensions import db
    from app.services.custom_field_defs import create_field
    from app.services.offers import create_offer, set_creditor
    from app.services.tenants import create_tenant
    from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context

    with app.app_context():
        empty_schema()
        with all_tenants_unsafe("bench set-up"):
            tenant = create_tenant("bench", "Bench")
            db.session.commit()
        with tenant_context(tenant.id, SYSTEM):
            set_creditor(dict(CREDITOR))
            create_field({"entity": "accounts", "key": "plaque", "label_fr": "Plaque",
                          "label_en": "Plate", "type": "text", "is_required": True})
            create_offer({"code": "badge", "name": "Badge mensuel", "price": Decimal("2.50"),
                          "recurrence": "monthly", "contract_template": TEMPLATE,
                          "collected_fields": ["plaque"], "fulfilment_sku": "BADGE-V1",
                          "fulfilment_quantity": 1, "is_published": True})
            db.session.commit()


def _timed(times: list[float], client: Any, method: str, path: str, expect: int,
           **form: Any) -> Any:
    started = time.perf_counter()
    response = client.open(path, method=method, data=form or None)
    times.append(time.perf_counter() - started)
    if response.status_code != expect:
        raise RuntimeError(f"{method} {path}: {response.status_code}, not {expect}")
    return response


def _subscribe(app: Any, inbox: Inbox, email: str, steps: dict[str, list[float]]) -> None:
    """One customer, from the offer's form to the thank-you page."""
    client, page = app.test_client(), "/bench/subscribe/badge"
    times = iter(steps.values())
    _timed(next(times), client, "GET", page, 200)
    _timed(next(times), client, "POST", page, 302, **DETAILS, email=email)
    _timed(next(times), client, "GET", f"{page}/review", 200)
    _timed(next(times), client, "GET", f"{page}/contract.pdf", 200)
    _timed(next(times), client, "POST", f"{page}/review", 302, consent="yes")
    _timed(next(times), client, "GET", f"{page}/code", 200)
    _timed(next(times), client, "POST", f"{page}/code", 302, code=inbox.code_for(email))
    _timed(next(times), client, "GET", f"{page}/done", 200)


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def run(url: str, customers: int) -> dict[str, Any]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory(prefix="relais-bench-subscribe-") as files:
            app = _app(url.replace("{files}", files), files, port)
            _prepare(app)
            steps: dict[str, list[float]] = {step: [] for step in STEPS}
            health: list[float] = []
            probe = app.test_client()
            for n in range(customers):
                _subscribe(app, inbox, f"client{n}@example.com", steps)
                for _step in STEPS:
                    _timed(health, probe, "GET", "/healthz", 200)
    finally:
        controller.stop()
    healthz_p95 = _p(health, 95)
    return {
        "customers": customers,
        "healthz": {"p50_ms": round(_p(health, 50), 2), "p95_ms": round(healthz_p95, 2)},
        "steps": {step: {"p50_ms": round(_p(times, 50), 1), "p95_ms": round(_p(times, 95), 1),
                         "p95_vs_healthz": round(_p(times, 95) / healthz_p95, 1)}
                  for step, times in steps.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.subscribe", description=__doc__)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--postgresql", metavar="URL",
                        help="also on this PostgreSQL database (emptied first)")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    backends = [("sqlite", "sqlite:///{files}/bench.sqlite")]
    if args.postgresql:
        ensure_database(args.postgresql)
        backends.append(("postgresql", args.postgresql))
    for name, url in backends:
        result = run(url, args.customers)
        report[name] = result
        print(f"\n{name}: {args.customers} customers; /healthz p50 "
              f"{result['healthz']['p50_ms']} ms, p95 {result['healthz']['p95_ms']} ms")
        print(f"{'step':<34}{'p50 ms':>9}{'p95 ms':>9}{'p95 ÷ /healthz':>16}")
        for step, figures in result["steps"].items():
            print(f"{step:<34}{figures['p50_ms']:>9}{figures['p95_ms']:>9}"
                  f"{figures['p95_vs_healthz']:>15}×")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"subscribe-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\n{path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
