"""Fingerprints: a nightly file's rows that are byte for byte those that made their records
are recognised unchanged without converting a cell (the run's `fingerprinted` count), and any
other write to a record, or to what its row depends on, makes the next run read the row
again: a skipped row is never stale."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import importers.convert as convert
import importers.fingerprints as fingerprints
from app.entities import ENTITIES
from app.extensions import db
from app.models import AuditEvent, CustomField, ImportRun
from app.search_text import found
from app.services import feeds
from app.services.custom_field_defs import update_field
from app.services.import_revert import revert_run
from app.services.records import create_record, delete_record, update_record
from app.services.tokens import create_token
from app.tenancy import SYSTEM, tenant_context
from importers.engine import ImportEngine
from tests.api.conftest import bearer
from tests.importers.conftest import (
    after_the_first_batch,
    by_key,
    found_equal_next_time,
    row_errors,
)

COLUMNS = {
    "Réf": "external_ref",
    "N°": "number",
    "Client": "account.external_ref",
    "Date": "issued_on",
    "Statut": "status",
    "Total": "total",
    "Segment": "custom.segment",
}
HEADER = "Réf;N°;Client;Date;Statut;Total;Segment"
ROWS = [
    "R1;F-001;C1;01/10/2026;Émise;120,00;pme",
    "R2;F-002;C1;02/10/2026;Payée;80,50;eti",
    "R3;F-003;C2;03/10/2026;Émise;1 000,00;",
]


@pytest.fixture
def world(tenant, make_custom_field):
    make_custom_field("invoices", "segment", "choice", choices=["PME", "ETI"])
    for ref in ("C1", "C2"):
        create_record(ENTITIES["accounts"], {"name": f"Client {ref}", "external_ref": ref})
    db.session.commit()


@pytest.fixture
def nightly(world, make_profile, feed_file, run_import):
    """nightly(rows=ROWS, profile=): the file imported by the invoices profile (forced)."""
    profile = make_profile("invoices", COLUMNS, name="factures-nuit")
    files = iter(range(1, 100))

    def run(rows: list[str] = ROWS, on=None) -> ImportRun:
        path = feed_file("\n".join([HEADER, *rows]) + "\n", name=f"f{next(files)}.csv")
        return run_import(on or profile, path, force=True)

    run.profile = profile
    return run


def _counts(run: ImportRun) -> dict[str, int]:
    return {**run.counts, "fingerprinted": run.fingerprinted}


def _invoice(key: str):
    db.session.expire_all()
    return by_key("invoices")[key]


def test_an_unchanged_file_is_recognised_without_converting_its_rows(nightly):
    first = nightly()
    assert _counts(first) == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
        "archived": 0,
        "fingerprinted": 0,
    }
    again = nightly()
    assert _counts(again) == {
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "failed": 0,
        "archived": 0,
        "fingerprinted": 3,
    }
    assert again.status == "succeeded" and again.rows_done == 3


def test_a_changed_row_is_converted_and_its_neighbours_skipped(nightly):
    nightly()
    run = nightly([ROWS[0], ROWS[1].replace("80,50", "90,00"), ROWS[2]])
    assert _counts(run)["updated"] == 1 and run.fingerprinted == 2
    assert _invoice("R2").total == Decimal("90.00")
    # The changed record took the row's fingerprint as the run wrote it: the next night's
    # same row is skipped (unless someone wrote the record in between: below).
    again = nightly([ROWS[0], ROWS[1].replace("80,50", "90,00"), ROWS[2]])
    assert again.fingerprinted == 3 and again.unchanged == 3


def test_rows_found_equal_take_their_fingerprint(nightly):
    """Records written before fingerprints, or whose fingerprint went with an unrelated
    write, are compared once, then recognised."""
    nightly()
    record = _invoice("R1")
    update_record(record, {"status": "paid"})
    update_record(record, {"status": "issued"})  # back as the file has it
    db.session.commit()
    run = nightly()
    assert run.fingerprinted == 2 and run.unchanged == 3 and run.updated == 0
    assert nightly().fingerprinted == 3


def test_a_form_edit_invalidates_the_fingerprint(nightly, admin_client):
    nightly()
    invoice = _invoice("R1")
    response = admin_client.post(
        f"/alpha/invoices/{invoice.id}/edit",
        data={
            "external_ref": "R1",
            "number": "F-001",
            "account": f"#{invoice.account_id}",
            "status": "paid",
            "issued_on": "2026-10-01",
            "total": "120.00",
            "cf_segment": "PME",
        },
    )
    assert response.status_code == 302, response.data[:800]
    assert _invoice("R1").status == "paid"
    run = nightly()
    assert run.updated == 1 and run.fingerprinted == 2
    assert _invoice("R1").status == "issued"  # the file's value, not the skipped stale one


def test_an_api_write_invalidates_the_fingerprint(nightly, app):
    nightly()
    _token, secret = create_token("ERP", "read,write")
    db.session.commit()
    api = bearer(app, secret)
    invoice = _invoice("R2")
    response = api.patch(
        f"/api/v1/invoices/{invoice.id}",
        json={"status": "cancelled"},
        headers={"If-Match": api.get(f"/api/v1/invoices/{invoice.id}").headers.get("ETag", "*")},
    )
    assert response.status_code == 200, response.data[:800]
    run = nightly()
    assert run.updated == 1 and run.fingerprinted == 2
    assert _invoice("R2").status == "paid"


def test_a_bulk_write_invalidates_the_fingerprint(nightly, app):
    nightly()
    _token, secret = create_token("ERP", "read,write")
    db.session.commit()
    response = bearer(app, secret).post(
        "/api/v1/invoices/bulk",
        json={
            "items": [
                {
                    "external_ref": "R3",
                    "number": "F-003",
                    "account_ref": "C2",
                    "issued_on": "2026-10-03",
                    "status": "paid",
                    "total": "1000.00",
                }
            ]
        },
    )
    assert response.status_code == 200, response.data[:800]
    assert response.get_json()["updated"] == 1
    run = nightly()
    assert run.updated == 1 and run.fingerprinted == 2
    assert _invoice("R3").status == "issued"


def test_another_profiles_write_invalidates_the_fingerprint(nightly, make_profile):
    nightly()
    statuses = make_profile(
        "invoices", {"Réf": "external_ref", "Statut": "status"}, name="statuts", mode="update"
    )
    other = nightly(["R1;F-001;C1;01/10/2026;Annulée;120,00;pme"], on=statuses)
    assert other.updated == 1
    unchanged = nightly(["R2;F-002;C1;02/10/2026;Payée;80,50;eti"], on=statuses)
    assert unchanged.unchanged == 1  # R2 keeps the fingerprint of the profile that made it
    run = nightly()
    assert run.updated == 1 and run.fingerprinted == 2
    assert _invoice("R1").status == "issued"


def test_a_renamed_customer_makes_the_rows_naming_it_read_again(nightly):
    nightly()
    customer = by_key("accounts")["C1"]
    update_record(customer, {"external_ref": "C1-OLD"})
    db.session.commit()
    run = nightly()
    assert run.fingerprinted == 1 and run.failed == 2  # "C1" names no customer now
    assert {e.line for e in row_errors(run)} == {2, 3}
    create_record(ENTITIES["accounts"], {"name": "Nouveau C1", "external_ref": "C1"})
    db.session.commit()
    run = nightly()
    assert run.updated == 2 and run.fingerprinted == 1
    assert _invoice("R1").account.name == "Nouveau C1"


def test_a_custom_field_definition_change_makes_every_row_read_again(nightly):
    nightly()
    field = db.session.scalar(db.select(CustomField).where(CustomField.key == "segment"))
    update_field(field, {"choices": ["PME", "ETI", "Grand compte"]})
    db.session.commit()
    run = nightly()
    assert run.fingerprinted == 0 and run.unchanged == 3
    assert nightly().fingerprinted == 3


def test_a_changed_profile_rule_makes_rows_fail_instead_of_being_skipped(nightly):
    nightly()
    feeds.update_profile(
        nightly.profile,
        {
            "name": "factures-nuit",
            "entity": "invoices",
            "columns": COLUMNS,
            "date_format": "%Y-%m-%d",
        },
    )
    db.session.commit()
    run = nightly()
    assert run.fingerprinted == 0 and run.failed == 3  # 01/10/2026 is not %Y-%m-%d


def test_columns_mapped_in_another_order_make_every_row_read_again(
        tenant, make_profile, feed_file, run_import):
    """Two versions may map the same columns in another order: the same cells, joined in
    that order, must not pass for the other version's row (values swapped between two
    columns are a change)."""
    columns = {"Code": "external_ref", "Nom": "name", "Ville": "city"}
    profile = make_profile("accounts", columns, name="clients")

    def run(line: str) -> ImportRun:
        # A quoted cell: the file is read by csv, its rows fingerprinted by their cells.
        return run_import(profile, feed_file(f"Code;Nom;Ville\n{line}\n"), force=True)

    run('C1;"Dupont";Lyon')
    assert run('C1;"Dupont";Lyon').fingerprinted == 1
    reordered = {"Code": "external_ref", "Ville": "city", "Nom": "name"}
    for options in ({"delimiter": ";"}, {}):  # version 3 maps what version 1 did
        feeds.update_profile(profile, {"name": "clients", "entity": "accounts",
                                       "columns": reordered, **options})
    db.session.commit()
    assert profile.version == 3 and list(profile.definition["columns"]) == list(reordered)
    swapped = run('C1;"Lyon";Dupont')
    assert (swapped.updated, swapped.fingerprinted) == (1, 0)
    customer = by_key("accounts")["C1"]
    assert (customer.name, customer.city) == ("Lyon", "Dupont")


def test_a_deleted_record_is_created_again(nightly):
    nightly()
    delete_record(_invoice("R3"))
    db.session.commit()
    run = nightly()
    assert run.created == 1 and run.fingerprinted == 2
    assert _invoice("R3").issued_on == date(2026, 10, 3)


def test_a_reverted_run_leaves_no_fingerprint_behind(nightly):
    nightly()
    changed = [ROWS[0].replace("120,00", "150,00"), *ROWS[1:]]
    second = nightly(changed)
    assert second.updated == 1
    revert_run(db.session.get(ImportRun, second.id))
    db.session.commit()
    assert _invoice("R1").total == Decimal("120.00")
    run = nightly(changed)
    assert run.updated == 1 and run.fingerprinted == 2
    assert _invoice("R1").total == Decimal("150.00")


def test_full_sync_sees_the_skipped_keys_and_archives_only_the_absent(
    world, make_profile, feed_file, run_import
):
    profile = make_profile("invoices", COLUMNS, full_sync=True)

    def run(rows: list[str], name: str) -> ImportRun:
        return run_import(
            profile, feed_file("\n".join([HEADER, *rows]) + "\n", name=name), force=True
        )

    run(ROWS, "a.csv")
    again = run(ROWS, "b.csv")
    assert again.fingerprinted == 3 and again.archived == 0
    shorter = run(ROWS[:2], "c.csv")
    assert shorter.fingerprinted == 2 and shorter.archived == 1
    back = run(ROWS, "d.csv")
    assert back.fingerprinted == 2 and back.updated == 1  # R3 brought back, not skipped
    db.session.expire_all()
    assert by_key("invoices")["R3"].archived_at is None


def test_a_repeated_identical_row_is_still_an_error(nightly):
    nightly()
    run = nightly([*ROWS, ROWS[0]])
    assert run.fingerprinted == 3 and run.failed == 1
    (error,) = row_errors(run)
    assert error.line == 5 and error.message_id.startswith("The key")


def test_a_dry_run_skips_but_stores_no_fingerprint(nightly, feed_file, run_import):
    nightly()
    update_record(_invoice("R1"), {"status": "paid"})
    db.session.commit()
    path = feed_file("\n".join([HEADER, *ROWS]) + "\n", name="dry.csv")
    dry = run_import(nightly.profile, path, dry_run=True, force=True)
    assert dry.updated == 1 and dry.fingerprinted == 2
    assert _invoice("R1").status == "paid"
    run = nightly()
    assert run.updated == 1 and run.fingerprinted == 2


def test_an_orm_write_of_a_record_or_of_a_reference_it_names_invalidates(nightly):
    """Writes that bypass the record writer (an anonymisation, a custom field's values
    converted to a new type) go through the ORM: the column's onupdate and the listener on
    references cover them."""
    nightly()
    invoice = _invoice("R3")
    invoice.status = "cancelled"
    customer = by_key("accounts")["C1"]
    customer.external_ref = "C1-ANON"
    db.session.commit()
    run = nightly()
    assert run.fingerprinted == 0 and run.updated == 1 and run.failed == 2
    assert _invoice("R3").status == "issued"


def _meanwhile(monkeypatch, app, tenant_id, work):
    """`work` done and committed by another session (a form's request) after each batch
    has read its records and before it writes."""
    original = ImportEngine.write_plan

    def write_plan(engine, plan, write, items, *rest):
        _elsewhere(app, tenant_id, work)
        return original(engine, plan, write, items, *rest)

    monkeypatch.setattr(ImportEngine, "write_plan", write_plan)
    return lambda: monkeypatch.setattr(ImportEngine, "write_plan", original)


def _elsewhere(app, tenant_id, work):
    """`work` done and committed by another session, in a thread of its own, now."""
    failures = []

    def other():
        try:
            with app.app_context(), tenant_context(tenant_id, SYSTEM):
                work()
                db.session.commit()
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(30)
    assert not thread.is_alive() and not failures, failures


def test_an_orm_rename_of_a_record_read_before_its_last_commit_invalidates(nightly):
    """The customer's reference is not loaded when it is set (the commit expired it): its
    old value is read then, so that the rename is seen and the rows naming C1 read again."""
    nightly()
    customer = by_key("accounts")["C1"]
    db.session.commit()
    customer.external_ref = "C1-ANON"
    db.session.commit()
    run = nightly()
    assert run.fingerprinted == 1 and run.failed == 2


def test_a_write_between_a_batchs_read_and_its_fingerprints_is_not_hidden(
        nightly, monkeypatch, app, tenant):
    """R1, found equal to its row (its fingerprint gone with an edit and its undo), is
    changed by a form after the batch read it: it must not take the row's fingerprint."""
    nightly()
    record = _invoice("R1")
    update_record(record, {"status": "paid"})
    update_record(record, {"status": "issued"})
    db.session.commit()
    record_id = record.id
    done = _meanwhile(monkeypatch, app, tenant.id, lambda: update_record(
        db.session.get(ENTITIES["invoices"].model, record_id), {"status": "paid"}))
    run = nightly()
    done()
    assert run.unchanged == 3 and _invoice("R1").status == "paid"
    after = nightly()
    assert after.updated == 1 and after.fingerprinted == 2
    assert _invoice("R1").status == "issued"  # the file's value, read again


@pytest.mark.parametrize("others", [0, 30], ids=["alone", "among-thirty-changed"])
def test_a_write_between_a_batchs_read_and_its_update_is_not_hidden(
        nightly, monkeypatch, app, tenant, others, backend):
    """The file changes R2's status; meanwhile a form changes its total: the run's update
    sets the status, and the next run still sees the total differ from the file. Among
    thirty other changed rows, PostgreSQL updates through a staging table: the same."""
    more = [f"S{n:02d};G-{n:03d};C1;01/10/2026;Émise;{n},00;pme" for n in range(others)]
    nightly([*ROWS, *more])
    record_id = _invoice("R2").id
    done = _meanwhile(monkeypatch, app, tenant.id, lambda: update_record(
        db.session.get(ENTITIES["invoices"].model, record_id), {"total": Decimal("99.00")}))
    changed = [ROWS[0], ROWS[1].replace("Payée", "Émise"), ROWS[2],
               *(row.replace("Émise", "Payée") for row in more)]
    run = nightly(changed)
    done()
    assert run.updated == 1 + others
    invoice = _invoice("R2")
    assert (invoice.status, invoice.total) == ("issued", Decimal("99.00"))
    after = nightly(changed)
    # The others took their rows' fingerprints as the run wrote them; on SQLite, where the
    # batch knows only that another connection committed since its read, none did.
    assert after.updated == 1
    assert after.fingerprinted == 2 + (others if backend == "postgresql" else 0)
    assert _invoice("R2").total == Decimal("80.50")


def test_a_customer_renamed_while_a_run_reads_the_file_leaves_no_stale_fingerprint(
        nightly, monkeypatch):
    """The run resolves "C1" once and remembers it across batches: renamed between two
    batches, the rows naming C1 must still be read again by the next run, and fail."""
    nightly()
    found_equal_next_time({"R1": "issued", "R2": "paid"})
    with after_the_first_batch(monkeypatch, lambda: update_record(
            by_key("accounts")["C1"], {"external_ref": "C1-OLD"})) as renamed:
        during = nightly()  # renamed between R1's batch and R2's
    assert renamed and during.unchanged == 3
    after = nightly()
    assert after.fingerprinted == 1  # R3 alone: C2's
    assert {error.line for error in row_errors(after)} == {2, 3}  # "C1" names no one now


def test_a_change_of_the_local_time_zone_converts_datetime_cells_again(
        tenant, app, make_profile, feed_file, run_import, monkeypatch):
    """A date and time without an offset is local time, read in the app's zone
    (BABEL_DEFAULT_TIMEZONE). The zone changed, the same row is read again in the new one,
    as a run without fingerprints would."""
    create_record(ENTITIES["accounts"], {"name": "Client", "external_ref": "C1"})
    db.session.commit()
    profile = make_profile("activities", {
        "Réf": "external_ref", "Type": "kind", "Sujet": "subject",
        "Client": "account.external_ref", "Échéance": "due_at"}, name="rappels")
    files = iter(range(1, 10))

    def nightly() -> ImportRun:
        path = feed_file("Réf;Type;Sujet;Client;Échéance\nA1;call;Rappel;C1;01/10/2026 10:00\n",
                         name=f"f{next(files)}.csv")
        return run_import(profile, path, force=True)

    assert nightly().created == 1
    db.session.expire_all()
    assert by_key("activities")["A1"].due_at == datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_TIMEZONE", "UTC")
    run = nightly()
    db.session.expire_all()
    assert by_key("activities")["A1"].due_at == datetime(2026, 10, 1, 10, 0, tzinfo=UTC), (
        f"skipped as unchanged: {run.fingerprinted} fingerprinted, {run.updated} updated")


def test_a_row_fingerprinted_under_older_conversion_rules_is_converted_again(
        world, make_profile, feed_file, run_import, monkeypatch):
    """Feeds of FORMAT 1 stored "€" as the currency "€"; the rules of every write refuse it
    since. A tenant upgraded with such records must see the row fail at the next night, as
    any file not fingerprinted yet would, not counted unchanged forever."""
    profile = make_profile("invoices", {"Réf": "external_ref", "N°": "number",
                                        "Client": "account.external_ref", "Total": "total",
                                        "Devise": "currency"}, name="factures-devise")
    path = feed_file("Réf;N°;Client;Total;Devise\nR1;F-001;C1;120,00;€\n"
                     "R2;F-002;C1;80,00;EUR\n", name="devises.csv")
    with monkeypatch.context() as before:  # the engine of FORMAT 1: no currency check
        before.setattr(fingerprints, "FORMAT", 1)
        before.setattr(convert, "is_currency_code", lambda text: True)
        first = run_import(profile, path, force=True)
    assert first.created == 2 and by_key("invoices")["R1"].currency == "€"
    after = run_import(profile, path, force=True)
    assert [error.line for error in row_errors(after)] == [2], (
        f"R1 skipped as unchanged: {after.fingerprinted} fingerprinted, {after.failed} failed")


@pytest.mark.parametrize("others", [0, 30], ids=["alone", "among-thirty-changed"])
def test_a_record_deleted_between_a_batchs_read_and_its_update_is_not_counted_updated(
        nightly, monkeypatch, app, tenant, others):
    """A user deletes R2 while the run that changes it runs: the run no longer counts it
    updated, nor audits an update of a record that is no more; the file says it exists, so
    the row creates it again, as the next run would."""
    more = [f"S{n:02d};G-{n:03d};C1;01/10/2026;Émise;{n},00;pme" for n in range(others)]
    nightly([*ROWS, *more])
    record_id = _invoice("R2").id
    done = _meanwhile(monkeypatch, app, tenant.id, lambda: delete_record(
        db.session.get(ENTITIES["invoices"].model, record_id)))
    changed = [ROWS[0], ROWS[1].replace("Payée", "Émise"), ROWS[2],
               *(row.replace("Émise", "Payée") for row in more)]
    run = nightly(changed)
    done()
    assert (run.created, run.updated, run.failed) == (1, others, 0)
    assert _invoice("R2").id != record_id and _invoice("R2").status == "issued"
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.entity == "invoices", AuditEvent.record_id == record_id,
        AuditEvent.action == "update")) == 0


@pytest.mark.parametrize("others", [0, 30], ids=["alone", "among-thirty-changed"])
def test_a_custom_value_a_user_saves_while_a_run_updates_the_record_stays(
        nightly, make_custom_field, monkeypatch, app, tenant, others):
    """A salesperson writes a note on R2 (a custom field the feed does not map) while the
    night's run changes R2's segment: the run writes the segment, not the custom values it
    read before the note, and both stay."""
    make_custom_field("invoices", "note", "text")
    more = [f"S{n:02d};G-{n:03d};C1;01/10/2026;Émise;{n},00;pme" for n in range(others)]
    nightly([*ROWS, *more])
    record_id, eti = _invoice("R2").id, _invoice("R2").custom["segment"]
    done = _meanwhile(monkeypatch, app, tenant.id, lambda: update_record(
        db.session.get(ENTITIES["invoices"].model, record_id),
        {"custom": {"note": "Rappeler lundi"}}))
    run = nightly([ROWS[0], ROWS[1].replace(";eti", ";pme"), ROWS[2],
                   *(row.replace(";pme", ";eti") for row in more)])
    done()
    assert (run.updated, run.failed) == (1 + others, 0)
    assert _invoice("R2").custom == {"segment": _invoice("R1").custom["segment"],
                                     "note": "Rappeler lundi"}
    if others:
        assert _invoice("S00").custom == {"segment": eti}


def test_a_users_save_keeps_a_custom_value_written_since_he_read_the_record(
        nightly, make_custom_field, app, tenant):
    """The other way round: a salesperson's save of a note on R2, whose page he opened
    before an integrator (or a run) emptied its segment, writes the note only: the segment
    stays as it is now, not as he read it."""
    make_custom_field("invoices", "note", "text")
    nightly()
    invoice = _invoice("R2")
    assert invoice.custom["segment"] is not None  # read, as the form shows it
    _elsewhere(app, tenant.id, lambda: update_record(
        db.session.get(ENTITIES["invoices"].model, invoice.id), {"custom": {"segment": None}}))
    update_record(invoice, {"custom": {"note": "Rappeler lundi"}})
    db.session.commit()
    assert _invoice("R2").custom == {"note": "Rappeler lundi"}


@pytest.mark.parametrize("others", [0, 30], ids=["alone", "among-thirty-changed"])
def test_an_email_a_user_saves_while_a_run_moves_the_customer_stays_searchable(
        world, make_profile, feed_file, run_import, monkeypatch, app, tenant, others):
    """A salesperson saves Client C1's new e-mail while the night's customers file moves C1
    to Lyon: the run writes C1's search text from the e-mail as it is when it writes, not
    as the batch read it, so that searching the new e-mail finds C1."""
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name", "Ville": "city"})
    more = [f"K{n:02d};Client K{n:02d};Paris" for n in range(others)]
    files = iter(range(1, 10))

    def nightly(rows: list[str]) -> ImportRun:
        path = feed_file("\n".join(["Réf;Nom;Ville", *rows]) + "\n", name=f"c{next(files)}.csv")
        return run_import(profile, path, force=True)

    nightly(["C1;Client C1;Paris", *more])
    customer_id = by_key("accounts")["C1"].id
    done = _meanwhile(monkeypatch, app, tenant.id, lambda: update_record(
        db.session.get(ENTITIES["accounts"].model, customer_id),
        {"email": "achats@client-un.fr"}))
    run = nightly(["C1;Client C1;Lyon", *(row.replace("Paris", "Lille") for row in more)])
    done()
    assert (run.updated, run.failed) == (1 + others, 0)
    db.session.expire_all()
    model = ENTITIES["accounts"].model
    assert db.session.scalars(select(model.id).where(
        found(model, "achats@client-un.fr"))).all() == [customer_id]
    assert db.session.scalars(select(model.id).where(found(model, "Lyon"))).all() \
        == [customer_id]


def test_undoing_a_run_keeps_a_custom_value_a_user_saved_while_it_wrote_the_record(
        nightly, make_custom_field, monkeypatch, app, tenant):
    """R2 has a note; a salesperson changes it while the night's run changes R2's segment.
    Undoing the run gives back the segment it changed, not the note as the run read it: the
    run never changed the note, and the salesperson's stays."""
    make_custom_field("invoices", "note", "text")
    nightly()
    record_id, eti = _invoice("R2").id, _invoice("R2").custom["segment"]
    update_record(_invoice("R2"), {"custom": {"note": "Avant"}})
    db.session.commit()
    done = _meanwhile(monkeypatch, app, tenant.id, lambda: update_record(
        db.session.get(ENTITIES["invoices"].model, record_id),
        {"custom": {"note": "Rappeler lundi"}}))
    run = nightly([ROWS[0], ROWS[1].replace(";eti", ";pme"), ROWS[2]])
    done()
    assert run.updated == 1 and _invoice("R2").custom["note"] == "Rappeler lundi"
    revert_run(db.session.get(ImportRun, run.id))
    db.session.commit()
    assert _invoice("R2").custom == {"segment": eti, "note": "Rappeler lundi"}
