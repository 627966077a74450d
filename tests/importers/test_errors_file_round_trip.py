"""The errors file of a run goes back through the same profile once fixed, whatever the profile
reads: a worksheet named by the profile, a pinned encoding, pinned date and decimal formats, and
cells the errors file quoted so that a spreadsheet shows them instead of running them."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
import pytest
from flask_babel import force_locale
from sqlalchemy import select

from app.extensions import db
from app.models import Attachment, ImportRun
from app.services import feeds
from importers import runs
from importers.errors_csv import stream_errors_csv
from tests.importers.conftest import by_key, records, row_errors
from tests.importers.test_archives import HEADER as CV_HEADER
from tests.importers.test_archives import archive, cv_profile, word_file  # noqa: F401

INVOICES = {"N° facture": "number", "Réf": "external_ref", "Code client": "account.external_ref",
            "Date": "issued_on", "Montant TTC": "total"}
HEADER = ";".join(INVOICES) + "\n"
CONTACTS = {"Réf": "external_ref", "Client": "account.external_ref", "Nom": "last_name"}
pytestmark = pytest.mark.usefixtures("customers")


@pytest.fixture
def customers(make_account) -> None:
    make_account(external_ref="C001", name="Stores Dupont")


def _errors_rows(run) -> list[list[str]]:
    with force_locale("fr"):
        text = "".join(stream_errors_csv(run))
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def _send_back(rows: list[list[str]], tmp_path) -> object:
    """The errors file as a spreadsheet saves it again: UTF-8 with its mark, `;`."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    path = tmp_path / "erreurs-corrigees.csv"
    path.write_bytes(("\ufeff" + buffer.getvalue()).encode("utf-8"))
    return path


def _workbook(tmp_path, rows, *, first_sheet: list | None = None):
    book = openpyxl.Workbook()
    sheet = book.active
    if first_sheet is not None:
        sheet.title = "Lisez-moi"
        sheet.append(first_sheet)
        sheet = book.create_sheet("Factures")
    for row in rows:
        sheet.append(row)
    path = tmp_path / "factures.xlsx"
    book.save(path)
    return path


def test_the_errors_file_of_a_named_worksheet_has_that_worksheet_s_header(
        make_profile, run_import, tmp_path):
    profile = make_profile("invoices", INVOICES, sheet="Factures")
    path = _workbook(tmp_path, [list(INVOICES), ["F1", "R1", "C001", date(2025, 3, 15), 10],
                                ["F2", "R2", "C001", "pas une date", 10]],
                     first_sheet=["Export comptable du 15/03/2025"])
    run = run_import(profile, path)
    assert (run.created, run.failed) == (1, 1)
    rows = _errors_rows(run)
    assert rows[0] == [*INVOICES, "Ligne", "Erreur"]
    assert rows[1][:5] == ["F2", "R2", "C001", "pas une date", "10"]
    rows[1][3] = "16/03/2025"
    again = run_import(profile, _send_back(rows, tmp_path))
    assert (again.status, again.created) == ("succeeded", 1)


def test_keys_and_amounts_the_errors_file_quoted_come_back_as_they_were(
        make_profile, run_import, feed_file, tmp_path):
    profile = make_profile("invoices", INVOICES)
    run = run_import(profile, feed_file(HEADER + "F1;-R1;C001;pas une date;10,00\n"
                                                 "F2;+R2;C001;pas une date;-1 234,56\n"))
    rows = _errors_rows(run)
    # A spreadsheet would run -R1 or +R2 as a formula: the errors file quotes them.
    assert [row[1] for row in rows[1:]] == ["'-R1", "'+R2"]
    for row in rows[1:]:
        row[3] = "15/03/2025"
    again = run_import(profile, _send_back(rows, tmp_path))
    assert (again.created, again.failed) == (2, 0), [e.message for e in row_errors(again)]
    invoices = {invoice.external_ref: invoice for invoice in records("invoices")}
    assert set(invoices) == {"-R1", "+R2"}
    assert str(invoices["+R2"].total) == "-1234.56"


def test_a_file_that_is_not_an_errors_file_keeps_its_quotes(
        make_profile, run_import, feed_file):
    run = run_import(make_profile("invoices", INVOICES),
                     feed_file(HEADER + "F1;'-R1;C001;15/03/2025;10,00\n"))
    assert run.created == 1
    assert [invoice.external_ref for invoice in records("invoices")] == ["'-R1"]


def test_a_windows_1252_profile_takes_its_errors_file_back(
        make_profile, run_import, feed_file, tmp_path):
    profile = make_profile("invoices", INVOICES, encoding="windows-1252", delimiter=";")
    run = run_import(profile, feed_file(HEADER + "F1;R1;C001;pas une date;10,00\n",
                                        encoding="cp1252"))
    rows = _errors_rows(run)
    rows[1][3] = "15/03/2025"
    again = run_import(profile, _send_back(rows, tmp_path))
    assert (again.status, again.created) == ("succeeded", 1), again.message


def test_a_workbook_s_dates_and_decimals_go_back_through_pinned_formats(
        make_profile, run_import, tmp_path):
    profile = make_profile("invoices", INVOICES, date_format="%d/%m/%Y", decimal=",")
    path = _workbook(tmp_path, [list(INVOICES), ["F1", "R1", "C999", date(2025, 3, 15), 99.99]])
    run = run_import(profile, path)
    rows = _errors_rows(run)
    assert rows[1][3:5] == ["15/03/2025", "99,99"]
    rows[1][2] = "C001"  # the customer was unknown
    again = run_import(profile, _send_back(rows, tmp_path))
    assert (again.created, again.failed) == (1, 0), [e.message for e in row_errors(again)]
    [invoice] = records("invoices")
    assert (invoice.issued_on, str(invoice.total)) == (date(2025, 3, 15), "99.99")


def test_an_errors_file_with_its_columns_moved_and_a_quoted_header_comes_back(
        make_profile, run_import, feed_file, tmp_path):
    columns = {"+Réf": "external_ref", "N° facture": "number",
               "Code client": "account.external_ref", "Date": "issued_on"}
    profile = make_profile("invoices", columns)
    run = run_import(profile, feed_file("+Réf;N° facture;Code client;Date\n"
                                        "-R1;F1;C001;pas une date\n"))
    rows = _errors_rows(run)
    assert rows[0][0] == "'+Réf" and rows[1][0] == "'-R1"
    # Fixed in a spreadsheet that put the errors file's two columns first.
    fixed = [[*row[4:], *row[:4]] for row in rows]
    fixed[1][5] = "15/03/2025"
    again = run_import(profile, _send_back(fixed, tmp_path))
    assert (again.status, again.created) == ("succeeded", 1), again.message
    assert [invoice.external_ref for invoice in records("invoices")] == ["-R1"]


PARTNERS = {"Code": "external_ref", "Nom": "name", "Mail": "email"}


def test_a_full_sync_profile_takes_its_errors_file_back_without_archiving_the_rest(
        make_profile, run_import, feed_file, tmp_path):
    profile = make_profile("partners", PARTNERS, full_sync=True)
    run = run_import(profile, feed_file("Code;Nom;Mail\nP1;Un;un@example.com\n"
                                        "P2;Deux;pas-un-mail\nP3;Trois;trois@example.com\n"))
    assert (run.created, run.failed) == (2, 1)
    rows = _errors_rows(run)
    rows[1][2] = "deux@example.com"
    again = run_import(profile, _send_back(rows, tmp_path))
    assert (again.created, again.archived) == (1, 0)
    assert sorted(p.external_ref for p in records("partners") if p.archived_at is None) \
        == ["P1", "P2", "P3"]
    # The whole file, next night, still archives what it no longer names.
    assert run_import(profile, feed_file("Code;Nom;Mail\nP1;Un;un@example.com\n")).archived == 2


def test_a_column_named_like_the_errors_file_s_own_keeps_its_value(
        make_profile, run_import, feed_file, tmp_path):
    profile = make_profile("partners", {**PARTNERS, "Ligne": "phone"})
    run = run_import(profile, feed_file("Code;Nom;Ligne;Mail\nP1;Un;01 23 45 67 89;pas-un-mail\n"))
    rows = _errors_rows(run)
    assert rows[0] == ["Code", "Nom", "Ligne", "Mail", "Ligne", "Erreur"]
    rows[1][3] = "un@example.com"
    assert run_import(profile, _send_back(rows, tmp_path)).created == 1
    assert records("partners")[0].phone == "01 23 45 67 89"


def test_an_archive_run_s_errors_file_has_its_metadata_file_s_header(
        tmp_path, cv_profile, run_import):  # noqa: F811
    path = archive(tmp_path, ["K1;C1;Lefèvre;Hélène;Dév;;lefevre.docx",
                              "K2;C1;Martin;Paul;Compta;;absent.docx"],
                   {"lefevre.docx": word_file("Hélène")})
    run = run_import(cv_profile, path)
    assert run.failed == 1
    rows = _errors_rows(run)
    assert rows[0] == [*CV_HEADER.split(";"), "Ligne", "Erreur"]
    assert rows[1][:7] == ["K2", "C1", "Martin", "Paul", "Compta", "", "absent.docx"]


def test_a_full_file_with_line_and_error_columns_of_its_own_still_archives(
        make_profile, run_import, feed_file):
    # An ERP's export whose own columns are named "Ligne" (a phone line) and "Erreur".
    profile = make_profile("accounts", {"Code": "external_ref", "Nom": "name",
                                        "Ligne": "phone", "Erreur": "city"}, full_sync=True)
    head = "Code;Nom;Ligne;Erreur\n"
    run_import(profile, feed_file(head + "A1;Un;01;Lyon\nA2;Deux;02;Nice\n"))
    again = run_import(profile, feed_file(head + "A1;Un;01;Lyon\n"))
    assert again.archived == 1
    assert sorted(a.external_ref for a in records("accounts") if a.archived_at is None) \
        == ["A1", "C001"]


def _customer_fixed(rows: list[list[str]], column: int) -> list[list[str]]:
    for row in rows[1:]:
        row[column] = "C001"  # the only thing that was wrong
    return rows


def test_a_workbook_date_given_as_a_serial_number_comes_back_as_that_date(
        make_profile, run_import, tmp_path):
    # An ERP's workbook whose date column is a plain number (General format): 45731 is
    # 15/03/2025, and the run reads it so. Only the customer was wrong.
    profile = make_profile("invoices", INVOICES)
    run = run_import(profile, _workbook(tmp_path, [list(INVOICES),
                                                   ["F1", "R1", "C999", 45731, 10]]))
    assert [e.column for e in row_errors(run)] == ["Code client"]
    again = run_import(profile, _send_back(_customer_fixed(_errors_rows(run), 2), tmp_path))
    assert (again.created, again.failed) == (1, 0), [e.message for e in row_errors(again)]
    assert records("invoices")[0].issued_on == date(2025, 3, 15)


def test_a_workbook_date_with_a_time_comes_back_through_a_pinned_date_format(
        make_profile, run_import, tmp_path):
    profile = make_profile("invoices", INVOICES, date_format="%d/%m/%Y")
    run = run_import(profile, _workbook(tmp_path, [
        list(INVOICES), ["F1", "R1", "C999", datetime(2025, 3, 15, 14, 30), 10]]))
    assert [e.column for e in row_errors(run)] == ["Code client"]
    again = run_import(profile, _send_back(_customer_fixed(_errors_rows(run), 2), tmp_path))
    assert (again.created, again.failed) == (1, 0), [e.message for e in row_errors(again)]
    assert records("invoices")[0].issued_on == date(2025, 3, 15)


@pytest.mark.parametrize(("kind", "cell", "date_format", "stored"), [
    ("date", datetime(2025, 3, 15, 9, 0), "auto", "2025-03-15"),  # a date and time: its day
    ("date", date(2025, 3, 4), "%m/%d/%Y", "2025-03-04"),  # not the 3rd of April
    ("decimal", 0.00005, "auto", "0.00005"),  # not 5e-05
], ids=["date-and-time", "month-first-date", "small-decimal"])
def test_a_workbook_cell_comes_back_into_a_custom_field_as_the_run_read_it(
        kind, cell, date_format, stored, make_profile, run_import, make_custom_field, tmp_path):
    make_custom_field("contacts", "champ", kind)
    columns = {**CONTACTS, "Champ": "custom.champ"}
    profile = make_profile("contacts", columns, date_format=date_format)
    run = run_import(profile, _workbook(tmp_path, [list(columns),
                                                   ["K1", "C999", "Martin", cell]]))
    assert [e.column for e in row_errors(run)] == ["Client"]
    again = run_import(profile, _send_back(_customer_fixed(_errors_rows(run), 1), tmp_path))
    assert (again.created, again.failed) == (1, 0), [e.message for e in row_errors(again)]
    assert records("contacts")[0].custom["champ"] == stored


def test_an_archive_run_s_errors_file_sent_back_from_its_page_takes_its_documents(
        tmp_path, tenant, cv_profile, run_import):  # noqa: F811
    """An archive's errors file is its metadata file alone: sent back fixed from the run's
    page ("Upload the corrected file"), its rows' documents are read from that run's
    archive, and so again when the corrected run is run again."""
    path = archive(tmp_path, ["K1;C9;Lefèvre;Hélène;Dév;;lefevre.docx",
                              "K2;C1;Martin;Paul;Compta;;"],
                   {"lefevre.docx": word_file("Hélène Lefèvre, développeuse")})
    run = run_import(cv_profile, path)
    assert (run.created, [e.column for e in row_errors(run)]) == (1, ["Client"])
    rows = _errors_rows(run)
    rows[1][1] = "C1"  # the customer was wrong, the CV was in the archive
    with _send_back(rows, tmp_path).open("rb") as stream:
        corrected = feeds.import_corrected_file(run, stream, "erreurs-corrigees.csv")
    db.session.commit()
    done = runs.run_import(corrected.id, tenant.id, max_wait=0)
    db.session.expire_all()
    again = db.session.get(ImportRun, done.id)
    assert (again.created, again.failed, again.attached) == (1, 0, 1), \
        [e.message for e in row_errors(again)]
    contact = by_key("contacts")["K1"]
    [attached] = db.session.scalars(select(Attachment).where(
        Attachment.record_type == "contacts", Attachment.record_id == contact.id)).all()
    assert attached.file_name == "lefevre.docx"
    assert feeds.rerun(again).documents_run_id == run.id
