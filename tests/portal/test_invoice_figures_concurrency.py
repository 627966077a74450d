"""Two writers of invoices at once, on PostgreSQL: the partners' kept figures
(app/models/partner_figures.py) must not make them deadlock, whatever order they write their
partners' invoices in, and must still equal a recount once both have committed."""
from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from app.extensions import db
from app.models import Invoice, PartnerInvoiceFigure
from app.services.records import update_record
from app.tenancy import all_tenants_unsafe
from tests.portal.test_invoice_figures import _consistent

Step = Callable[[Connection], None]


@pytest.fixture
def two_partners(backend, make_partner, make_account, make_invoice):
    """Two partners with two open invoices each, in the same month and due date: the writers
    below share the same rows of figures."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    invoices = {}
    for name in ("north", "south"):
        partner = make_partner(name=f"Agence {name}")
        account = make_account(name=f"Client {name}", partner=partner.id)
        invoices[name] = [make_invoice(account=account.id).id for _ in range(2)]
    return invoices


def _pay(*ids: int) -> Step:
    """One statement paying one euro more of each invoice (its figures' open amount moves)."""
    return lambda conn: conn.execute(
        text("UPDATE invoices SET amount_paid = amount_paid + 1 WHERE id = ANY(:ids)"),
        {"ids": list(ids)})


def _concurrently(tenant_id: int, first: list[Step], second: list[Step]) -> list[BaseException]:
    """Run each writer's statements in its own transaction and connection, in lockstep: each
    statement of one runs while the other's transaction holds what its previous ones wrote.
    Returns the errors raised (a deadlock is one)."""
    barrier = threading.Barrier(2, timeout=30)
    engine = db.engine
    errors: list[BaseException] = []

    def writer(steps: list[Step]) -> None:
        try:
            with engine.connect() as conn, conn.begin():
                conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"),
                             {"t": str(tenant_id)})
                conn.execute(text("SET LOCAL lock_timeout = '20s'"))
                for step in steps:
                    barrier.wait()
                    step(conn)
        except BaseException as exc:  # noqa: BLE001  (reported to the test)
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(steps,)) for steps in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]


def test_two_writers_of_the_same_partners_in_opposite_orders_both_commit(tenant, two_partners):
    north, south = two_partners["north"], two_partners["south"]
    # One statement per partner, in opposite orders: the first writer holds the north's
    # figures when it asks for the south's, the second the south's when it asks for the north's.
    errors = _concurrently(tenant.id, [_pay(north[0]), _pay(south[0])],
                           [_pay(south[1]), _pay(north[1])])
    assert errors == []
    db.session.remove()
    _consistent()
    assert _pending_rows() == 0


def test_two_writers_of_both_partners_in_one_statement_each_both_commit(tenant, two_partners):
    north, south = two_partners["north"], two_partners["south"]
    # Each waits for the other's commit at most (a barrier between statements would make the
    # test itself wait for a writer that waits for the other's commit).
    errors = _concurrently(tenant.id, [_pay(north[0], south[0])], [_pay(south[1], north[1])])
    assert errors == []
    db.session.remove()
    _consistent()
    assert _pending_rows() == 0


def test_many_batches_of_overlapping_partners_at_once(tenant, two_partners):
    """Several statements each over both partners, in opposite orders, as two imports'
    batches of the same feeds would write them."""
    north, south = two_partners["north"], two_partners["south"]
    first: list[Any] = [_pay(north[0]), _pay(south[0], north[0]), _pay(south[0])] * 3
    second: list[Any] = [_pay(south[1]), _pay(north[1], south[1]), _pay(north[1])] * 3
    assert _concurrently(tenant.id, first, second) == []
    db.session.remove()
    _consistent()
    assert _pending_rows() == 0


def _pending_rows() -> int:
    with all_tenants_unsafe("test: pending rows of every tenant"):
        return db.session.scalar(select(func.count()).select_from(PartnerInvoiceFigure)
                                 .where(PartnerInvoiceFigure.pending_xid != 0))


def test_a_writer_reads_its_own_changes_before_its_commit_adds_them(tenant, two_partners):
    north = two_partners["north"]
    update_record(db.session.get(Invoice, north[0]), {"amount_paid": Decimal("100.00")})
    db.session.flush()
    assert _pending_rows() > 0  # this transaction's changes, not yet added
    _consistent()
    db.session.commit()
    assert _pending_rows() == 0
    _consistent()
