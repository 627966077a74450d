"""Feed fingerprints and what a row's references give: a customer's new partner (which its
documents take when their row gives none), a customer anonymised while a run reads the file,
a customer renamed while a run that then fails reads it. Each time the next nightly import
of the same file must give what a run without fingerprints gives, not skip the row."""

from __future__ import annotations

import pytest

from app.entities import ENTITIES
from app.extensions import db
from app.models import ImportRun
from app.services.erasure import anonymise_customer
from app.services.records import create_record, update_record
from tests.importers.conftest import (
    after_the_first_batch,
    by_key,
    found_equal_next_time,
    row_errors,
)


def _invoice(key: str):
    db.session.expire_all()
    return by_key("invoices")[key]


# -- a customer's new partner ---------------------------------------------------------------

PARTNER_COLUMNS = {"Réf": "external_ref", "N°": "number", "Client": "account.external_ref",
                   "Agence": "partner.external_ref", "Total": "total"}


@pytest.mark.parametrize("moved", ["by-the-service", "by-the-orm"])
@pytest.mark.parametrize("quoted", [False, True], ids=["by-lines", "by-cells"])
def test_an_empty_partner_cell_follows_the_customers_new_partner(
        tenant, make_profile, feed_file, run_import, quoted, moved):
    """A document whose partner cell is empty takes its customer's partner (the engine's
    `_default_partner`, as forms do). When the customer moves to another agency, the same
    nightly row gives the document the new agency: a re-import without fingerprints moves
    it. The fingerprint stored when the row created the document is not forgotten by the
    customer's change, so the row is skipped and the document stays with the old agency
    (the new agency's agent does not see his customer's invoice; the old one still does)."""
    first = create_record(ENTITIES["partners"], {"name": "Agence Nord", "external_ref": "P1"})
    second = create_record(ENTITIES["partners"], {"name": "Agence Sud", "external_ref": "P2"})
    create_record(ENTITIES["accounts"], {"name": "Client", "external_ref": "C1",
                                         "partner": first.id})
    db.session.commit()
    first_id, second_id = first.id, second.id
    profile = make_profile("invoices", PARTNER_COLUMNS, name="factures")
    header = "Réf;N°;Client;Agence;Total"
    row = 'R1;"F-001";C1;;120,00' if quoted else "R1;F-001;C1;;120,00"
    files = iter(range(1, 10))

    def nightly() -> ImportRun:
        path = feed_file(f"{header}\n{row}\n", name=f"f{next(files)}.csv")
        return run_import(profile, path, force=True)

    assert nightly().created == 1
    assert _invoice("R1").partner_id == first_id  # the customer's
    customer = by_key("accounts")["C1"]
    if moved == "by-the-service":
        update_record(customer, {"partner": second_id})
    else:  # read before the last commit: its partner is not loaded when it is set
        db.session.commit()
        customer.partner_id = second_id
    db.session.commit()
    assert by_key("accounts")["C1"].partner_id == second_id
    run = nightly()
    assert _invoice("R1").partner_id == second_id, (
        f"skipped as unchanged: {run.fingerprinted} fingerprinted, {run.updated} updated")


# -- a customer anonymised while a run reads the file ---------------------------------------

COLUMNS = {"Réf": "external_ref", "N°": "number", "Client": "account.external_ref",
           "Statut": "status", "Total": "total"}
HEADER = "Réf;N°;Client;Statut;Total"
PERSON = "jean.dupont@example.com"
ROWS = [f"R1;F-001;{PERSON};Émise;120,00", f"R2;F-002;{PERSON};Payée;80,50",
        "R3;F-003;C2;Émise;1 000,00"]


def test_a_customer_anonymised_while_a_run_reads_the_file_leaves_no_stale_fingerprint(
        tenant, make_profile, feed_file, run_import, monkeypatch):
    """A private customer whose reference is his e-mail loses it when he is anonymised
    (erasure: `record.external_ref = None`): rows naming him must fail from then on. The
    run resolves a reference once and remembers it across batches; a rename between two
    batches is caught at the run's end by `forget_renamed_since`, which looks for audit
    events whose `before` holds external_ref. The anonymisation's event ("anonymise",
    before None) holds none: R2, found equal in the batch after the erasure, keeps its
    fingerprint and the next nightly import skips it instead of failing it."""
    create_record(ENTITIES["accounts"], {"name": "Jean Dupont", "kind": "person",
                                         "email": PERSON, "external_ref": PERSON})
    create_record(ENTITIES["accounts"], {"name": "Client C2", "external_ref": "C2"})
    db.session.commit()
    profile = make_profile("invoices", COLUMNS, name="factures-nuit")
    files = iter(range(1, 10))

    def nightly() -> ImportRun:
        path = feed_file("\n".join([HEADER, *ROWS]) + "\n", name=f"f{next(files)}.csv")
        return run_import(profile, path, force=True)

    nightly()
    found_equal_next_time({"R1": "issued", "R2": "paid"})
    with after_the_first_batch(monkeypatch, lambda: anonymise_customer(
            by_key("accounts")[PERSON])) as erased:  # between R1's batch and R2's
        during = nightly()
    assert erased and during.unchanged == 3
    assert PERSON not in by_key("accounts")  # his reference went with his data
    after = nightly()
    # R1 and R2 name a customer that no longer exists: both fail, neither is skipped.
    assert {error.line for error in row_errors(after)} == {2, 3}, (
        f"{after.fingerprinted} fingerprinted, {after.failed} failed")


# -- a customer renamed while a run reads a file that then fails ------------------------------

def test_a_customer_renamed_while_a_run_that_then_fails_leaves_no_stale_fingerprint(
        tenant, app, make_profile, feed_file, run_import, monkeypatch):
    """The run-end forgetting of renamed references (`_forget_renamed_references`, after the
    batches loop in ColumnImport.run) is skipped when the run is cut short after some of its
    batches were committed: here the file holds more rows than allowed (ReaderError at row
    4, as a truncated or doubled export would). R2, found equal in the batch after C1's
    rename, keeps the fingerprint it took as if C1 still named it, and the next night's
    import of the normal file skips R2 instead of failing it ("No customer C1")."""
    create_record(ENTITIES["accounts"], {"name": "Client C1", "external_ref": "C1"})
    create_record(ENTITIES["accounts"], {"name": "Client C2", "external_ref": "C2"})
    db.session.commit()
    profile = make_profile("invoices", COLUMNS, name="factures-nuit")
    # A quoted cell (as many exports write them): every file is read by csv, its rows
    # fingerprinted by their cells, whether or not it holds too many rows.
    rows = [row.replace(PERSON, "C1").replace("F-003", '"F-003"') for row in ROWS]
    files = iter(range(1, 10))

    def nightly(lines: list[str]) -> ImportRun:
        path = feed_file("\n".join([HEADER, *lines]) + "\n", name=f"f{next(files)}.csv")
        return run_import(profile, path, force=True)

    nightly(rows)
    found_equal_next_time({"R1": "issued", "R2": "paid"})
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 3)
    with after_the_first_batch(monkeypatch, lambda: update_record(
            by_key("accounts")["C1"], {"external_ref": "C1-OLD"})) as renamed:
        during = nightly([*rows, "R4;F-004;C2;Émise;10,00"])
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 5_000_000)
    assert renamed and during.status == "failed" and during.rows_done == 3
    after = nightly(rows)
    # R1 and R2 name "C1", which names no customer now: both fail, neither is skipped.
    assert {error.line for error in row_errors(after)} == {2, 3}, (
        f"{after.fingerprinted} fingerprinted, {after.failed} failed")


def test_a_customer_moved_to_another_partner_while_a_run_reads_the_file_leaves_no_stale_fingerprint(
        tenant, make_profile, feed_file, run_import, monkeypatch):
    """A run remembers each customer's partner for its whole length. A customer moved to
    another agency between two batches: the move forgets his documents' fingerprints, then
    the next batch creates R2 with the agency remembered and stores R2's fingerprint. The
    run's end forgets it again, so the next nightly import moves R2 with R1."""
    first = create_record(ENTITIES["partners"], {"name": "Agence Nord", "external_ref": "P1"})
    second = create_record(ENTITIES["partners"], {"name": "Agence Sud", "external_ref": "P2"})
    create_record(ENTITIES["accounts"], {"name": "Client", "external_ref": "C1",
                                         "partner": first.id})
    create_record(ENTITIES["accounts"], {"name": "Client 2", "external_ref": "C2"})
    db.session.commit()
    first_id, second_id = first.id, second.id
    profile = make_profile("invoices", PARTNER_COLUMNS, name="factures")
    rows = "Réf;N°;Client;Agence;Total\nR1;F-001;C1;;120,00\nR2;F-002;C1;;80,00\n" \
           "R3;F-003;C2;;10,00\n"
    files = iter(range(1, 10))

    def nightly() -> ImportRun:
        return run_import(profile, feed_file(rows, name=f"f{next(files)}.csv"), force=True)

    with after_the_first_batch(monkeypatch, lambda: update_record(
            by_key("accounts")["C1"], {"partner": second_id})) as moved:
        during = nightly()  # moved between R1's batch and R2's
    assert moved and during.created == 3
    db.session.expire_all()
    assert by_key("invoices")["R1"].partner_id == first_id  # written before the move
    nightly()
    db.session.expire_all()
    invoices = by_key("invoices")
    # Without fingerprints both invoices of C1 take its new agency.
    assert invoices["R1"].partner_id == second_id
    assert invoices["R2"].partner_id == second_id, "R2 skipped on a stale fingerprint"
