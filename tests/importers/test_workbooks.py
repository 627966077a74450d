"""Crafted workbooks are refused at once, in bounded work; numbers read as their cells show them."""
from __future__ import annotations

import random
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest

from importers import readers
from importers.readers import Limits, ReaderError, open_table

SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def workbook(path: Path, rows: list[list]) -> Path:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def rewritten(source: Path, target: Path, parts: dict[str, bytes],
              stored: dict[str, bytes] | None = None) -> Path:
    """A copy of a workbook with some parts replaced or added (deflated, or stored as given)."""
    with zipfile.ZipFile(source) as original, \
            zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for item in original.infolist():
            if item.filename not in parts and item.filename not in (stored or {}):
                copy.writestr(item.filename, original.read(item))
        for name, data in parts.items():
            copy.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
        for name, data in (stored or {}).items():
            copy.writestr(name, data, compress_type=zipfile.ZIP_STORED)
    return target


def with_shared_strings(source: Path, target: Path, strings: bytes, rows: str,
                        stored: dict[str, bytes] | None = None) -> Path:
    """A workbook whose sheet refers to a shared-strings table (as Excel and Calc write)."""
    with zipfile.ZipFile(source) as original:
        types = original.read("[Content_Types].xml").replace(b"</Types>", (
            b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
            b'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
    return rewritten(source, target, {"[Content_Types].xml": types, STRINGS: strings,
                                      SHEET: sheet_xml(rows)}, stored)


def shared_strings(texts: list[str]) -> bytes:
    items = "".join(f"<si><t>{text}</t></si>" for text in texts)
    return f'<sst xmlns="{MAIN}">{items}</sst>'.encode()


def string_rows(count: int) -> str:
    return "".join(f'<row r="{n + 1}"><c r="A{n + 1}" t="s"><v>{n}</v></c></row>'
                   for n in range(count))


def sheet_xml(rows: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">'
            f"<sheetData>{rows}</sheetData></worksheet>").encode()


def text_row(number: int, *texts: str, columns: str = "ABCDEFGH") -> str:
    cells = "".join(f'<c r="{columns[i]}{number}" t="inlineStr"><is><t>{text}</t></is></c>'
                    for i, text in enumerate(texts))
    return f'<row r="{number}">{cells}</row>'


def crafted(tmp_path: Path, rows: str) -> Path:
    source = workbook(tmp_path / "source.xlsx", [["placeholder"]])
    return rewritten(source, tmp_path / "crafted.xlsx", {SHEET: sheet_xml(rows)})


@pytest.fixture
def counted_rows(monkeypatch):
    """How many rows the workbook reader handed over before the file was refused."""
    seen = []
    records = readers._xlsx_records

    def counting(*args, **kwargs):
        for record in records(*args, **kwargs):
            seen.append(record[0])
            yield record

    monkeypatch.setattr(readers, "_xlsx_records", counting)
    return seen


@pytest.fixture
def counted_events(monkeypatch):
    """The XML start and end events the workbook reader handled before it stopped."""
    from importers import workbooks

    seen = []
    events = workbooks._events

    def counting(*args, **kwargs):
        for event in events(*args, **kwargs):
            seen.append(event[0])
            yield event

    monkeypatch.setattr(workbooks, "_events", counting)
    return seen


def refusal(path: Path, **options) -> ReaderError:
    with pytest.raises(ReaderError) as error:
        table = open_table(path, **options)
        for _row in table.rows():
            pass
    return error.value


# --- Parts: size, ratio, shared strings ---------------------------------------------------

def test_a_stored_random_part_does_not_let_a_huge_shared_strings_table_through(tmp_path):
    # The whole archive looks modest next to its stored noise; its shared strings do not.
    source = workbook(tmp_path / "source.xlsx", [["Nom"], ["x"]])
    strings = (f'<sst xmlns="{MAIN}">'.encode() + b"<si><t>aaaaaaaaaaaaaaaa</t></si>" * 700_000
               + b"</sst>")
    bomb = with_shared_strings(
        source, tmp_path / "bomb.xlsx", strings, string_rows(2),
        stored={"xl/media/noise.bin": random.Random(3).randbytes(2 * readers.MB)})
    tracemalloc.start()
    try:
        error = refusal(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "zip bomb" in str(error) and "sharedStrings.xml" in str(error)
    assert peak < 5 * readers.MB  # refused before the table was parsed


def test_a_part_larger_than_the_limit_is_refused(tmp_path):
    source = workbook(tmp_path / "source.xlsx", [["Nom"], ["x"]])
    noise = random.Random(4).randbytes(3 * readers.MB // 2).hex().encode()  # packs to half
    big = rewritten(source, tmp_path / "big.xlsx", {"xl/media/noise.txt": noise})
    assert big.stat().st_size < 2 * readers.MB
    error = refusal(big, limits=Limits(max_bytes=2 * readers.MB))
    assert str(error) == ("The workbook part “xl/media/noise.txt” unpacks to more than 2 MB.")


def test_a_large_styles_part_is_refused_before_openpyxl_loads_it(tmp_path):
    """Styles, workbook, theme and properties are loaded whole as XML trees: past 16 MB they
    are refused, however honest their compression (a 5 MB upload held GBs of memory)."""
    source = workbook(tmp_path / "source.xlsx", [["Nom"], ["x"]])
    with zipfile.ZipFile(source) as original:
        styles = original.read("xl/styles.xml")
    padded = b"<!--" + b"-x" * (9 * readers.MB) + b"-->" + styles  # 18 MB, stored: ratio 1
    big = rewritten(source, tmp_path / "styles.xlsx", {}, stored={"xl/styles.xml": padded})
    tracemalloc.start()
    try:
        error = refusal(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(error) == "The workbook part “xl/styles.xml” unpacks to more than 16 MB."
    assert peak < 5 * readers.MB


def test_only_worksheets_and_shared_strings_may_pass_the_small_part_limit(tmp_path,
                                                                          monkeypatch):
    from importers import workbooks

    monkeypatch.setattr(workbooks, "PART_MAX_BYTES", readers.MB)
    rows = "".join(text_row(n, f"client {random.Random(n).random()}") for n in range(1, 30_000))
    assert len(sheet_xml(rows)) > 2 * readers.MB
    assert sum(1 for _row in open_table(crafted(tmp_path, rows)).rows()) == 29_998
    # A part also declared as a worksheet is still held to the small limit.
    source = workbook(tmp_path / "source.xlsx", [["Nom"], ["x"]])
    with zipfile.ZipFile(source) as original:
        types = original.read("[Content_Types].xml").replace(b"</Types>", (
            b'<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
            b'officedocument.spreadsheetml.worksheet+xml"/></Types>'))
    stored = {"xl/styles.xml": b" " * (2 * readers.MB) + b"<x/>"}
    error = refusal(rewritten(source, tmp_path / "spoofed.xlsx", {"[Content_Types].xml": types},
                              stored=stored))
    assert str(error) == "The workbook part “xl/styles.xml” unpacks to more than 1 MB."


def test_a_huge_inline_string_is_held_only_to_the_longest_field(tmp_path):
    noise = random.Random(5).randbytes(1_500_000).hex()  # packs to half: no zip bomb
    path = crafted(tmp_path, text_row(1, "Nom") + text_row(2, noise) + text_row(3, "y"))
    rows = list(open_table(path).rows())
    assert len(rows[0].cells[0]) == Limits().max_field_length + 1  # still too long: a row error
    assert rows[0].long_cells == (0,) and rows[1].cells == ["y"]


@pytest.mark.parametrize("inside", [
    "<is>" + "<r><t>a</t></r>" * 2000 + "</is>",  # thousands of rich-text runs
    # nested thousands deep, where any XML may go (an extension)
    '<extLst><ext uri="x">' + "<x>" * 5000 + "</x>" * 5000 + "</ext></extLst>",
])
def test_a_cell_of_thousands_of_elements_is_refused(tmp_path, inside):
    rows = text_row(1, "Nom") + f'<row r="2"><c r="A2" t="inlineStr">{inside}</c></row>'
    error = refusal(crafted(tmp_path, rows))
    assert str(error) == "This ZIP file is not a readable Excel workbook (.xlsx)."


def test_shared_strings_are_refused_past_their_count_without_reading_them_all(tmp_path,
                                                                            counted_events):
    texts = [f"client {n} {random.Random(n).random()}" for n in range(3000)]
    path = with_shared_strings(workbook(tmp_path / "source.xlsx", [["x"]]),
                               tmp_path / "many.xlsx", shared_strings(texts), string_rows(3000))
    assert open_table(path).header == [texts[0]]  # what the limit is about: a readable file
    counted_events.clear()
    error = refusal(path, limits=Limits(max_shared_strings=1000))
    assert str(error) == "The workbook holds more than 1000 distinct texts: save it as CSV."
    assert len(counted_events) <= 4 * 1001 + 1  # <si><t>: the first 1,001 entries of 3,000


def test_an_element_out_of_place_in_the_shared_strings_is_refused_at_once(tmp_path,
                                                                          counted_events):
    # Filler elements pack a hundredfold: 0.76 MB of them held a worker for minutes.
    strings = f'<sst xmlns="{MAIN}"><si><t>Nom</t></si><si><t>x</t></si>{"<x/>" * 200_000}</sst>'
    path = with_shared_strings(workbook(tmp_path / "source.xlsx", [["x"]]),
                               tmp_path / "filler.xlsx", strings.encode(), string_rows(2))
    error = refusal(path)
    assert str(error) == ("The texts of the workbook hold an element “x” where only texts "
                          "belong: the file is refused.")
    assert len(counted_events) < 20  # the first filler, not the 200,000 of them


def test_shared_strings_of_elements_without_text_are_refused(tmp_path, monkeypatch,
                                                             counted_events):
    from importers import workbooks

    monkeypatch.setattr(workbooks, "FREE_ELEMENTS", 10_000)
    strings = f'<sst xmlns="{MAIN}"><si><t>Nom</t></si>{"<si><t/></si>" * 50_000}</sst>'
    path = with_shared_strings(workbook(tmp_path / "source.xlsx", [["x"]]),
                               tmp_path / "hollow.xlsx", strings.encode(), string_rows(1))
    error = refusal(path)
    assert str(error) == ("The texts of the workbook hold more than 10096 XML elements for 3 "
                          "characters: the file is refused.")
    assert len(counted_events) < 25_000  # of 200,000


def test_shared_strings_are_refused_past_their_characters(tmp_path):
    texts = [f"{n:05d}" + "x" * 95 for n in range(200)]
    path = with_shared_strings(workbook(tmp_path / "source.xlsx", [["x"]]),
                               tmp_path / "long.xlsx", shared_strings(texts), string_rows(200))
    error = refusal(path, limits=Limits(max_shared_chars=10_000))
    assert "more than 10000 characters" in str(error)


# --- Rows and columns beyond a worksheet's limits -------------------------------------------

def test_a_header_at_row_20_million_is_refused_at_once(tmp_path, counted_rows):
    path = crafted(tmp_path, text_row(20_000_000, "Nom", "Ville"))
    error = refusal(path)
    assert str(error) == ("Row 20000000 is beyond the last row of a worksheet (1048576): the "
                          "file is refused.")
    assert error.line == 20_000_000
    assert counted_rows == []  # no row made up for the 19,999,999 missing ones


def test_a_row_beyond_the_last_one_is_refused(tmp_path, counted_rows):
    path = crafted(tmp_path, text_row(1, "Nom") + text_row(2, "x") + text_row(1_048_577, "y"))
    error = refusal(path)
    assert "Row 1048577 is beyond the last row" in str(error)
    assert counted_rows == [1, 1, 2]  # the header read, then the data until the bad row


def test_a_cell_beyond_column_xfd_is_refused(tmp_path, counted_rows):
    path = crafted(tmp_path, text_row(1, "Nom") + '<row r="2"><c r="XFE2" t="inlineStr">'
                   '<is><t>far</t></is></c></row>')
    error = refusal(path)
    assert str(error) == ("Cell XFE2 is beyond the last column of a worksheet (XFD): the file "
                          "is refused.")
    assert counted_rows == [1, 1]


def test_a_cell_far_beyond_column_xfd_is_refused_not_called_damaged(tmp_path):
    path = crafted(tmp_path, '<row r="1"><c r="ZZZZZZZZ1" t="inlineStr"><is><t>a</t></is></c>'
                   "</row>")
    assert "beyond the last column" in str(refusal(path))


def test_a_repeated_row_is_refused_not_read_again_and_again(tmp_path, counted_rows):
    repeated = '<row r="2"/>' * 60_000  # under 1 MB: no ratio check stops it
    path = crafted(tmp_path, text_row(1, "Nom") + text_row(2, "x") + repeated)
    assert "not a readable Excel workbook" in str(refusal(path))
    assert counted_rows == [1, 1, 2]


def test_a_repeated_cell_is_refused(tmp_path):
    path = crafted(tmp_path, text_row(1, "Nom") + '<row r="2">'
                   + '<c r="A2" t="inlineStr"><is><t>x</t></is></c>' * 1000 + "</row>")
    assert "not a readable Excel workbook" in str(refusal(path))


def test_blank_rows_count_against_the_row_limit(tmp_path):
    path = crafted(tmp_path, text_row(1, "Nom") + text_row(2, "x") + text_row(50, "y"))
    table = open_table(path, limits=Limits(max_rows=10))
    rows = table.rows()
    assert next(rows).line == 2
    with pytest.raises(ReaderError, match="more than 10 rows") as error:
        next(rows)
    assert error.value.line == 50


def test_a_header_after_too_many_blank_rows_is_refused(tmp_path):
    path = crafted(tmp_path, text_row(500, "Nom"))
    assert "more than 100 rows" in str(refusal(path, limits=Limits(max_rows=100)))


def test_legitimate_sparse_rows_and_cells_still_read(tmp_path):
    path = crafted(tmp_path, text_row(3, "Code", "Nom") + text_row(7, "A1", "x")
                   + '<row r="9"><c r="B9" t="inlineStr"><is><t>y</t></is></c></row>')
    table = open_table(path)
    assert table.header == ["Code", "Nom"] and table.header_line == 3
    assert [(row.line, row.cells) for row in table.rows()] == [(7, ["A1", "x"]),
                                                                 (9, [None, "y"])]


# --- Elements: only those of rows and cells, and no more than their values pay for ---------

@pytest.mark.parametrize("filler", [
    "<x/>" * 200_000,  # in the rows
    '<row r="3"><c r="A3"/>' + "<x/>" * 200_000 + "</row>",  # in a row
    '<row r="3"><c r="A3">' + "<x/>" * 200_000 + "</c></row>",  # in a cell
])
def test_an_element_out_of_place_in_the_rows_is_refused_at_once(tmp_path, counted_events,
                                                                 filler):
    path = crafted(tmp_path, text_row(1, "Nom") + text_row(2, "x") + filler)
    error = refusal(path)
    assert str(error) == ("The worksheet holds an element “x” where only rows and cells "
                          "belong: the file is refused.")
    assert len(counted_events) < 50  # the first filler, not the 200,000 of them


def test_rows_of_empty_cells_are_refused_past_what_their_values_pay_for(tmp_path, monkeypatch,
                                                                       counted_events):
    from importers import workbooks

    monkeypatch.setattr(workbooks, "FREE_ELEMENTS", 10_000)
    empty = "".join(f'<row r="{n}">' + "<c/>" * 2_000 + "</row>" for n in range(3, 103))
    path = crafted(tmp_path, text_row(1, "Nom") + text_row(2, "x") + empty)
    error = refusal(path)
    assert str(error) == ("The worksheet holds more than 10064 XML elements for 2 filled cells: "
                          "the file is refused (clear the formats of unused cells, or save it "
                          "as CSV).")
    assert error.line == 8  # the sixth row of empty cells, of a hundred
    assert len(counted_events) < 25_000  # of 400,000


def test_nothing_after_the_rows_is_read(tmp_path, counted_events):
    source = workbook(tmp_path / "source.xlsx", [["placeholder"]])
    sheet = (f'<worksheet xmlns="{MAIN}"><sheetData>{text_row(1, "Nom")}{text_row(2, "x")}'
             f'</sheetData>{"<x/>" * 200_000}</worksheet>').encode()
    path = rewritten(source, tmp_path / "tail.xlsx", {SHEET: sheet})
    assert [row.cells for row in open_table(path).rows()] == [["x"]]
    assert len(counted_events) < 50


def test_too_many_elements_before_the_rows_are_refused(tmp_path, counted_events):
    source = workbook(tmp_path / "source.xlsx", [["placeholder"]])
    sheet = (f'<worksheet xmlns="{MAIN}"><cols>{"<col/>" * 150_000}</cols>'
             f'<sheetData>{text_row(1, "Nom")}</sheetData></worksheet>').encode()
    error = refusal(rewritten(source, tmp_path / "head.xlsx", {SHEET: sheet}))
    assert str(error) == ("The worksheet holds more than 100000 XML elements before its cells: "
                          "the file is refused.")
    assert len(counted_events) < 250_000  # of 300,000


def test_formatted_empty_cells_and_rich_text_as_spreadsheets_write_them_still_read(
        tmp_path, monkeypatch):
    """Rows padded with formatted empty cells far past the data (Excel writes a cell for each
    one formatted), rich-text runs, extensions: all pay for themselves."""
    from importers import workbooks

    monkeypatch.setattr(workbooks, "FREE_ELEMENTS", 1_000)  # the ratio alone, not the allowance
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Code", "Nom", "Ville", "Pays", "Montant"])
    for n in range(2, 302):
        sheet.append([f"C{n:04d}", f"Client {n}", "Lyon", "FR", n * 1.5])
        for column in range(6, 106):  # a hundred formatted empty cells after the five values
            sheet.cell(row=n, column=column).number_format = "0.00"
    path = tmp_path / "wide.xlsx"
    book.save(path)
    rows = list(open_table(path).rows())
    assert len(rows) == 300 and rows[-1].cells == ["C0301", "Client 301", "Lyon", "FR", 451.5]
    run = '<r><rPr><b/><sz val="11"/><color theme="1"/><rFont val="Calibri"/><family val="2"/>' \
          '<scheme val="minor"/></rPr><t xml:space="preserve">{} </t></r>'
    rich = "".join(f"<si>{run.format('Client')}{run.format(n)}</si>" for n in range(300))
    strings = f'<sst xmlns="{MAIN}"><si><t>Nom</t></si>{rich}</sst>'
    cells = "".join(f'<row r="{n + 1}" spans="1:40"><c r="A{n + 1}" s="1" t="s"><v>{n}</v></c>'
                    + "".join(f'<c r="{c}{n + 1}" s="2"/>' for c in "BCDEFGHIJKLMNOPQRST")
                    + '<extLst><ext uri="{x}"><y a="1"/></ext></extLst></row>'
                    for n in range(301))
    path = with_shared_strings(workbook(tmp_path / "source.xlsx", [["x"]]),
                               tmp_path / "rich.xlsx", strings.encode(), cells)
    rows = list(open_table(path).rows())
    assert len(rows) == 300 and rows[-1].cells == ["Client 299 "]


# --- Worksheets ------------------------------------------------------------------------------

def two_sheets(path: Path) -> Path:
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["Remarque"])
    book.active.append(["rien"])
    second = book.create_sheet("Clients")
    second.append(["Code", "Nom"])
    second.append(["C1", "Dupont"])
    book.save(path)
    return path


def test_the_first_worksheet_is_read_unless_one_is_named(tmp_path):
    path = two_sheets(tmp_path / "two.xlsx")
    assert open_table(path).header == ["Remarque"]
    table = open_table(path, sheet="Clients")
    assert table.header == ["Code", "Nom"]
    assert [row.cells for row in table.rows()] == [["C1", "Dupont"]]


def test_an_unknown_worksheet_names_the_ones_there_are(tmp_path):
    error = refusal(two_sheets(tmp_path / "two.xlsx"), sheet="Factures")
    assert str(error) == ("The workbook has no sheet named “Factures” (its sheets: “Notes”, "
                          "“Clients”).")


# --- Numbers as their cells show them --------------------------------------------------------

def test_a_zero_padded_number_keeps_its_number_and_its_shown_text(tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["CP", "Montant"])
    book.active.append([1000, 12.5])
    book.active["A2"].number_format = "00000"
    book.active["B2"].number_format = "#,##0.00"
    book.save(tmp_path / "cp.xlsx")
    row = next(open_table(tmp_path / "cp.xlsx").rows())
    assert row.cells == [1000, 12.5] and isinstance(row.cells[0], int)
    assert [cell.shown for cell in row.cells] == ["01000", "12.50"]


@pytest.mark.parametrize(("value", "code", "text"), [
    (1000, "00000", "01000"),
    (12345678, "000000000", "012345678"),
    (12.5, "0", "13"),  # half away from zero, as Excel rounds
    (0.125, "0.00", "0.13"),
    (1234567.5, "#,##0", "1,234,568"),
    (-1234.5, "#,##0.00", "-1,234.50"),
    (0.125, "0%", "13%"),
    (123456789, "00 00 00 00 00", "01 23 45 67 89"),
    (123456789, "000-00-0000", "123-45-6789"),
    (-5, "0.00;[Red](0.00)", "(5.00)"),
    (12, '"N° "000', "N° 012"),
    (1234.5, '_-* #,##0.00\\ "€"_-;\\-* #,##0.00\\ "€"_-;_-* "-"??\\ "€"_-;_-@_-', "1,234.50 €"),
    (5, "General", None),
    (5, "[<=99]0;00", None),  # conditions: not supported, the plain number is kept
    (1.5, "# ?/?", None),
])
def test_number_formats(value, code, text):
    from importers.number_formats import displayed

    assert displayed(value, code) == text


def test_long_number_formats_cost_one_parse_each_and_a_huge_one_none(tmp_path, monkeypatch):
    """A format code is parsed once per workbook, not per cell, and one longer than Excel's 255
    characters is not parsed at all: the plain number (an 8,000-character code cost 4.5 s a
    cell, a small workbook held an import worker for days)."""
    from importers import number_formats

    if hasattr(number_formats, "_parsed"):
        number_formats._parsed.cache_clear()
    parsed = []
    real_parts = number_formats._parts
    monkeypatch.setattr(number_formats, "_parts", lambda s: parsed.append(s) or real_parts(s))
    crafted = "0" + "-" * 250 + "x0"  # dashes: a regex each on the rest of the code
    huge = "0" * 8000 + "x"  # placeholders: the core regex backtracked on them
    book = openpyxl.Workbook()
    book.active.append(["A", "B"])
    for n in range(300):
        book.active.append([n + 1, n + 1])
        book.active.cell(row=n + 2, column=1).number_format = crafted
        book.active.cell(row=n + 2, column=2).number_format = huge
    book.save(tmp_path / "formats.xlsx")
    rows = list(open_table(tmp_path / "formats.xlsx").rows())
    assert len(rows) == 300 and rows[-1].cells == [300, 300]
    assert getattr(rows[-1].cells[1], "shown", None) is None  # over 255 characters: a number
    assert parsed == [crafted]  # once for 300 cells; the huge code never


@pytest.mark.parametrize(("value", "code", "text"), [
    (12345, "#,##0", "12345"),  # comma grouping: the shown 12,345 is not the key 12345
    (12345.6, "0", "12345.6"),  # rounded
    (0.2, "0%", "0.2"),  # scaled
    (12345, "[$€-40C] #,##0", "12345"),  # currency
    (12345, "0.00", "12345"),  # decimals
    (-42, "00000", "-42"),  # signed
    (1000, "00000", "01000"),  # postal codes keep their zero
    (1000.0, "00000", "01000"),
    (123456789, "00 00 00 00 00", "01 23 45 67 89"),  # phone numbers too
    (12345678, "000 000 000", "012 345 678"),
    (123456789, "000-00-0000", "123456789"),  # literals other than spaces
])
def test_a_text_target_gets_the_shown_text_only_when_it_is_the_same_number(tmp_path, value,
                                                                             code, text):
    from importers.values import parse_text

    book = openpyxl.Workbook()
    book.active.append(["Code"])
    book.active.append([value])
    book.active["A2"].number_format = code
    book.save(tmp_path / "codes.xlsx")
    row = next(open_table(tmp_path / "codes.xlsx").rows())
    assert parse_text(100)(row.cells[0]) == text
