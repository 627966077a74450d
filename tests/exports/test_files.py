"""Export files byte for byte: CSV `;` in Windows-1252 (characters it lacks replaced and
counted), CSV UTF-8 with BOM, XLSX read back with openpyxl; columns, custom fields, filters."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from app.errors import ValidationError
from app.extensions import db
from app.services.custom_field_defs import create_field
from importers.export_runs import run_file_path


@pytest.fixture
def invoices(make_account, make_invoice):
    lyon = make_account(name="Stores Étienne", external_ref="C001")
    lodz = make_account(name="Łódź Okna ✓", external_ref="C002")
    first = make_invoice(
        account=lyon.id, number="F0001", issued_on=date(2026, 10, 1), external_ref="INV1", custom={}
    )
    second = make_invoice(
        account=lodz.id, number="=F0002", issued_on=date(2026, 10, 2), external_ref="INV2"
    )
    return first, second


def test_csv_for_french_accounting_is_windows_1252_with_semicolons(make_export, run_now, invoices):
    export = make_export(
        format="csv_cp1252",
        columns=["number", "issued_on", "account", "account.external_ref", "total"],
        headers={"number": "N° pièce"},
    )
    run = run_now(export)
    assert run.status == "succeeded", run.message
    data = run_file_path(run).read_bytes()
    expected = (
        "N° pièce;Date d’émission;Client;Client (Référence externe);Total TTC\r\n"
        "F0001;01/10/2026;Stores Étienne;C001;1481,47\r\n"
        "'=F0002;02/10/2026;Lódz Okna ?;C002;1481,47\r\n"
    ).encode("cp1252")
    assert data == expected
    assert run.rows == 2 and run.replaced_cells == 1
    assert "3:Client" in run.message  # the line and column to check
    assert run.file_name.endswith(".csv") and run.file_size == len(expected)
    assert run.sha256 == hashlib.sha256(expected).hexdigest()


def test_csv_utf8_has_a_bom_and_keeps_every_character(make_export, run_now, invoices):
    run = run_now(make_export(format="csv_utf8", columns=["number", "account", "status"]))
    assert (
        run_file_path(run).read_bytes()
        == (
            "\ufeffNuméro;Client;Statut\r\n"
            "F0001;Stores Étienne;issued\r\n"
            "'=F0002;Łódź Okna ✓;issued\r\n"
        ).encode()
    )
    assert run.replaced_cells == 0 and run.message is None


def test_xlsx_keeps_numbers_dates_and_text_as_such(make_export, run_now, invoices):
    run = run_now(make_export(format="xlsx", columns=["number", "issued_on", "total"]))
    sheet = load_workbook(run_file_path(run)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Numéro", "Date d’émission", "Total TTC")
    assert rows[1][0] == "F0001" and rows[1][1].date() == date(2026, 10, 1)
    assert Decimal(str(rows[1][2])) == Decimal("1481.47")
    assert rows[2][0] == "=F0002"  # text, not a formula
    assert sheet.cell(3, 1).data_type == "s"
    assert run.sha256 == hashlib.sha256(run_file_path(run).read_bytes()).hexdigest()


def test_custom_fields_and_filters_as_the_list_pages_read_them(
    make_export, run_now, make_invoice, make_account
):
    create_field(
        {
            "entity": "invoices",
            "key": "code_compta",
            "label_fr": "Code compta",
            "label_en": "Ledger code",
            "type": "text",
        }
    )
    db.session.commit()
    account = make_account(name="Alpha")
    make_invoice(account=account.id, number="P1", status="paid", custom={"code_compta": "411ALPHA"})
    make_invoice(account=account.id, number="I1", status="issued")
    run = run_now(make_export(columns=["number", "custom.code_compta"], filters={"status": "paid"}))
    text = run_file_path(run).read_bytes().decode("utf-8-sig")
    assert text == "Numéro;Code compta\r\nP1;411ALPHA\r\n"


@pytest.mark.parametrize(
    "over, field",
    [
        ({"columns": ["number", "nope"]}, "columns"),
        ({"columns": []}, "columns"),
        ({"entity": "unicorns"}, "entity"),
        ({"filters": {"issued_on_from": "yesterday-ish"}}, "filters"),
        ({"format": "pdf"}, "format"),
        ({"destination": "email", "recipients": ["not-an-address"]}, "recipients"),
        ({"schedule": "every night"}, "schedule"),
    ],
)
def test_a_definition_with_a_mistake_is_refused_naming_it(make_export, over, field):
    with pytest.raises(ValidationError) as refused:
        make_export(**over)
    assert field in refused.value.errors


def test_an_export_reads_its_own_tenants_records_only(
    make_export, run_now, invoices, other_tenant, in_tenant
):
    from app.entities import ENTITIES
    from app.services.records import create_record

    def beta_invoice() -> None:
        account = create_record(
            ENTITIES["accounts"], {"name": "Beta Client", "external_ref": "C001"}
        )
        create_record(ENTITIES["invoices"], {"account": account.id, "number": "BETA-1"})

    in_tenant(other_tenant, beta_invoice)
    export = make_export(format="csv_utf8", columns=["number", "account", "account.external_ref"])
    run = run_now(export)
    text = run_file_path(run).read_bytes().decode("utf-8-sig")
    assert run.rows == 2 and "BETA" not in text and "Beta Client" not in text
    assert text.splitlines()[1:] == ["F0001;Stores Étienne;C001", "'=F0002;Łódź Okna ✓;C002"]


def test_a_replaced_character_beside_empty_cells_is_counted(make_export, run_now, make_account):
    from app.entities import ENTITIES
    from app.services.records import create_record

    account = make_account(name="Żabka ✓", external_ref=None)
    create_record(ENTITIES["invoices"], {"account": account.id, "number": "F1"})
    export = make_export(
        format="csv_cp1252", columns=["number", "account", "account.external_ref", "due_on"]
    )
    run = run_now(export)
    assert run.status == "succeeded", run.message
    assert run_file_path(run).read_bytes().splitlines()[1] == "F1;Zabka ?;;".encode("cp1252")
    assert run.replaced_cells == 1 and "2:Client" in run.message


@pytest.mark.parametrize("page", [1, 5000])
def test_cells_with_separators_quotes_line_breaks_and_formulas_read_as_written(
    make_export, run_now, make_account, make_invoice, monkeypatch, page
):
    """Whoever writes the rows (the csv module, or PostgreSQL's COPY): the same bytes; read
    a row at a time too, the first page all ASCII, the replaced cell still named by its line."""
    from importers import export_rows

    monkeypatch.setattr(export_rows, "PAGE_SIZE", page)
    odd = make_account(name='Dupont; "Fils"\net Cie', external_ref="-12,50")
    make_invoice(account=odd.id, number="+33 1 23", issued_on=date(2026, 10, 3))
    empty = make_account(name="@Home ✓", external_ref="")
    make_invoice(account=empty.id, number="-5", issued_on=date(2026, 10, 4))
    columns = ["number", "account", "account.external_ref", "issued_on"]
    expected = (
        "N° facture;Client;Client (Référence externe);Date d’émission\r\n"
        "'+33 1 23;\"Dupont; \"\"Fils\"\"\net Cie\";-12,50;03/10/2026\r\n"
        "-5;'@Home {mark};;04/10/2026\r\n"
    )
    headers = {"number": "N° facture"}
    utf8 = run_now(make_export(format="csv_utf8", columns=columns, headers=headers))
    assert run_file_path(utf8).read_bytes() == "\ufeff".encode() + expected.format(
        mark="✓").encode()
    assert utf8.sha256 == hashlib.sha256(run_file_path(utf8).read_bytes()).hexdigest()
    cp1252 = run_now(make_export(format="csv_cp1252", columns=columns, headers=headers))
    assert run_file_path(cp1252).read_bytes() == expected.format(mark="?").encode("cp1252")
    assert cp1252.sha256 == hashlib.sha256(run_file_path(cp1252).read_bytes()).hexdigest()
    assert (cp1252.rows, cp1252.replaced_cells) == (2, 1)
    assert "3:Client" in cp1252.message


def test_a_long_export_beats_while_it_reads(make_export, run_now, invoices, monkeypatch):
    """The beat of a run that reads for long (every page here) goes on its own connection,
    never through the one the read holds (PostgreSQL's COPY on it until its last row)."""
    from importers import export_rows, export_runs

    monkeypatch.setattr(export_runs, "HEARTBEAT_SECONDS", -1.0)
    monkeypatch.setattr(export_rows, "PAGE_SIZE", 1)
    for fmt in ("csv_utf8", "csv_cp1252", "xlsx"):
        run = run_now(make_export(format=fmt, columns=["number", "account"]))
        assert (run.status, run.rows) == ("succeeded", 2), run.message
        assert run.heartbeat_at is not None



def test_a_database_error_half_way_through_fails_the_run_and_the_next_one_runs(
    make_export, run_now, invoices, monkeypatch, backend
):
    """An error the database raises while COPY sends the rows (here a cell it cannot read as
    a number, on the second row) ends the run with its reason, and the connection is left
    fit for the next run."""
    if backend != "postgresql":
        pytest.skip("COPY writes the rows on PostgreSQL alone")
    from sqlalchemy import Integer, String, case, cast, type_coerce

    from importers import export_rows

    def breaks_on_the_second_row(column):
        number = cast(cast(column, Integer), String)
        return type_coerce(case((column == "=F0002", number), else_=column), String)

    with monkeypatch.context() as patch:
        patch.setattr(export_rows, "PAGE_SIZE", 1)
        patch.setattr(export_rows, "_formula_safe", breaks_on_the_second_row)
        failed = run_now(make_export(format="csv_cp1252", columns=["number", "account"]))
    assert failed.status == "failed" and "InvalidTextRepresentation" in failed.message
    run = run_now(make_export(format="csv_cp1252", columns=["number", "issued_on", "account"]))
    assert (run.status, run.rows) == ("succeeded", 2), run.message
    assert run_file_path(run).read_bytes().splitlines()[1] == b"F0001;01/10/2026;Stores \xc9tienne"
