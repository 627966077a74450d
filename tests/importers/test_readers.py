"""The feed readers on small real-looking files, one per quirk a tenant's export can have."""
from __future__ import annotations

import codecs
import csv
import io
import random
import tracemalloc
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importers import readers
from importers.readers import Limits, ReaderError, Row, open_table

FRENCH = "Société Générale;Crédit Agricole;Caisse d’Épargne;À l’œuvre;Île-de-France;12 €"


def write(tmp_path: Path, data: bytes | str, name: str = "feed.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def read(path: Path, **options) -> tuple[readers.Table, list[Row]]:
    table = open_table(path, **options)
    return table, list(table.rows())


def cells(rows: list[Row]) -> list[list]:
    return [row.cells for row in rows]


def lines(rows: list[Row]) -> list[int]:
    return [row.line for row in rows]


# --- Encodings ------------------------------------------------------------------------------

def test_utf8_without_bom(tmp_path):
    table, rows = read(write(tmp_path, "N° facture;Client\nF-001;Société Générale\n"))
    assert (table.kind, table.encoding, table.delimiter) == ("csv", "utf-8", ";")
    assert table.header == ["N° facture", "Client"]
    assert cells(rows) == [["F-001", "Société Générale"]]


def test_utf8_with_bom_loses_the_bom(tmp_path):
    path = write(tmp_path, codecs.BOM_UTF8 + "Code;Nom\nA1;Crédit\n".encode())
    table, rows = read(path)
    assert table.encoding == "utf-8-sig"
    assert table.header == ["Code", "Nom"]
    assert cells(rows) == [["A1", "Crédit"]]


def test_explicit_utf8_on_a_file_with_bom_still_drops_it(tmp_path):
    path = write(tmp_path, codecs.BOM_UTF8 + "Code;Nom\nA1;Crédit\n".encode())
    assert open_table(path, encoding="utf-8").header == ["Code", "Nom"]


def test_cp1252_french_reads_back_exactly(tmp_path):
    text = f"Raison sociale;Ville;Note;Autre;Région;Montant\n{FRENCH}\n"
    data = text.encode("cp1252")
    # What a charset detector tends to answer for such bytes, and why it must not be used.
    assert data.decode("cp1250") != text
    table, rows = read(write(tmp_path, data))
    assert table.encoding == "cp1252"
    assert cells(rows) == [FRENCH.split(";")]


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path):
    data = b"Code;Nom\nA1;Caf\xe9 \x81\x8d\x8f\x90\x9d\n"
    table, rows = read(write(tmp_path, data))
    assert table.encoding == "cp1252"
    assert cells(rows) == [["A1", "Café \x81\x8d\x8f\x90\x9d"]]


def test_latin1_file_reads_as_cp1252_and_with_an_override(tmp_path):
    path = write(tmp_path, "Pays;Ville\nCôte d'Ivoire;Abidjan\nFrançe;Nîmes\n".encode("latin-1"))
    assert cells(read(path)[1]) == [["Côte d'Ivoire", "Abidjan"], ["Françe", "Nîmes"]]
    table, rows = read(path, encoding="latin-1")
    assert table.encoding == "latin-1"
    assert rows[1].cells == ["Françe", "Nîmes"]


def test_explicit_encoding_wins_over_detection(tmp_path):
    path = write(tmp_path, "Nom\nSociété\n")
    table, rows = read(path, encoding="cp1252")
    assert table.encoding == "cp1252"
    assert cells(rows) == [["SociÃ©tÃ©"]]


@pytest.mark.parametrize("name", ["klingon", "rot13", "zlib", ""])
def test_unknown_or_binary_encoding_is_refused(tmp_path, name):
    with pytest.raises(ReaderError, match="Unknown encoding"):
        open_table(write(tmp_path, "a;b\n1;2\n"), encoding=name)


def test_utf8_check_covers_the_whole_file_not_its_start(tmp_path):
    head = "Code;Nom\n" + "A;plain ascii line\n" * 150_000  # ~2.8 MB, past the first chunk
    late_accent = write(tmp_path, head + "B;Élodie\n", "late-utf8.csv")
    assert open_table(late_accent).encoding == "utf-8"
    late_cp1252 = write(tmp_path, head.encode() + "B;Élodie\n".encode("cp1252"), "late.csv")
    table = open_table(late_cp1252)
    assert table.encoding == "cp1252"
    assert list(table.rows())[-1].cells == ["B", "Élodie"]


def test_utf8_sequence_cut_by_a_chunk_boundary_is_still_utf8(tmp_path):
    data = b"Nom\n" + b"a" * (readers.MB - 6) + "\né\n".encode()  # é straddles 1 MiB
    path = write(tmp_path, data)
    assert path.read_bytes()[readers.MB - 1:readers.MB + 1] == "é".encode()
    assert open_table(path).encoding == "utf-8"


def test_utf16_with_bom_is_excel_unicode_text(tmp_path):
    path = write(tmp_path, "Code\tNom\r\nA1\tCrédit\r\n".encode("utf-16"))
    table, rows = read(path)
    assert (table.encoding, table.delimiter) == ("utf-16", "\t")
    assert cells(rows) == [["A1", "Crédit"]]


# --- Delimiters -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, delimiter", [
    ("Code;Nom;Montant\nA1;Dupont, Jean;1 234,56\nA2;Durand;12,5\n", ";"),
    ('Code,Name,Amount\nA1,"Smith; John","1,234.56"\nA2,Doe,12.5\n', ","),
    ("Code\tNom\tMontant\nA1\tDupont, Jean; fils\t1 234,56\nA2\tDurand\t3\n", "\t"),
    ("Code|Nom|Montant\nA1|Dupont, Jean|1 234,56\nA2|Durand; fils|3\n", "|"),
])
def test_delimiter_is_sniffed(tmp_path, text, delimiter):
    table, rows = read(write(tmp_path, text))
    assert table.delimiter == delimiter
    assert table.header == ["Code", "Nom", "Montant"] or table.header == ["Code", "Name", "Amount"]
    assert [len(row.cells) for row in rows] == [3, 3]
    assert all(row.extra_cells == 0 for row in rows)


def test_sniffer_prefers_the_delimiter_that_keeps_columns_consistent(tmp_path):
    # The header has a comma too: ',' gives 2 columns on the header, not on every row.
    text = "Nom, prénom;Ville;Montant\nDupont, Jean;Paris;1,5\nDurand;Lyon;3,25\n"
    assert open_table(write(tmp_path, text)).delimiter == ";"


def test_sniffer_ignores_delimiters_inside_quotes(tmp_path):
    text = 'a,b\n"x;y;z",1\n"p;q;r",2\n'
    assert open_table(write(tmp_path, text)).delimiter == ","


def test_sniffer_accepts_a_trailing_delimiter_on_every_data_row(tmp_path):
    text = "a;b;c\n1;2;3;\n4;5;6;\n"
    table, rows = read(write(tmp_path, text))
    assert table.delimiter == ";"
    assert cells(rows) == [["1", "2", "3"], ["4", "5", "6"]]


def test_sniffer_with_trailing_empty_columns_everywhere(tmp_path):
    text = "a;b;c;;;\n1;;;;;\n1;2;3\n1;2;3;;;;\n"
    table, rows = read(write(tmp_path, text))
    assert (table.delimiter, table.header) == (";", ["a", "b", "c"])
    assert cells(rows) == [["1", "", ""], ["1", "2", "3"], ["1", "2", "3"]]


def test_sniffer_on_a_sample_cut_in_the_middle_of_a_record(tmp_path):
    row = 'A;"' + "texte, long " * 40 + '";3\n'
    text = "Code;Note;Montant\n" + row * (readers.SNIFF_CHARS // len(row) + 5)
    assert open_table(write(tmp_path, text)).delimiter == ";"


def test_single_column_file(tmp_path):
    table, rows = read(write(tmp_path, "Email\na@example.com\nb@example.com\n"))
    assert table.header == ["Email"]
    assert cells(rows) == [["a@example.com"], ["b@example.com"]]


@pytest.mark.parametrize("given, used", [(";", ";"), ("tab", "\t"), ("\\t", "\t"), ("|", "|")])
def test_delimiter_override(tmp_path, given, used):
    path = write(tmp_path, "a;b|c\td\n1;2|3\t4\n")
    table = open_table(path, delimiter=given)
    assert table.delimiter == used


@pytest.mark.parametrize("given", ["ab", "a", '"', "\n", " "])
def test_unusable_delimiter_is_refused(tmp_path, given):
    with pytest.raises(ReaderError, match="Unsupported delimiter"):
        open_table(write(tmp_path, "a;b\n"), delimiter=given)


# --- Quoting, lines and line numbers --------------------------------------------------------

def test_quoted_fields_with_delimiters_quotes_and_newlines(tmp_path):
    text = ('Code;Adresse;Note\n'
            'A1;"12 rue de la Paix; bât. B";"dit ""le grand"""\n'
            'A2;"3 place Bellecour\nEscalier C\n69002 Lyon";ok\n'
            'A3;simple;"fin"\n')
    table, rows = read(write(tmp_path, text))
    assert cells(rows) == [["A1", "12 rue de la Paix; bât. B", 'dit "le grand"'],
                           ["A2", "3 place Bellecour\nEscalier C\n69002 Lyon", "ok"],
                           ["A3", "simple", "fin"]]
    assert lines(rows) == [2, 3, 6]


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_ends(tmp_path, newline):
    text = newline.join(["a;b", "1;2", "", '3;"x', 'y"', "5;6", ""])
    table, rows = read(write(tmp_path, text))
    assert cells(rows) == [["1", "2"], ["3", "x\ny"], ["5", "6"]]
    assert lines(rows) == [2, 4, 6]


def test_mixed_line_ends(tmp_path):
    table, rows = read(write(tmp_path, "a;b\r\n1;2\n3;4\r5;6\r\n"))
    assert lines(rows) == [2, 3, 4]
    assert rows[-1].cells == ["5", "6"]


def test_blank_lines_are_skipped_and_counted(tmp_path):
    text = "\n\n  \nCode;Nom\n\nA1;x\n ; \n;;\nA2;y\n\n"
    table, rows = read(write(tmp_path, text))
    assert table.header_line == 4
    assert lines(rows) == [6, 9]


def test_empty_cells_and_trailing_empty_columns(tmp_path):
    text = "Code;Nom;Ville;;;\nA1;;Paris;;;\nA2;Dupont;;;;\n;;Lyon\n"
    table, rows = read(write(tmp_path, text))
    assert table.header == ["Code", "Nom", "Ville"]
    assert cells(rows) == [["A1", "", "Paris"], ["A2", "Dupont", ""], ["", "", "Lyon"]]
    assert all(row.extra_cells == 0 for row in rows)


def test_header_cells_are_stripped_and_blank_ones_named(tmp_path):
    table = open_table(write(tmp_path, " Code ;;\tNom\t; ;Ville\n1;2;3;4;5\n"))
    assert table.header == ["Code", "column_2", "Nom", "column_4", "Ville"]


def test_nul_bytes_are_removed(tmp_path):
    data = b"Code;Nom\x00\nA\x001;Du\x00pont\n\x00\x00\nA2;x\n"
    table, rows = read(write(tmp_path, data))
    assert table.header == ["Code", "Nom"]
    assert cells(rows) == [["A1", "Dupont"], ["A2", "x"]]
    assert lines(rows) == [2, 4]


def test_ragged_rows_are_padded_or_flagged(tmp_path):
    text = "a;b;c\n1\n1;2;3;4;;5\n1;2;3;;;\n1;2;3\n"
    table, rows = read(write(tmp_path, text))
    assert cells(rows) == [["1", "", ""], ["1", "2", "3"], ["1", "2", "3"], ["1", "2", "3"]]
    assert [row.extra_cells for row in rows] == [0, 2, 0, 0]


def test_long_field_is_yielded_and_flagged(tmp_path):
    long = "é" * 50_000
    text = f"Code;Note;Autre\nA1;{long};x\nA2;court;y\n"
    table, rows = read(write(tmp_path, text), limits=Limits(max_field_length=10_000))
    assert table.limits.max_field_length == 10_000
    assert rows[0].cells[1] == long
    assert rows[0].long_cells == (1,)
    assert rows[1].long_cells == ()


def test_field_past_the_hard_bound_stops_with_its_line(tmp_path):
    limits = Limits(max_field_length=10, max_columns=5)
    text = 'Code;Note\nA1;x\nA2;"never closed\n' + ("word " * 100 + "\n") * 3000
    table = open_table(write(tmp_path, text), limits=limits)
    rows = table.rows()
    assert next(rows).line == 2
    with pytest.raises(ReaderError) as error:
        next(rows)
    assert error.value.line == 3
    assert "Line 3: a record is longer than" in str(error.value)


def test_line_past_the_hard_bound_is_refused(tmp_path):
    limits = Limits(max_field_length=10, max_columns=5)
    path = write(tmp_path, "a;b\n1;2\n" + ";" * (limits.max_record_length + 10) + "\n")
    with pytest.raises(ReaderError) as error:
        list(open_table(path, limits=limits).rows())
    assert error.value.line == 3


def test_huge_field_within_bounds_does_not_trip_csv(tmp_path):
    big = "x" * 400_000  # well past csv's default field limit of 131,072
    table, rows = read(write(tmp_path, f'a;b\n1;"{big}"\n'))
    assert rows[0].cells[1] == big and rows[0].long_cells == (1,)


# --- Limits and empty files -----------------------------------------------------------------

def test_file_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = write(tmp_path, "a;b\n" + "1;2\n" * 1000)
    monkeypatch.setattr(readers, "_resolve_encoding", lambda *a: pytest.fail("read"))
    with pytest.raises(ReaderError, match="larger than"):
        open_table(path, limits=Limits(max_bytes=1000))


def test_row_limit_raises_when_crossed(tmp_path):
    path = write(tmp_path, "a;b\n1;2\n\n3;4\n5;6\n7;8\n")
    rows = open_table(path, limits=Limits(max_rows=3)).rows()
    assert [next(rows).line for _ in range(3)] == [2, 4, 5]
    with pytest.raises(ReaderError, match="more than 3 rows") as error:
        next(rows)
    assert error.value.line == 6
    assert error.value.params == {"line": 6, "limit": 3}


def test_row_limit_exactly_reached_is_fine(tmp_path):
    path = write(tmp_path, "a;b\n1;2\n3;4\n")
    assert len(list(open_table(path, limits=Limits(max_rows=2)).rows())) == 2


def test_too_many_header_columns(tmp_path):
    path = write(tmp_path, ";".join(f"c{i}" for i in range(6)) + "\n")
    with pytest.raises(ReaderError, match="6 columns; at most 5"):
        open_table(path, limits=Limits(max_columns=5))


@pytest.mark.parametrize("data", [b"", b"\n\n", b" ; \r\n;;\n", b"\x00\x00", b"\xef\xbb\xbf"])
def test_empty_file(tmp_path, data):
    with pytest.raises(ReaderError, match="The file is empty."):
        open_table(write(tmp_path, data))


def test_header_only(tmp_path):
    table, rows = read(write(tmp_path, "Code;Nom\n"))
    assert table.header == ["Code", "Nom"] and rows == []


def test_reader_error_keeps_its_message_id_and_params(tmp_path):
    with pytest.raises(ReaderError) as error:
        open_table(write(tmp_path, "a\n" * 10), limits=Limits(max_bytes=5))
    assert error.value.message_id == "The file is larger than %(mb)d MB."
    assert error.value.params == {"mb": 0}
    assert str(error.value) == "The file is larger than 0 MB."


def test_binary_garbage_does_not_crash(tmp_path):
    data = random.Random(7).randbytes(200_000)
    try:
        table = open_table(write(tmp_path, data))
        list(table.rows())
    except ReaderError:
        pass


def test_rows_can_be_read_twice(tmp_path):
    table = open_table(write(tmp_path, "a;b\n1;2\n"))
    assert cells(table.rows()) == cells(table.rows()) == [["1", "2"]]


# --- XLSX -----------------------------------------------------------------------------------

def make_workbook(path: Path, rows: list[list], title: str = "Factures") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


INVOICE_ROWS = [
    ["N° facture", "Date", "Montant", "Payée", "Client", None],
    ["F-001", datetime(2025, 12, 31), 1234.56, True, "Société Générale"],
    [],
    ["F-002", datetime(2026, 1, 2, 14, 30), 12, False, None, None],
]


def test_xlsx_values_and_row_numbers(tmp_path):
    table, rows = read(make_workbook(tmp_path / "factures.xlsx", INVOICE_ROWS))
    assert (table.kind, table.encoding, table.delimiter) == ("xlsx", None, None)
    assert table.header == ["N° facture", "Date", "Montant", "Payée", "Client"]
    assert cells(rows) == [
        ["F-001", datetime(2025, 12, 31), 1234.56, True, "Société Générale"],
        ["F-002", datetime(2026, 1, 2, 14, 30), 12, False, None],
    ]
    assert lines(rows) == [2, 4]
    assert isinstance(rows[1].cells[2], int)


def test_xlsx_named_csv_and_csv_named_xlsx(tmp_path):
    disguised = make_workbook(tmp_path / "export.csv", INVOICE_ROWS)
    assert open_table(disguised).kind == "xlsx"
    plain = write(tmp_path, "a;b\n1;2\n", "export.xlsx")
    table = open_table(plain)
    assert table.kind == "csv" and cells(table.rows()) == [["1", "2"]]


def test_xlsx_first_sheet_leading_blank_rows_and_ragged_rows(tmp_path):
    workbook = openpyxl.Workbook()
    first = workbook.active
    first.append([])
    first.append([None, None])
    first.append([" Code ", None, "Nom", None])
    first.append(["A1", None, "x", None, "extra", "  "])
    first.append(["A2"])
    workbook.create_sheet("Autre").append(["ignored"])
    workbook.save(tmp_path / "book.xlsx")
    table, rows = read(tmp_path / "book.xlsx")
    assert table.header == ["Code", "column_2", "Nom"] and table.header_line == 3
    assert cells(rows) == [["A1", None, "x"], ["A2", None, None]]
    assert [row.extra_cells for row in rows] == [1, 0]
    assert lines(rows) == [4, 5]


def test_xlsx_long_text_and_row_limit(tmp_path):
    path = make_workbook(tmp_path / "b.xlsx", [["a", "b"], ["x" * 50, 1], ["y", 2], ["z", 3]])
    rows = open_table(path, limits=Limits(max_field_length=20, max_rows=2)).rows()
    assert next(rows).long_cells == (0,)
    assert next(rows).long_cells == ()
    with pytest.raises(ReaderError, match="more than 2 rows"):
        next(rows)


def test_xlsx_workbook_is_closed_after_iteration(tmp_path, monkeypatch):
    closed = []
    load = openpyxl.load_workbook

    def spying_load(*args, **kwargs):
        workbook = load(*args, **kwargs)
        close = workbook.close
        workbook.close = lambda: (closed.append(True), close())
        return workbook

    monkeypatch.setattr(openpyxl, "load_workbook", spying_load)  # imported when reading
    table = open_table(make_workbook(tmp_path / "c.xlsx", INVOICE_ROWS))
    assert closed == [True]  # the header read
    list(table.rows())
    assert closed == [True, True]
    rows = table.rows()
    next(rows)
    rows.close()  # the engine stops early
    assert closed == [True, True, True]


def test_empty_workbook(tmp_path):
    with pytest.raises(ReaderError, match="empty"):
        open_table(make_workbook(tmp_path / "empty.xlsx", []))


def test_zip_without_workbook(tmp_path):
    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("factures.csv", "a;b\n1;2\n")
    with pytest.raises(ReaderError, match="not a readable Excel workbook"):
        open_table(path)


def test_damaged_workbook(tmp_path):
    data = make_workbook(tmp_path / "ok.xlsx", INVOICE_ROWS).read_bytes()
    for cut in (30, len(data) // 2, len(data) - 30):
        with pytest.raises(ReaderError, match="not a readable Excel workbook"):
            read(write(tmp_path, data[:cut], "cut.xlsx"))


def test_workbook_with_a_damaged_sheet(tmp_path):
    source = make_workbook(tmp_path / "ok.xlsx", INVOICE_ROWS)
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(damaged, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            copy.writestr(item, data)
    with pytest.raises(ReaderError, match="not a readable Excel workbook"):
        read(damaged)


def test_zip_bomb_is_refused(tmp_path):
    source = make_workbook(tmp_path / "ok.xlsx", INVOICE_ROWS)
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(source) as original, \
            zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as copy:
        for item in original.infolist():
            copy.writestr(item, original.read(item))
        copy.writestr("xl/media/padding.bin", b"\0" * (8 * readers.MB))
    with pytest.raises(ReaderError, match="unpacks to more than"):
        open_table(bomb, limits=Limits(max_bytes=readers.MB))


def test_legacy_xls_is_refused_with_advice(tmp_path):
    path = write(tmp_path, readers.OLE2_MAGIC + b"\0" * 600, "old.xls")
    with pytest.raises(ReaderError, match=r"save the file as \.xlsx or CSV"):
        open_table(path)


# --- Streaming ------------------------------------------------------------------------------

def test_50_mb_file_is_streamed_in_small_memory(tmp_path):
    path = tmp_path / "big.csv"
    row = "F-{:07d};Société Générale;31/12/2025;1 234,56;Paris;" + "note " * 188 + "\n"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("Numéro;Client;Date;Montant;Ville;Note\n")
        count = 0
        while fh.tell() < 50 * readers.MB:
            fh.writelines(row.format(count + i) for i in range(1000))
            count += 1000
    tracemalloc.start()
    try:
        table = open_table(path)
        read_rows, last = 0, None
        for row in table.rows():
            read_rows, last = read_rows + 1, row
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (table.encoding, table.delimiter, read_rows) == ("utf-8", ";", count)
    assert last.line == count + 1 and last.cells[0] == f"F-{count - 1:07d}"
    assert peak < 20 * readers.MB


# --- Properties: whatever a feed holds, the reader yields rows or a ReaderError -------------

PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
SMALL_LIMITS = st.builds(Limits, max_rows=st.integers(1, 40), max_columns=st.integers(1, 12),
                         max_field_length=st.integers(1, 60))
PREFIXES = st.sampled_from([b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE,
                            readers.ZIP_MAGIC, b'"', b"a;b\n"])
LATIN1_TEXT = "abcXYZ019 éèêàçùÉÀ«»°\t;,|\"'\n"
CP1252_TEXT = LATIN1_TEXT + "œŒ€’…"
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]


def read_everything(path: Path, **options) -> list[Row]:
    try:
        return list(open_table(path, **options).rows())
    except ReaderError:
        return []


@PROPERTY
@given(prefix=PREFIXES, data=st.binary(max_size=3000), limits=SMALL_LIMITS,
       delimiter=st.sampled_from(["auto", ";", ","]))
def test_random_bytes_never_crash(tmp_path, prefix, data, limits, delimiter):
    path = write(tmp_path, prefix + data, "random.bin")
    for row in read_everything(path, delimiter=delimiter, limits=limits):
        assert row.line >= 1


@PROPERTY
@given(text=st.text(max_size=2000), encoding=st.sampled_from(ENCODINGS),
       given_encoding=st.sampled_from(["auto", *ENCODINGS]), limits=SMALL_LIMITS)
def test_random_text_in_any_encoding_never_crashes(tmp_path, text, encoding, given_encoding,
                                                   limits):
    path = write(tmp_path, text.encode(encoding, errors="replace"), "text.csv")
    rows = read_everything(path, encoding=given_encoding, limits=limits)
    assert all(len(row.cells) == len(rows[0].cells) for row in rows)


def expected_rows(records: list[list[str]], width: int) -> list[tuple[list[str], int]]:
    out = []
    for record in records:
        if all(not cell.strip() for cell in record):
            continue
        kept = record[:width] + [""] * (width - len(record))
        out.append((kept, sum(1 for cell in record[width:] if cell.strip())))
    return out


@PROPERTY
@given(data=st.data(), encoding=st.sampled_from(ENCODINGS),
       delimiter=st.sampled_from([";", ",", "\t", "|"]),
       newline=st.sampled_from(["\r\n", "\n"]), long_limit=st.integers(1, 30))
def test_written_tables_read_back_exactly(tmp_path, data, encoding, delimiter, newline,
                                          long_limit):
    """csv.writer's output, ragged rows and long fields included, comes back cell for cell."""
    if encoding in ("cp1252", "latin-1"):
        alphabet = CP1252_TEXT if encoding == "cp1252" else LATIN1_TEXT
        cell = st.text(alphabet=alphabet, max_size=40)
    else:
        cell = st.text(st.characters(blacklist_categories=("Cs",),
                                     blacklist_characters="\x00\r"), max_size=40)
    header = data.draw(st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=8),
                                min_size=1, max_size=6))
    records = data.draw(st.lists(st.lists(cell, max_size=9), max_size=25))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(records)
    path = write(tmp_path, buffer.getvalue().encode(encoding), "table.csv")
    limits = Limits(max_field_length=long_limit)

    table = open_table(path, encoding=encoding, delimiter=delimiter, limits=limits)
    rows = list(table.rows())

    assert table.header == header
    assert [(row.cells, row.extra_cells) for row in rows] == expected_rows(records, len(header))
    for row in rows:
        assert row.long_cells == tuple(i for i, c in enumerate(row.cells) if len(c) > long_limit)
    # Every record starts one line after the previous one ends, blank ones included.
    starts, line = {}, 2
    for number, record in enumerate(records):
        starts[number] = line
        line += 1 + sum(c.count("\n") for c in record)
    kept = [n for n, r in enumerate(records) if any(c.strip() for c in r)]
    assert [row.line for row in rows] == [starts[n] for n in kept]


@PROPERTY
@given(data=st.data(), delimiter=st.sampled_from([";", ",", "\t", "|"]))
def test_sniffer_finds_the_delimiter_of_a_regular_table(tmp_path, data, delimiter):
    width = data.draw(st.integers(2, 6))
    names = st.text(alphabet="abcdefghij", min_size=1, max_size=8)
    header = data.draw(st.lists(names, min_size=width, max_size=width))
    cell = st.text(alphabet="ab 12,;|\t\"'\né", max_size=12)
    records = data.draw(st.lists(st.lists(cell, min_size=width, max_size=width), max_size=20))
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows([header, *records])
    assert open_table(write(tmp_path, buffer.getvalue(), "regular.csv")).delimiter == delimiter


XLSX_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(-1e12, 1e12).map(lambda f: round(f, 4)),  # openpyxl writes ~15 digits
    st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(9999, 12, 31))
    .map(lambda d: d.replace(microsecond=0)),
    # openpyxl stores a text starting with "=" as a formula (no cached value): not a text cell.
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
    .filter(lambda t: not t.startswith("=")),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.lists(XLSX_VALUES, max_size=6), max_size=12))
def test_workbooks_read_back_exactly(tmp_path, records):
    header = ["a", "b", "c", "d"]
    path = make_workbook(tmp_path / "random.xlsx", [header, *records])
    rows = list(open_table(path).rows())

    def blank(value):
        return value is None or (isinstance(value, str) and not value.strip())

    expected, lines_wanted = [], []
    for number, record in enumerate(records, start=2):
        if all(blank(v) for v in record):
            continue
        lines_wanted.append(number)
        expected.append((record[:4] + [None] * (4 - len(record)),
                         sum(not blank(v) for v in record[4:])))
    got = [(row.cells, row.extra_cells) for row in rows]
    assert got == [([None if v == "" else v for v in cells], extra)
                   for cells, extra in expected]
    assert [row.line for row in rows] == lines_wanted


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                      max_size=4))
def test_damaged_workbooks_never_crash(tmp_path, flips):
    data = bytearray(make_workbook(tmp_path / "ok.xlsx", INVOICE_ROWS).read_bytes())
    for position, value in flips:
        data[position % len(data)] = value
    read_everything(write(tmp_path, bytes(data), "flipped.xlsx"))
