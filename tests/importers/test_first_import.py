"""A first import (every row new) gives the tenant what it always gave: records with their
custom values, lines and search text, row errors named by line while the good rows stay, the
run's counts, webhook deliveries and audit events, nothing of another tenant touched, and a
run that dies halfway re-runs to the state of one clean run. New rows go in a batch at a time
(executemany on SQLite; on PostgreSQL COPY into a staging table, then INSERT … SELECT … ON
CONFLICT DO NOTHING), so the cases where that batch meets a row the database refuses are
here too."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import delete, func, select

from api.schemas.imports import run_fields
from app.entities import ENTITIES
from app.errors import ValidationError
from app.extensions import db
from app.models import AuditEvent, ImportRun, Invoice, WebhookDelivery
from app.queries.feeds import find_profile
from app.search_text import matches
from app.services import feeds, import_revert
from app.services.import_revert import revert_run
from app.services.records import create_record, update_record
from app.services.webhooks import create_endpoint
from app.tenancy import SYSTEM, tenant_context
from importers import engine, recovery, runs
from importers.row_messages import error_message
from tests.importers.conftest import by_key, row_errors

COLUMNS = {
    "Réf": "external_ref",
    "N° facture": "number",
    "Code client": "account.external_ref",
    "Date": "issued_on",
    "Total TTC": "total",
    "Promoteur": "custom.promoteur",
}
HEADER = "Réf;N° facture;Code client;Date;Total TTC;Promoteur\n"


def invoice_rows(count: int, start: int = 0, customers: int = 3) -> str:
    return "".join(
        f"R-{n:04d};FA-{n:04d};C{n % customers};{1 + n % 28:02d}/10/2026;"
        f"1 234,{n % 100:02d};{'Nexity' if n % 2 else ''}\n"
        for n in range(start, start + count)
    )


@pytest.fixture
def customers(make_partner, make_account):
    """Three customers C0..C2, the first of a partner (his invoices take it)."""
    partner = make_partner(external_ref="P1")
    return [
        make_account(
            external_ref=f"C{n}", name=f"Client {n}", **({"partner": partner.id} if n == 0 else {})
        )
        for n in range(3)
    ]


@pytest.fixture
def profile(make_profile, make_custom_field):
    make_custom_field("invoices", "promoteur", "text")
    return make_profile("invoices", COLUMNS, name="factures-nuit")


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(engine, "BATCH_ROWS", 4)


def test_every_good_row_is_created_and_each_bad_one_named_by_its_line(
    app, customers, profile, feed_file, run_import, small_batches, monkeypatch
):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    create_endpoint(
        {"url": "http://127.0.0.1:9/relais", "events": ["invoices.created", "import.finished"]}
    )
    db.session.commit()
    path = feed_file(
        HEADER
        + invoice_rows(3)
        + "R-0100;FA-0100;C1;31/02/2026;10,00;\n"  # line 5: no such day
        + invoice_rows(2, start=3)
        + "R-0101;FA-0101;C9;01/10/2026;10,00;\n"  # line 8: unknown customer
        + invoice_rows(4, start=5)
    )
    run = run_import(profile, path)

    assert run.status == "partial"
    assert run.counts == {"created": 9, "updated": 0, "unchanged": 0, "failed": 2, "archived": 0}
    assert [(e.line, e.column) for e in row_errors(run)] == [(5, "Date"), (8, "Code client")]
    invoices = by_key("invoices")
    assert sorted(invoices) == [f"R-{n:04d}" for n in range(9)]
    first, second = invoices["R-0000"], invoices["R-0001"]
    assert (first.number, first.account_id, first.partner_id) == (
        "FA-0000",
        customers[0].id,
        customers[0].partner_id,
    )
    assert (first.total, first.issued_on.isoformat(), first.custom) == (
        Decimal("1234.00"),
        "2026-10-01",
        {},
    )
    assert second.custom == {"promoteur": "Nexity"} and second.partner_id is None
    assert {i.import_run_id for i in invoices.values()} == {run.id}
    # Found by search as records written by a form are.
    found = db.session.scalars(select(Invoice.external_ref).where(matches(Invoice, "fa-0007")))
    assert list(found) == ["R-0007"]
    # One delivery per invoice created, and the run's end.
    deliveries = db.session.execute(select(WebhookDelivery.event, WebhookDelivery.record_id)).all()
    assert sorted(r for e, r in deliveries if e == "invoices.created") == sorted(
        i.id for i in invoices.values()
    )
    assert [e for e, _r in deliveries if e == "import.finished"] == ["import.finished"]
    finish = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.entity == "import_runs",
            AuditEvent.record_id == run.id,
            AuditEvent.action == "finish",
        )
    )
    assert finish.after["created"] == 9 and finish.after["failed"] == 2


@pytest.mark.parametrize("first", [True, False], ids=["first-records", "table-holds-others"])
def test_a_key_created_during_the_run_becomes_an_update(
    first, customers, profile, feed_file, run_import, small_batches, written_alone, monkeypatch
):
    """Another write creates a key of the file while the run is under way (the tenant's first
    invoices, which are not compared with the table, or among others): that row updates the
    record, the others are created, no row fails."""
    if not first:
        create_record(
            ENTITIES["invoices"],
            {"external_ref": "OLD-1", "number": "OLD-1", "account": customers[1].id},
        )
        db.session.commit()
    save_progress = engine.ImportEngine.save_progress

    def then_created_elsewhere(self):
        save_progress(self)  # the first batch committed: another write comes in
        if self.run.rows_done == 4:
            create_record(
                ENTITIES["invoices"],
                {"external_ref": "R-0005", "number": "X-5", "account": customers[2].id},
            )
            db.session.commit()

    monkeypatch.setattr(engine.ImportEngine, "save_progress", then_created_elsewhere)
    run = run_import(profile, feed_file(HEADER + invoice_rows(8)))

    assert run.counts == {"created": 7, "updated": 1, "unchanged": 0, "failed": 0, "archived": 0}
    assert row_errors(run) == []
    invoices = by_key("invoices")
    assert len(invoices) == 8 + (not first)
    assert (invoices["R-0005"].number, invoices["R-0005"].import_run_id) == ("FA-0005", run.id)
    # Among other invoices the batch reads the new record and plans its update. The first
    # invoices are not read: PostgreSQL's ON CONFLICT DO NOTHING leaves that row alone to the
    # row path and keeps the batch's others; SQLite refuses the batch, written again without
    # the row whose key a record now holds, which goes alone.
    assert written_alone == ([] if not first else [7])


def test_a_number_taken_twice_fails_its_second_row_and_keeps_the_others(
    customers, profile, feed_file, run_import, small_batches
):
    path = feed_file(
        HEADER + invoice_rows(2) + "R-0050;FA-0001;C2;01/10/2026;5,00;\n" + invoice_rows(3, start=2)
    )
    run = run_import(profile, path)

    assert run.counts["created"] == 5 and run.counts["failed"] == 1
    [error] = row_errors(run)
    # Named by its column and value, as a form names it, never by the database's raw text.
    assert (error.line, error.column, error.value) == (4, "N° facture", "FA-0001")
    assert error.message_id == "This number is already used."
    with force_locale("fr"):
        assert error_message(error) == gettext("This number is already used.")
        assert "uq_" not in error_message(error) and "UNIQUE" not in error_message(error)
    assert sorted(by_key("invoices")) == [f"R-{n:04d}" for n in range(5)]


def test_a_refused_batch_keeps_the_errors_found_before_it_and_its_good_rows(
    customers, profile, feed_file, run_import, small_batches
):
    # One batch of four: a row failing on its date (found before the batch is written), a
    # number taken twice (the database refuses the batch), two good rows.
    path = feed_file(
        HEADER
        + invoice_rows(1)
        + "R-0100;FA-0100;C1;31/02/2026;10,00;\n"
        + "R-0050;FA-0000;C2;01/10/2026;5,00;\n"
        + invoice_rows(4, start=1)
    )
    run = run_import(profile, path)

    assert run.counts["created"] == 5 and run.counts["failed"] == 2
    assert [(e.line, e.column) for e in row_errors(run)] == [(3, "Date"), (4, "N° facture")]
    assert row_errors(run)[1].message_id == "This number is already used."
    assert sorted(by_key("invoices")) == [f"R-{n:04d}" for n in range(5)]
    assert run.rows_done == 7


@pytest.fixture
def written_alone(monkeypatch):
    """The lines of the rows the engine planned and wrote one at a time."""
    lines: list[int] = []
    write_one = engine.ImportEngine._write_one

    def alone(self, item):
        lines.append(item.line)
        return write_one(self, item)

    monkeypatch.setattr(engine.ImportEngine, "_write_one", alone)
    return lines


def test_a_number_used_twice_sends_only_its_rows_one_by_one(
    customers, profile, feed_file, run_import, written_alone, monkeypatch
):
    # A nightly file with a number of an invoice already stored, and one given twice: the
    # batch was written again row by row, some 700 rows/s against tens of thousands.
    monkeypatch.setattr(engine, "BATCH_ROWS", 6)
    create_record(
        ENTITIES["invoices"],
        {"external_ref": "OLD", "number": "FA-OLD", "account": customers[1].id},
    )
    db.session.commit()
    path = feed_file(
        HEADER
        + invoice_rows(2)
        + "R-0050;FA-OLD;C2;01/10/2026;5,00;\n"  # line 4: held by OLD
        + invoice_rows(1, start=2)
        + "R-0051;FA-0002;C2;01/10/2026;5,00;\n"  # line 6: given by line 5 already
        + invoice_rows(3, start=3)
    )
    run = run_import(profile, path)

    assert run.counts["created"] == 6 and run.counts["failed"] == 2
    errors = row_errors(run)
    assert [(e.line, e.column, e.value) for e in errors] == [
        (4, "N° facture", "FA-OLD"), (6, "N° facture", "FA-0002")]
    assert {e.message_id for e in errors} == {"This number is already used."}
    assert sorted(by_key("invoices")) == ["OLD", *(f"R-{n:04d}" for n in range(6))]
    assert written_alone == [4, 6]


def test_a_number_freed_and_taken_again_in_one_batch_goes_to_the_row_that_comes_first(
    customers, profile, feed_file, run_import, written_alone
):
    # R-A gives up FA-N, the new R-B takes it, R-C wants it too: row by row, in the file's
    # order, as before (a new row set apart would be written after R-C took the number).
    for key, number in (("R-A", "FA-N"), ("R-C", "FA-C")):
        create_record(ENTITIES["invoices"],
                      {"external_ref": key, "number": number, "account": customers[1].id})
    db.session.commit()
    path = feed_file(HEADER + "R-A;FA-M;C1;01/10/2026;5,00;\n"
                     "R-B;FA-N;C1;01/10/2026;5,00;\n"
                     "R-C;FA-N;C1;01/10/2026;5,00;\n")
    run = run_import(profile, path)

    assert (run.counts["created"], run.counts["updated"], run.counts["failed"]) == (1, 1, 1)
    assert [(e.line, e.column) for e in row_errors(run)] == [(4, "N° facture")]
    invoices = by_key("invoices")
    assert {key: invoices[key].number for key in invoices} == {
        "R-A": "FA-M", "R-B": "FA-N", "R-C": "FA-C"}
    assert written_alone == [2, 3, 4]


def test_a_number_used_twice_in_a_file_with_lines_sends_only_its_document_alone(
    customers, make_profile, feed_file, run_import, written_alone
):
    profile = make_profile(
        "invoices",
        {"Réf": "external_ref", "N° facture": "number", "Code client": "account.external_ref",
         "Désignation": "lines.label", "Qté": "lines.quantity", "PU HT": "lines.unit_price"},
    )
    path = feed_file(
        "Réf;N° facture;Code client;Désignation;Qté;PU HT\n"
        "R-1;FA-1;C0;Store banne;2;100,00\n"
        "R-1;FA-1;C0;Pose;1;50,00\n"
        "R-2;FA-2;C1;Moteur;1;80,00\n"
        "R-3;FA-1;C1;Volet;3;10,00\n"  # line 5: the number of R-1
        "R-4;FA-4;C2;Volet;1;10,00\n"
    )
    run = run_import(profile, path)

    assert run.counts["created"] == 3 and run.counts["failed"] == 1
    assert [(e.line, e.column) for e in row_errors(run)] == [(5, "N° facture")]
    assert sorted(by_key("invoices")) == ["R-1", "R-2", "R-4"]
    assert [line.label for line in by_key("invoices")["R-1"].lines] == ["Store banne", "Pose"]
    assert written_alone == [5]


def _dry_then_real(run_import, profile, path: Path) -> tuple[tuple, tuple]:
    """The same file as a dry run, then for real: each run's counts, (line, column, value,
    message) of its row errors and the keys of its changes shown. The dry run writes no
    record."""
    def said(run: ImportRun) -> tuple:
        return (run.counts, [(e.line, e.column, e.value, e.message_id) for e in row_errors(run)],
                [diff["key"] for diff in run.diff_sample])

    before = {key: invoice.number for key, invoice in by_key("invoices").items()}
    dry = said(run_import(profile, path, dry_run=True))
    assert {key: invoice.number for key, invoice in by_key("invoices").items()} == before
    return dry, said(run_import(profile, path))


def test_a_dry_run_names_a_number_used_twice_as_the_real_run_does(
    customers, profile, feed_file, run_import, small_batches
):
    """docs/feeds.md: "A dry run applies these same rules, so its counts and row errors are
    the real run's", a number another record holds or one given twice included (the column
    path: a dry run never meets the database's refusal)."""
    create_record(ENTITIES["invoices"],
                  {"external_ref": "OLD", "number": "FA-OLD", "account": customers[1].id})
    db.session.commit()
    path = feed_file(HEADER + invoice_rows(2)
                     + "R-0050;FA-OLD;C2;01/10/2026;5,00;\n"  # line 4: held by OLD
                     + "R-0051;FA-0001;C2;01/10/2026;5,00;\n")  # line 5: given by line 3
    dry, real = _dry_then_real(run_import, profile, path)

    used = "This number is already used."
    assert real == ({"created": 2, "updated": 0, "unchanged": 0, "failed": 2, "archived": 0},
                    [(4, "N° facture", "FA-OLD", used), (5, "N° facture", "FA-0001", used)], [])
    assert dry == real


def test_a_dry_run_of_a_file_with_lines_names_a_number_used_twice_as_the_real_run_does(
    customers, make_profile, feed_file, run_import
):
    """The row path (a document with lines) agrees as the column path does: a number an
    existing record holds, and the second row giving one the file already gave, fail in
    both runs; the first row giving it is created."""
    create_record(ENTITIES["invoices"],
                  {"external_ref": "OLD", "number": "FA-OLD", "account": customers[1].id})
    db.session.commit()
    profile = make_profile(
        "invoices",
        {"Réf": "external_ref", "N° facture": "number", "Code client": "account.external_ref",
         "Désignation": "lines.label", "Qté": "lines.quantity", "PU HT": "lines.unit_price"},
    )
    path = feed_file(
        "Réf;N° facture;Code client;Désignation;Qté;PU HT\n"
        "R-1;FA-1;C0;Store banne;2;100,00\n"
        "R-1;FA-1;C0;Pose;1;50,00\n"
        "R-2;FA-OLD;C1;Moteur;1;80,00\n"  # line 4: held by OLD
        "R-3;FA-1;C1;Volet;3;10,00\n"  # line 5: the number of R-1
        "R-4;FA-4;C2;Volet;1;10,00\n"
    )
    dry, real = _dry_then_real(run_import, profile, path)

    used = "This number is already used."
    assert real == ({"created": 2, "updated": 0, "unchanged": 0, "failed": 2, "archived": 0},
                    [(4, "N° facture", "FA-OLD", used), (5, "N° facture", "FA-1", used)], [])
    assert dry == real


@pytest.mark.parametrize("freed_first", [True, False], ids=["freed first", "taken first"])
def test_a_dry_run_finds_a_number_of_an_existing_record_free_only_once_the_file_changes_it(
    customers, profile, feed_file, run_import, freed_first
):
    """A number an existing record holds is taken by a new row only after the row changing
    that record's number, in the file's order, as the real run writes them; a row wanting
    a number the file gave first fails. Dry and real runs agree."""
    for key, number in (("R-A", "FA-N"), ("R-C", "FA-C")):
        create_record(ENTITIES["invoices"],
                      {"external_ref": key, "number": number, "account": customers[1].id})
    db.session.commit()
    frees, takes = "R-A;FA-M;C1;01/10/2026;5,00;\n", "R-B;FA-N;C1;01/10/2026;5,00;\n"
    path = feed_file(HEADER + (frees + takes if freed_first else takes + frees)
                     + "R-C;FA-N;C1;01/10/2026;5,00;\n")
    dry, real = _dry_then_real(run_import, profile, path)

    used = "This number is already used."
    counts, errors, changed = real
    assert (counts["created"], counts["updated"], counts["failed"]) == (
        (1, 1, 1) if freed_first else (0, 2, 1))
    assert errors == ([(4, "N° facture", "FA-N", used)] if freed_first
                      else [(2, "N° facture", "FA-N", used)])
    assert changed == (["R-A"] if freed_first else ["R-A", "R-C"])
    assert dry == real


def test_on_sqlite_a_batch_opening_its_transaction_is_written_without_a_savepoint(
    customers, profile, feed_file, run_import, small_batches, sqlite_statements
):
    # A savepoint copies every page it changes into a statement journal: on a large table a
    # batch of new rows wrote hundreds of megabytes of temporary file for nothing. A row
    # failing in a batch does not make it take one.
    path = feed_file(HEADER + invoice_rows(5) + "R-0100;FA-0100;C1;31/02/2026;10,00;\n"
                     + invoice_rows(5, start=5))
    run = run_import(profile, path)

    assert run.counts["created"] == 10 and run.counts["failed"] == 1
    assert [(e.line, e.column) for e in row_errors(run)] == [(7, "Date")]
    assert any(s.startswith("INSERT INTO invoices") for s in sqlite_statements)
    assert not [s for s in sqlite_statements if "SAVEPOINT" in s.upper()]


def test_another_tenants_invoices_under_the_same_keys_are_left_untouched(
    tenant, other_tenant, customers, profile, feed_file, run_import, small_batches
):
    with tenant_context(other_tenant.id, SYSTEM):
        account = create_record(
            ENTITIES["accounts"], {"external_ref": "C0", "name": "B", "kind": "company"}
        )
        db.session.flush()
        theirs = create_record(
            ENTITIES["invoices"],
            {"external_ref": "R-0001", "number": "FA-0001", "total": "9.99", "account": account.id},
        )
        db.session.commit()
        before = (theirs.id, theirs.total, theirs.updated_at, theirs.import_run_id)
    run = run_import(profile, feed_file(HEADER + invoice_rows(6)))

    assert run.counts["created"] == 6 and run.counts["failed"] == 0
    with tenant_context(other_tenant.id, SYSTEM):
        rows = db.session.execute(
            select(Invoice.id, Invoice.total, Invoice.updated_at, Invoice.import_run_id)
        ).all()
        assert [tuple(row) for row in rows] == [before]
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 6


def test_documents_with_lines_and_custom_values(
    customers, make_profile, make_custom_field, feed_file, run_import, small_batches
):
    make_custom_field("invoices", "promoteur", "text")
    profile = make_profile(
        "invoices",
        {
            "Réf": "external_ref",
            "N° facture": "number",
            "Code client": "account.external_ref",
            "Promoteur": "custom.promoteur",
            "Désignation": "lines.label",
            "Qté": "lines.quantity",
            "PU HT": "lines.unit_price",
            "TVA": "lines.tax_rate",
        },
    )
    path = feed_file(
        "Réf;N° facture;Code client;Promoteur;Désignation;Qté;PU HT;TVA\n"
        "R-1;FA-1;C0;Nexity;Store banne;2;100,00;20\n"
        "R-1;FA-1;C0;Nexity;Pose;1;50,00;10\n"
        "R-2;FA-2;C1;;Moteur;1;abc;20\n"  # line 4: not an amount
        "R-3;FA-3;C1;Icade;Volet;3;10,00;20\n"
    )
    run = run_import(profile, path)

    assert run.counts["created"] == 2 and run.counts["failed"] == 1
    assert [e.line for e in row_errors(run)] == [4]
    invoices = by_key("invoices")
    first = invoices["R-1"]
    assert [(line.label, line.quantity) for line in first.lines] == [
        ("Store banne", Decimal("2.000")),
        ("Pose", Decimal("1.000")),
    ]
    assert (first.total_excl_tax, first.tax_total, first.total) == (
        Decimal("250.00"),
        Decimal("45.00"),
        Decimal("295.00"),
    )
    assert first.custom == {"promoteur": "Nexity"}
    assert invoices["R-3"].custom == {"promoteur": "Icade"}


class ProcessDied(BaseException):
    """Stands for the process stopping between two batches (not an error the engine catches)."""


def _state() -> list[tuple]:
    return [
        tuple(row)
        for row in db.session.execute(
            select(
                Invoice.external_ref,
                Invoice.number,
                Invoice.account_id,
                Invoice.issued_on,
                Invoice.total,
                Invoice.custom,
                Invoice.archived_at,
            ).order_by(Invoice.number)
        )
    ]


def test_a_first_import_dying_between_batches_reruns_to_the_state_of_one_clean_run(
    tenant, customers, profile, feed_file, run_import, small_batches
):
    path: Path = feed_file(HEADER + invoice_rows(20))

    def interrupted() -> None:
        assert len(by_key("invoices")) == 8

    run, done = _interrupted_then_run_again(tenant, path, interrupted)
    assert db.session.get(ImportRun, run.id).status == "interrupted"
    assert done.counts == {"created": 12, "updated": 0, "unchanged": 8, "failed": 0, "archived": 0}
    interrupted_then_rerun = _state()
    db.session.execute(delete(Invoice))
    db.session.commit()
    clean = run_import(profile, path, force=True)
    assert clean.counts["created"] == 20
    assert interrupted_then_rerun == _state()


@pytest.mark.parametrize("failed", [False, True], ids=["interrupted", "failed"])
def test_reverting_the_second_go_of_an_interrupted_import_undoes_the_whole_file(
    tenant, customers, profile, feed_file, run_import, small_batches, admin_client, failed
):
    """The recovery runs an interrupted file again (an admin, a failed one); the second go
    finds the records the first wrote equal and leaves them: its revert alone left 8 of the
    file's 20 invoices."""
    create_record(
        ENTITIES["invoices"],
        {"external_ref": "OLD", "number": "OLD", "account": customers[1].id},
    )
    db.session.commit()
    other = run_import(profile, feed_file(HEADER + invoice_rows(2, start=50), "other.csv"))
    run, again = _interrupted_then_run_again(tenant, feed_file(HEADER + invoice_rows(20)),
                                             failed=failed)
    assert again.counts["created"] == 12 and again.counts["unchanged"] == 8
    assert len(by_key("invoices")) == 23

    preview = revert_run(db.session.get(ImportRun, again.id), dry_run=True)
    assert preview.runs == [run.id, again.id]
    assert (len(preview.deleted), preview.skipped) == (20, [])
    plan = revert_run(db.session.get(ImportRun, again.id))
    db.session.commit()
    db.session.expire_all()

    assert plan.counts == preview.counts
    assert sorted(by_key("invoices")) == ["OLD", "R-0050", "R-0051"]  # the other file's stay
    for reverted in (run, again):
        reverted = db.session.get(ImportRun, reverted.id)
        assert reverted.reverted_at is not None and reverted.revert_status == "done"
        assert reverted.revert_summary["runs"] == [run.id, again.id]
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == "import_runs", AuditEvent.record_id == reverted.id,
            AuditEvent.action == "revert")) == 1
    assert db.session.get(ImportRun, other.id).reverted_at is None
    page = admin_client.get(f"/alpha/feeds/runs/{run.id}",
                           headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "With the other runs of the same file" in page
    assert f'href="/alpha/feeds/runs/{again.id}"' in page


def _interrupted_then_run_again(tenant, path: Path, meanwhile=lambda: None, failed=False):
    """The file's first go, stopped after 8 rows (its process killed, or an error: failed),
    then (after `meanwhile`) its second go, by the recovery or "Run again": both runs."""
    with path.open("rb") as stream:
        run = feeds.create_run(find_profile("factures-nuit"), stream, path.name, source="cli")
    db.session.commit()
    assert runs.claim(run)

    def progress(current: ImportRun) -> None:
        if current.rows_done >= 8:
            raise RuntimeError("disk full") if failed else ProcessDied

    with tenant_context(tenant.id, runs.feed_actor(run)):
        if failed:
            assert runs.execute_run(run, progress).status == "failed"
        else:
            with pytest.raises(ProcessDied):
                runs.execute_run(run, progress)
    db.session.rollback()
    if not failed:
        assert recovery.recover_interrupted_runs(stale_seconds=0) == 1
    meanwhile()
    again = feeds.rerun(run) if failed else recovery.rerun_interrupted(run.id)
    db.session.commit()
    done = runs.run_import(again.id, tenant.id, max_wait=0)
    assert done.status == "succeeded", done.message
    return run, done


@pytest.mark.parametrize("failed", [False, True], ids=["interrupted", "failed"])
def test_the_first_go_of_a_file_taken_up_again_is_reverted_through_its_last_go(
    tenant, customers, profile, feed_file, small_batches, admin_client, failed
):
    """Reverting the first go alone deleted its 8 invoices and left the 12 of the second
    go, which stayed the file's import: sending the file again was refused as done. The
    first go's revert is refused, pointing to the last go, whose revert undoes both."""
    run, again = _interrupted_then_run_again(tenant, feed_file(HEADER + invoice_rows(20)),
                                             failed=failed)
    run = db.session.get(ImportRun, run.id)
    assert run.can_revert and len(by_key("invoices")) == 20
    for attempt in (import_revert.plan_revert, import_revert.request_revert):
        with pytest.raises(ValidationError) as refused:
            attempt(run)
        assert refused.value.errors[""] == gettext(
            "Import #%(id)d took this file up again where this run stopped: revert that "
            "one, which undoes both.", id=again.id)
    page = admin_client.get(f"/alpha/feeds/runs/{run.id}",
                            headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="taken-up"' in page and f'href="/alpha/feeds/runs/{again.id}"' in page
    assert "Revert this run" not in page
    assert len(by_key("invoices")) == 20  # nothing was undone

    revert_run(db.session.get(ImportRun, again.id))
    db.session.commit()
    assert by_key("invoices") == {}


def test_an_edit_between_two_goes_of_a_file_is_not_undone_by_their_revert(
    tenant, customers, profile, feed_file, run_import, small_batches
):
    """R-0001 existed (the first go updated it) and R-0003 was created by the first go; a
    user changes both before the second go, which sets the file's values again. Undoing the
    goes must leave both as they are and list them, not give R-0001 its value of before the
    first go over the user's edit, nor R-0003 the user's values as its "values of before"."""
    create_record(
        ENTITIES["invoices"],
        {"external_ref": "R-0001", "number": "FA-0001", "account": customers[1].id,
         "total": "1.00"},
    )
    db.session.commit()

    def edited() -> None:
        for key in ("R-0001", "R-0003"):
            update_record(by_key("invoices")[key], {"total": Decimal("15.00")})
        db.session.commit()

    run, again = _interrupted_then_run_again(
        tenant, feed_file(HEADER + invoice_rows(20)), edited)
    assert (again.counts["updated"], again.counts["created"]) == (2, 12)
    plan = revert_run(db.session.get(ImportRun, again.id))
    db.session.commit()
    db.session.expire_all()

    ids = {key: invoice.id for key, invoice in by_key("invoices").items()}
    assert plan.runs == [run.id, again.id]
    assert plan.skipped == sorted([ids["R-0001"], ids["R-0003"]])
    assert (plan.restored, len(plan.deleted)) == ([], 18)
    assert sorted(ids) == ["R-0001", "R-0003"]
    assert {key: by_key("invoices")[key].total for key in ids} == {
        "R-0001": Decimal("1234.01"), "R-0003": Decimal("1234.03")}  # the file's, as left


def test_a_runs_own_message_reads_in_the_readers_language(
    customers, profile, feed_file, run_import, admin_client
):
    """A run ends in a worker, whose language is the platform's default: its message was
    stored in that language and shown as such to every reader."""
    with force_locale("fr"):  # the worker's
        run = run_import(profile, feed_file("Réf;N° facture;Code client;Date\n"
                                            "R-1;F-1;C0;01/10/2026\n"))
    names = run.message_params["names"]  # the profile's order, as its backend keeps it
    assert sorted(names.split(", ")) == ["Promoteur", "Total TTC"]
    assert run.status == "failed"
    assert run.message == f"Colonnes absentes du fichier\u00a0: {names}."

    def shown(language: str) -> str:
        page = admin_client.get(f"/alpha/feeds/runs/{run.id}",
                                headers={"Accept-Language": language}).get_data(as_text=True)
        return page.split('id="run-message">', 1)[1].split("</div>", 1)[0]

    assert shown("en") == f"Columns missing from the file: {names}."
    assert shown("fr") == f"Colonnes absentes du fichier\u00a0: {names}."
    with force_locale("en"):
        assert run_fields(run)["message"] == f"Columns missing from the file: {names}."
