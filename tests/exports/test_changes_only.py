""" "Only what changed since the last export": never a version twice, never one skipped, even
when records change, or are created, while an export reads them (on both backends)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.entities import ENTITIES
from app.extensions import db
from app.models import Export, ExportMark, Invoice
from app.services.records import create_record, update_record
from app.tenancy import SYSTEM, tenant_context
from importers import export_rows, export_runs
from importers.export_runs import run_file_path


def sent(run) -> list[tuple[str, str]]:
    """The (number, amount paid) rows of a run's file."""
    lines = run_file_path(run).read_bytes().decode("utf-8-sig").splitlines()[1:]
    return [tuple(line.split(";")) for line in lines]


@pytest.fixture
def changes_export(make_export, make_account, make_invoice, monkeypatch):
    monkeypatch.setattr(export_rows, "PAGE_SIZE", 2)
    account = make_account(name="Compta")
    for n in range(1, 7):
        make_invoice(account=account.id, number=f"F{n}", amount_paid="0.00")
    return make_export(columns=["number", "amount_paid"], changes_only=True)


def write_meanwhile(app, tenant_id: int, after_rows: int, write) -> None:
    """Make the export's reader call `write` from another connection (another thread, as
    another web worker would) once it has read `after_rows` rows (read one at a time)."""
    from importers import export_rows

    original = export_runs.read_batches

    def reading(plan, stmt, versions=True):
        saved, export_rows.PAGE_SIZE = export_rows.PAGE_SIZE, 1
        try:
            for index, batch in enumerate(original(plan, stmt, versions), 1):
                yield batch
                if index == after_rows:

                    def other_worker() -> None:
                        with app.app_context(), tenant_context(tenant_id, SYSTEM):
                            write()
                            db.session.commit()
                            db.session.remove()

                    worker = threading.Thread(target=other_worker)
                    worker.start()
                    worker.join(30)
        finally:
            export_rows.PAGE_SIZE = saved

    return reading


def pay(number: str, amount: str) -> None:
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == number))
    update_record(invoice, {"amount_paid": amount})


def test_records_changed_during_an_export_are_sent_once_and_none_is_skipped(
    app, tenant, changes_export, run_now, monkeypatch
):
    account_id = db.session.scalar(select(Invoice.account_id))

    def meanwhile() -> None:
        pay("F1", "100.00")  # already read: its new version goes next time
        pay("F5", "500.00")  # not read yet, but after the run's snapshot: next time too
        create_record(
            ENTITIES["invoices"],
            {"account": account_id, "number": "F7", "status": "issued", "amount_paid": "7.00"},
        )

    monkeypatch.setattr(export_runs, "read_batches", write_meanwhile(app, tenant.id, 2, meanwhile))
    first = run_now(changes_export)
    monkeypatch.undo()
    assert first.status == "succeeded", first.message
    # The run reads one snapshot: what was committed when it started reading.
    assert sent(first) == [(f"F{n}", "0,00") for n in range(1, 7)]

    export = db.session.get(Export, changes_export.id)
    second = run_now(export)
    # Every change made behind the reader, and only those, once.
    assert sent(second) == [("F1", "100,00"), ("F5", "500,00"), ("F7", "7,00")]
    assert sent(run_now(export)) == []  # nothing changed since: nothing sent

    pay("F3", "30.00")
    db.session.commit()
    assert sent(run_now(export)) == [("F3", "30,00")]


def test_a_write_stamped_before_the_read_but_committed_after_it_is_not_skipped(
    tenant, changes_export, run_now
):
    first = run_now(changes_export)
    assert len(sent(first)) == 6
    # A transaction that stamped its row before the export read, and committed after it
    # (an import batch still open): its updated_at is older than the first run's read.
    late = first.read_at - timedelta(seconds=5)
    db.session.execute(
        update(Invoice)
        .where(Invoice.number == "F2")
        .values(amount_paid="2.00", updated_at=late)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    export = db.session.get(Export, changes_export.id)
    assert sent(run_now(export)) == [("F2", "2,00")]
    assert sent(run_now(export)) == []


def test_a_failed_delivery_moves_nothing_the_next_run_sends_its_rows(
    tenant, changes_export, run_now, monkeypatch
):
    from importers import destinations

    def refuse(*args):
        raise destinations.DeliveryFailed("the server is down")

    monkeypatch.setattr(destinations.Download, "deliver", lambda self, *a: refuse())
    failed = run_now(changes_export)
    assert failed.status == "failed" and failed.message == "the server is down"
    assert db.session.scalar(select(db.func.count()).select_from(ExportMark)) == 0
    monkeypatch.undo()
    again = run_now(db.session.get(Export, changes_export.id))
    assert again.status == "succeeded" and len(sent(again)) == 6


def test_marks_older_than_the_watermark_are_forgotten(
    app, tenant, changes_export, run_now, monkeypatch
):
    monkeypatch.setitem(app.config, "EXPORT_CHANGES_LAG_SECONDS", 0)
    first = run_now(changes_export)
    assert len(sent(first)) == 6
    # Every version sent is older than the watermark now: no mark needs to stay.
    assert db.session.scalar(select(db.func.count()).select_from(ExportMark)) == 0
    export = db.session.get(Export, changes_export.id)
    assert export.changes_since is not None
    assert export.changes_since <= datetime.now(UTC)
    assert sent(run_now(export)) == []
