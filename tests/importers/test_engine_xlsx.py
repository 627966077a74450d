"""XLSX feeds end to end: numbers as their cells show them, the sheet a profile names, and
crafted workbooks failing their run at once with a message the tenant can read."""
from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
from flask_babel import force_locale

from tests.importers.conftest import by_key, row_errors

ACCOUNTS = {"Code client": "external_ref", "Raison sociale": "name", "Code postal": "postal_code"}


def postal_codes_workbook(path: Path) -> Path:
    """200 customers; half of the postal codes below 10000, shown zero-padded as Calc shows
    them (the cells hold numbers, the format 00000 draws the zero)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Code client", "Raison sociale", "Code postal", "Effectif"])
    for n in range(200):
        sheet.append([f"C{n:03d}", f"Client {n}", 1000 + n if n % 2 else 69000 + n, 42])
        sheet.cell(row=n + 2, column=3).number_format = "00000"
        sheet.cell(row=n + 2, column=4).number_format = "00000"
    sheet.append(["C999", "Client 999", 1999, "beaucoup"])  # a bad headcount: a failed row
    sheet["C202"].number_format = "00000"
    book.save(path)
    return path


def test_postal_codes_formatted_00000_keep_their_leading_zero(make_profile, run_import,
                                                              make_custom_field, tmp_path):
    make_custom_field("accounts", "effectif", "integer")
    make_custom_field("accounts", "code_insee", "text")
    profile = make_profile("accounts", {**ACCOUNTS, "Effectif": "custom.effectif"})
    run = run_import(profile, postal_codes_workbook(tmp_path / "clients.xlsx"))
    assert run.status == "partial" and run.counts["created"] == 200
    # The errors file, fixed and sent back as CSV, keeps the code as the sheet showed it.
    assert [(e.line, e.raw[:3]) for e in row_errors(run)] == [
        (202, ["C999", "Client 999", "01999"])]
    accounts = by_key("accounts")
    assert accounts["C001"].postal_code == "01001"  # not "1001"
    assert accounts["C000"].postal_code == "69000"
    assert accounts["C001"].custom["effectif"] == 42  # a numeric target keeps the number
    assert sum(a.postal_code.startswith("0") for a in accounts.values()) == 100
    # A custom text field and a reference take the shown text too.
    texts = make_profile("accounts", {"Code client": "external_ref",
                                      "Code postal": "custom.code_insee"})
    assert run_import(texts, tmp_path / "clients.xlsx").counts["updated"] == 200
    assert by_key("accounts")["C001"].custom["code_insee"] == "01001"


def two_sheets(path: Path) -> Path:
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["Exporté le 03/12/2026"])
    clients = book.create_sheet("Clients")
    clients.append(["Code client", "Raison sociale", "Code postal"])
    clients.append(["C1", "Dupont", "69001"])
    book.save(path)
    return path


def test_a_profile_reads_the_sheet_it_names(make_profile, run_import, tmp_path):
    path = two_sheets(tmp_path / "export.xlsx")
    first = run_import(make_profile("accounts", ACCOUNTS), path)
    assert first.status == "failed" and "Code client" in first.message  # the first sheet
    run = run_import(make_profile("accounts", ACCOUNTS, sheet="Clients"), path)
    assert run.status == "succeeded"
    assert by_key("accounts")["C1"].name == "Dupont"


def test_an_unknown_sheet_fails_the_run_naming_the_sheets_there_are(make_profile, run_import,
                                                                    tmp_path):
    profile = make_profile("accounts", ACCOUNTS, sheet="Clients 2026")
    with force_locale("fr"):
        run = run_import(profile, two_sheets(tmp_path / "export.xlsx"))
    assert run.status == "failed"
    assert run.message == ("Le classeur n’a pas de feuille nommée « Clients 2026 » (ses "
                           "feuilles : “Notes”, “Clients”).")
    assert by_key("accounts") == {}


def test_a_workbook_with_its_header_at_row_20_million_fails_its_run(make_profile, run_import,
                                                                    tmp_path):
    sheet = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             '<sheetData><row r="20000000"><c r="A20000000" t="inlineStr"><is><t>Code client'
             "</t></is></c></row></sheetData></worksheet>")
    crafted = workbook_with_sheet(tmp_path, sheet)
    profile = make_profile("accounts", ACCOUNTS)
    with force_locale("en"):
        run = run_import(profile, crafted)
    assert run.status == "failed" and run.rows_done == 0
    assert run.message == ("Row 20000000 is beyond the last row of a worksheet (1048576): the "
                           "file is refused.")
    with force_locale("fr"):
        run = run_import(profile, crafted, force=True)
    assert run.message.startswith("La ligne 20000000 est au-delà de la dernière ligne")
    assert row_errors(run) == []


def test_a_workbook_of_filler_elements_fails_its_run_at_once(make_profile, run_import,
                                                           tmp_path):
    # Elements that belong nowhere in a sheet pack a hundredfold; read one by one they held a
    # worker minutes for no row: the first one fails the run.
    sheet = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             '<sheetData><row r="1">' + "".join(
                 f'<c r="{column}1" t="inlineStr"><is><t>{name}</t></is></c>'
                 for column, name in zip("ABC", ACCOUNTS, strict=True))
             + "</row>" + "<x/>" * 200_000 + "</sheetData></worksheet>")
    crafted = workbook_with_sheet(tmp_path, sheet)
    profile = make_profile("accounts", ACCOUNTS)
    with force_locale("en"):
        run = run_import(profile, crafted)
    assert run.status == "failed" and run.rows_done == 0
    assert run.message == ("The worksheet holds an element “x” where only rows and cells "
                           "belong: the file is refused.")
    with force_locale("fr"):
        run = run_import(profile, crafted, force=True)
    assert run.message == ("La feuille contient un élément « x » là où seules des lignes et des "
                           "cellules ont leur place : le fichier est refusé.")
    assert row_errors(run) == []


def test_a_profile_sheet_is_a_worksheet_name(tenant):
    from app.errors import ValidationError
    from importers.profile import parse_profile

    base = {"name": "clients", "entity": "accounts", "columns": ACCOUNTS}
    assert parse_profile(base).sheet is None and "sheet" not in parse_profile(base).definition
    named = parse_profile({**base, "sheet": "Clients"})
    assert named.sheet == "Clients" and named.definition["sheet"] == "Clients"
    for wrong in ("", "   ", 3, "x" * 32):
        try:
            parse_profile({**base, "sheet": wrong})
        except ValidationError as exc:
            assert "sheet" in exc.errors
        else:
            raise AssertionError(wrong)


def test_a_key_column_formatted_with_grouping_matches_the_records_it_created(
        make_profile, run_import, tmp_path):
    """A feed whose key cells gain the format #,##0 (shown 12,345) still updates the records
    it created the day before: no duplicates in upsert mode."""
    profile = make_profile("accounts", {"Code client": "external_ref",
                                        "Raison sociale": "name", "Code postal": "postal_code"})

    def feed(name: str, key_format: str | None) -> Path:
        book = openpyxl.Workbook()
        book.active.append(["Code client", "Raison sociale", "Code postal"])
        for n, key in enumerate((12345, 1234567.0, 7)):
            book.active.append([key, f"Client {n}", 1000 + n])
            book.active.cell(row=n + 2, column=3).number_format = "00000"
            if key_format:
                book.active.cell(row=n + 2, column=1).number_format = key_format
        if key_format:  # a row without its name: a failed row, in the errors file
            book.active.append([98765, None, 1003])
            book.active["A5"].number_format = key_format
        book.save(tmp_path / name)
        return tmp_path / name

    assert run_import(profile, feed("lundi.xlsx", None)).counts["created"] == 3
    run = run_import(profile, feed("mardi.xlsx", "#,##0"))
    assert run.status == "partial" and run.counts["created"] == 0
    assert run.counts["unchanged"] == 3
    # Fixed and sent back as CSV, the errors file's key creates 98765, not "98,765".
    assert [e.raw for e in row_errors(run)] == [["98765", None, "1003"]]
    accounts = by_key("accounts")
    assert sorted(accounts) == ["12345", "1234567", "7"]
    assert accounts["12345"].postal_code == "01000"


def workbook_with_sheet(tmp_path, sheet: str):
    """A workbook saved by openpyxl whose first sheet's XML is replaced by `sheet`."""
    book = openpyxl.Workbook()
    book.active.append(["x"])
    book.save(tmp_path / "source.xlsx")
    crafted = tmp_path / "crafted.xlsx"
    with zipfile.ZipFile(tmp_path / "source.xlsx") as source, \
            zipfile.ZipFile(crafted, "w", zipfile.ZIP_DEFLATED) as copy:
        for item in source.infolist():
            data = source.read(item)
            copy.writestr(item.filename, sheet if item.filename.endswith("sheet1.xml") else data)
    return crafted
