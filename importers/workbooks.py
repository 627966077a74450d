"""XLSX workbooks read with bounded work and memory, whatever the file claims.

A workbook is a ZIP of XML parts, and a crafted one can cost far more than its size: a part
that inflates a thousandfold, a shared-strings table of millions of entries (all held in
memory), a first row numbered 20,000,000 (openpyxl's read-only sheets yield every missing row
before it), a cell in column 16,000,000 (a list that long). So every part is checked before
anything is parsed (its size and its own compression ratio; only worksheets and shared strings
may be large, every other part openpyxl loads whole as an XML tree is kept to a few MB), the
shared strings are loaded
with a bound on their count and characters, and the sheet is streamed here rather than by
openpyxl's sheet reader: rows and cells as the file writes them, no missing row made up, each
one dropped once read, each text cut past the longest field, a cell of too many elements or a
part nested too deep refused, and a row or column reference past Excel's limits refused at once.
openpyxl still does the rest (manifest, workbook, styles, cell values).

What costs is the number of XML elements, not the bytes: a part of filler elements packs a
hundredfold and held a worker minutes for no row. So the rows and cells, and the shared
strings, admit only the elements ECMA-376 puts there (anything else refused at once), a sheet
is read no further than its </sheetData>, and the elements read must pay for themselves: past
a free allowance, ELEMENTS_PER_VALUE per filled cell (per character of the shared strings) —
many times what Excel, Calc or openpyxl write, even with rows of formatted empty cells.
"""
from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import Element, TreeBuilder, XMLParser

from flask_babel import lazy_gettext as _l
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE
from openpyxl.utils.cell import column_index_from_string
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.xml.constants import (
    ARC_APP,
    ARC_CONTENT_TYPES,
    ARC_CORE,
    ARC_CUSTOM,
    ARC_ROOT_RELS,
    ARC_STYLE,
    ARC_THEME,
    ARC_WORKBOOK,
    ARC_WORKBOOK_RELS,
    CONTYPES_NS,
    SHARED_STRINGS,
    SHEET_MAIN_NS,
    WORKSHEET_TYPE,
)
from openpyxl.xml.functions import fromstring

from importers.number_formats import displayed
from importers.readers import MB, NOT_A_WORKBOOK, Limits, ReaderError

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384  # column XFD
MAX_RATIO = 100  # a part unpacks to 5-20 times its size; far more is a zip bomb
RATIO_FREE_BYTES = MB  # a part this small cannot be a bomb, however well it compresses
# Styles, workbook, theme, properties, relationships: openpyxl loads each whole as an XML tree
# (tens of times its size in memory); real ones weigh kilobytes, a few MB at most.
PART_MAX_BYTES = 16 * MB
LARGE_PART_TYPES = frozenset({WORKSHEET_TYPE, SHARED_STRINGS})  # read streaming, bounded
FIXED_PARTS = frozenset({ARC_APP, ARC_CONTENT_TYPES, ARC_CORE, ARC_CUSTOM, ARC_ROOT_RELS,
                         ARC_STYLE, ARC_THEME, ARC_WORKBOOK, ARC_WORKBOOK_RELS})  # read whole
MAX_CELL_ELEMENTS = 1_000  # a cell's value, formula, inline string and its rich-text runs
MAX_DEPTH = 32  # worksheet > sheetData > row > c > is > r > t: real sheets nest a few levels
MIN_TEXT = 4_096  # the longest text kept of one XML text node, whatever the field limit
MAX_HEAD_ELEMENTS = 100_000  # before the cells: column widths (16,384 at most), views…
FREE_ELEMENTS = 1_000_000  # read without a value to show for them: a few seconds at most
ELEMENTS_PER_VALUE = 32  # then per filled cell, or per character of the shared strings
CHUNK = 64 * 1024
SHEET_MAIN = f"{{{SHEET_MAIN_NS}}}"
ROW_TAG, CELL_TAG, SI_TAG = SHEET_MAIN + "row", SHEET_MAIN + "c", SHEET_MAIN + "si"
SHEET_DATA_TAG, EXTENSION_TAG = SHEET_MAIN + "sheetData", SHEET_MAIN + "ext"
TEXT_TAG, RUN_TAG = SHEET_MAIN + "t", SHEET_MAIN + "r"


def _main(*names: str) -> frozenset[str]:
    return frozenset(SHEET_MAIN + name for name in names)


RICH_TEXT = _main("t", "r", "rPh", "phoneticPr")  # CT_Rst: a shared string, an inline string
# The children each element may have in the rows and the shared strings (ECMA-376 part 1,
# sml.xsd); an element not listed has none, but an extension (ext) holds any XML.
CHILDREN: dict[str, frozenset[str]] = {
    SHEET_MAIN + "sst": _main("si", "extLst"),
    SHEET_MAIN + "si": RICH_TEXT,
    SHEET_DATA_TAG: _main("row"),
    ROW_TAG: _main("c", "extLst"),
    CELL_TAG: _main("f", "v", "is", "extLst"),
    SHEET_MAIN + "is": RICH_TEXT,
    SHEET_MAIN + "r": _main("rPr", "t"),
    SHEET_MAIN + "rPr": _main("rFont", "charset", "family", "b", "i", "strike", "outline",
                              "shadow", "condense", "extend", "color", "sz", "u", "vertAlign",
                              "scheme"),
    SHEET_MAIN + "rPh": _main("t"),
    SHEET_MAIN + "extLst": _main("ext"),
}
NO_CHILDREN: frozenset[str] = frozenset()
CELL_REFERENCE = re.compile(r"\$?([A-Za-z]+)\$?([0-9]+)")

PART_TOO_LARGE = _l("The workbook part “%(part)s” unpacks to more than %(mb)d MB.")
PART_RATIO = _l("The workbook part “%(part)s” unpacks to %(ratio)d times its packed size: "
                "this file is refused as a zip bomb.")
TOO_MANY_STRINGS = _l("The workbook holds more than %(limit)d distinct texts: save it as CSV.")
TOO_MUCH_TEXT = _l("The texts of the workbook hold more than %(limit)d characters: save it as "
                   "CSV.")
ROW_BEYOND = _l("Row %(row)d is beyond the last row of a worksheet (%(limit)d): the file is "
                "refused.")
COLUMN_BEYOND = _l("Cell %(cell)s is beyond the last column of a worksheet (XFD): the file is "
                   "refused.")
MISPLACED_IN_SHEET = _l("The worksheet holds an element “%(element)s” where only rows and cells "
                        "belong: the file is refused.")
MISPLACED_IN_STRINGS = _l("The texts of the workbook hold an element “%(element)s” where only "
                          "texts belong: the file is refused.")
SHEET_TOO_HOLLOW = _l("The worksheet holds more than %(limit)d XML elements for %(values)d "
                      "filled cells: the file is refused (clear the formats of unused cells, or "
                      "save it as CSV).")
STRINGS_TOO_HOLLOW = _l("The texts of the workbook hold more than %(limit)d XML elements for "
                        "%(characters)d characters: the file is refused.")
HEAD_TOO_LARGE = _l("The worksheet holds more than %(limit)d XML elements before its cells: the "
                    "file is refused.")
UNKNOWN_SHEET = _l("The workbook has no sheet named “%(sheet)s” (its sheets: %(names)s).")


class ShownInt(int):
    """A whole number from a cell, and the text its number format shows (01000 for 1000):
    a number to arithmetic, that text to str() (error rows, messages)."""

    shown: str

    def __str__(self) -> str:
        return self.shown


class ShownFloat(float):
    """A number from a cell, and the text its number format shows (12.50 for 12.5)."""

    shown: str

    def __str__(self) -> str:
        return self.shown


def check_archive(path: Path, limits: Limits) -> None:
    """Every part within the size limit and the compression ratio, before anything is parsed.

    zipfile stops a part at its declared size (and fails on the checksum), so a part cannot
    unpack to more than what is checked here.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except Exception as exc:  # a damaged archive raises many kinds of errors
        raise ReaderError(NOT_A_WORKBOOK) from exc
    names = {member.filename for member in members}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise ReaderError(NOT_A_WORKBOOK)
    small = min(PART_MAX_BYTES, limits.max_bytes)
    manifest = next(m for m in members if m.filename == ARC_CONTENT_TYPES)
    _check_part(manifest, small)
    large = _large_parts(path, manifest)
    for member in members:
        _check_part(member, limits.max_bytes if member.filename in large else small)


def _check_part(member: zipfile.ZipInfo, max_bytes: int) -> None:
    part = member.filename[-80:]
    if member.file_size > max_bytes:
        raise ReaderError(PART_TOO_LARGE, part=part, mb=max_bytes // MB)
    if member.file_size > max(RATIO_FREE_BYTES, MAX_RATIO * member.compress_size):
        raise ReaderError(PART_RATIO, part=part,
                          ratio=member.file_size // max(member.compress_size, 1))


def _large_parts(path: Path, manifest: zipfile.ZipInfo) -> frozenset[str]:
    """The parts read streaming (worksheets, shared strings), as the manifest declares them;
    a part also declared otherwise, or one openpyxl reads by its fixed name, is not one."""
    try:
        with zipfile.ZipFile(path) as archive:
            root = fromstring(archive.read(manifest))
    except Exception as exc:  # damaged archive or XML
        raise ReaderError(NOT_A_WORKBOOK) from exc
    declared: dict[str, set[str]] = {}
    for override in root.iter(f"{{{CONTYPES_NS}}}Override"):
        name = (override.get("PartName") or "").lstrip("/")
        declared.setdefault(name, set()).add(override.get("ContentType") or "")
    return frozenset(name for name, types in declared.items()
                     if types <= LARGE_PART_TYPES and name not in FIXED_PARTS)


def _bounded_strings(source: IO[bytes], limits: Limits) -> list[str]:
    """The shared strings, refused as soon as their count or characters pass the limits; every
    element dropped once read, an entry of too many elements refused, as a sheet's cell, and
    so is an element out of place or a table of elements that hold (almost) no text."""
    strings: list[str] = []
    characters, entry_elements, elements = 0, 0, 0
    parents: list[Element] = []  # sst > si > t: the open elements
    allowed: list[frozenset[str] | None] = [_main("sst")]  # what each open element may hold
    for event, element in _events(source, limits.max_shared_chars + 1):
        if event == "start":
            parents.append(element)
            allowed.append(_children(allowed[-1], element, MISPLACED_IN_STRINGS, 0))
            entry_elements = 0 if len(parents) <= 2 else entry_elements + 1
            if len(parents) > MAX_DEPTH or entry_elements > MAX_CELL_ELEMENTS:
                raise ReaderError(NOT_A_WORKBOOK)
            elements += 1
            if elements > FREE_ELEMENTS + ELEMENTS_PER_VALUE * characters:
                raise ReaderError(STRINGS_TOO_HOLLOW, characters=characters,
                                  limit=FREE_ELEMENTS + ELEMENTS_PER_VALUE * characters)
            continue
        parents.pop()
        allowed.pop()
        if len(parents) != 1:
            continue  # inside an entry, read with it (or the table's own end)
        if element.tag == SI_TAG:
            text = _entry_text(element).replace("x005F_", "")  # as openpyxl reads it
            characters += len(text)
            if len(strings) >= limits.max_shared_strings:
                raise ReaderError(TOO_MANY_STRINGS, limit=limits.max_shared_strings)
            if characters > limits.max_shared_chars:
                raise ReaderError(TOO_MUCH_TEXT, limit=limits.max_shared_chars)
            strings.append(text)
        parents[0].remove(element)  # the table keeps no parsed entry, nor anything else
        element.clear()
    return strings


def _entry_text(entry: Element) -> str:
    """A shared string's text, its runs joined, its phonetic hints left out: what openpyxl's
    Text.from_tree(entry).content gives, without building the runs' fonts (the costly part of
    reading a table of rich text)."""
    plain, runs = None, []
    for child in entry:
        if child.tag == TEXT_TAG:
            plain = child.text  # the last one, as openpyxl keeps it
        elif child.tag == RUN_TAG:
            text = None
            for part in child:
                if part.tag == TEXT_TAG:
                    text = part.text
            if text is not None:
                runs.append(text)
    return (plain or "") + "".join(runs)


def _children(rule: frozenset[str] | None, element: Element, misplaced: Any,
              line: int) -> frozenset[str] | None:
    """What `element` may hold (None: any XML), refused if its parent's `rule` does not list
    it."""
    tag = element.tag
    if rule is None:
        return None
    if tag not in rule:
        name = tag.rsplit("}", 1)[-1] if tag.startswith(SHEET_MAIN) else tag
        raise ReaderError(misplaced, line=line or None, element=name[:80])
    return None if tag == EXTENSION_TAG else CHILDREN.get(tag, NO_CHILDREN)


class _WorkbookReader(ExcelReader):
    """openpyxl's reader, with bounded shared strings and no sheet parsed at load time."""

    def __init__(self, source: IO[bytes], limits: Limits) -> None:
        super().__init__(source, read_only=True, data_only=True)
        self.limits = limits
        self.sheets: list[tuple[str, str]] = []  # (name, part) of each worksheet, in tab order

    def read_strings(self) -> None:
        found = self.package.find(SHARED_STRINGS)
        if found is not None:
            with self.archive.open(found.PartName[1:]) as source:
                self.shared_strings = _bounded_strings(source, self.limits)

    def read_worksheets(self) -> None:
        # openpyxl's read-only sheets parse their whole part at load time to size themselves
        for sheet, rel in self.parser.find_sheets():
            if rel.target in self.valid_files and "chartsheet" not in rel.Type:
                self.sheets.append((sheet.name, rel.target))


class Workbook:
    """An open workbook: its worksheets' names, and the records of one of them."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.limits = limits
        self._file = path.open("rb")  # a file object: openpyxl refuses names not ending .xlsx
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._reader = _WorkbookReader(self._file, limits)
                self._reader.read()
        except ReaderError:
            self.close()
            raise
        except Exception as exc:  # openpyxl raises many kinds on a damaged file
            self.close()
            raise ReaderError(NOT_A_WORKBOOK) from exc
        self._book = self._reader.wb

    @property
    def sheet_names(self) -> list[str]:
        return [name for name, _part in self._reader.sheets]

    def close(self) -> None:
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.archive.close()
        self._file.close()

    def records(self, sheet: str | None) -> Iterator[tuple[int, list[Any]]]:
        """(row number, values) of the named worksheet, or the first, as the file writes them."""
        sheets = self._reader.sheets
        if sheet is not None:
            parts = [part for name, part in sheets if name == sheet]
            if not parts:
                raise ReaderError(UNKNOWN_SHEET, sheet=sheet[:100],
                                  names=", ".join(f"“{n}”" for n in self.sheet_names[:20]))
            part = parts[0]
        elif sheets:
            part = sheets[0][1]
        else:
            return
        cells = WorkSheetParser(None, self._reader.shared_strings, data_only=True,
                                epoch=self._book.epoch, date_formats=self._book._date_formats,
                                timedelta_formats=self._book._timedelta_formats)
        try:
            source = self._reader.archive.open(part)
        except Exception as exc:  # a damaged archive: its directory and the part disagree
            raise ReaderError(NOT_A_WORKBOOK) from exc
        max_text = max(self.limits.max_field_length + 1, MIN_TEXT)  # still too long: a row error
        with source:
            yield from _sheet_rows(source, cells, self._number_format, max_text)

    def _number_format(self, style_id: int) -> str:
        try:
            number_format = self._book._cell_styles[style_id].numFmtId
            if number_format < BUILTIN_FORMATS_MAX_SIZE:
                return BUILTIN_FORMATS.get(number_format, "General")
            return self._book._number_formats[number_format - BUILTIN_FORMATS_MAX_SIZE]
        except (IndexError, TypeError):
            return "General"


def _row_number(text: str | None, previous: int) -> int:
    if text is None:
        return previous + 1
    try:
        number = int(text[:12]) if text.isdigit() else int(float(text))
    except (ValueError, OverflowError) as exc:
        raise ReaderError(NOT_A_WORKBOOK, line=previous + 1) from exc
    if number > EXCEL_MAX_ROWS:
        raise ReaderError(ROW_BEYOND, line=number, row=number, limit=EXCEL_MAX_ROWS)
    if number <= previous:  # rows ascend in every workbook; repeated ones would never end
        raise ReaderError(NOT_A_WORKBOOK, line=number)
    return number


def _column(reference: str | None, previous: int, line: int) -> int:
    if reference is None:
        column = previous + 1
    else:
        match = CELL_REFERENCE.fullmatch(reference)
        if match is None:
            raise ReaderError(NOT_A_WORKBOOK, line=line)
        letters, row = match.groups()
        if len(row) > 7 or int(row) > EXCEL_MAX_ROWS:
            raise ReaderError(ROW_BEYOND, line=line, row=int(row[:12]), limit=EXCEL_MAX_ROWS)
        column = EXCEL_MAX_COLUMNS + 1 if len(letters) > 3 else \
            column_index_from_string(letters.upper())
    if column > EXCEL_MAX_COLUMNS:
        raise ReaderError(COLUMN_BEYOND, line=line, cell=(reference or str(column))[:20])
    if column <= previous:  # cells ascend in a row, as rows do in a sheet
        raise ReaderError(NOT_A_WORKBOOK, line=line)
    return column


class _BoundedTree(TreeBuilder):
    """ElementTree's builder, keeping the start and end events as iterparse reports them, and at
    most `max_text` characters of each text (the rest of a huge inline string is never held)."""

    def __init__(self, max_text: int) -> None:
        super().__init__()
        self.events: list[tuple[str, Element]] = []
        self.max_text = max_text
        self.text_length = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self.text_length = 0
        element = super().start(tag, attrs)
        self.events.append(("start", element))
        return element

    def end(self, tag: str) -> Element:
        self.text_length = 0
        element = super().end(tag)
        self.events.append(("end", element))
        return element

    def data(self, data: str) -> None:
        room = self.max_text - self.text_length
        if room > 0:
            super().data(data[:room])
        self.text_length += len(data)


def _events(source: IO[bytes], max_text: int) -> Iterator[tuple[str, Element]]:
    """iterparse's ("start" | "end", element), each text cut at max_text characters."""
    builder = _BoundedTree(max_text)
    parser = XMLParser(target=builder)
    while chunk := source.read(CHUNK):
        parser.feed(chunk)
        events, builder.events = builder.events, []
        yield from events
    parser.close()
    yield from builder.events


def _sheet_rows(source: IO[bytes], cells: WorkSheetParser, number_format: Callable[[int], str],
                max_text: int) -> Iterator[tuple[int, list[Any]]]:
    """Each <row> of the part, once: (its number, its values up to its last filled column).

    Only the open elements, the cell being read and the emptied cells of the row are held:
    every other element is dropped as soon as it ends, a cell holds at most MAX_CELL_ELEMENTS,
    the nesting MAX_DEPTH. Before the cells, MAX_HEAD_ELEMENTS; in them, only what the schema
    puts there, and no more elements than the filled cells pay for; nothing after them is
    read."""
    number, column = 0, 0
    values: dict[int, Any] = {}
    parents: list[Element] = []  # the open elements: a finished one leaves its parent
    allowed: list[frozenset[str] | None] = []  # in sheetData: what each open element may hold
    cell_depth, cell_elements = 0, 0  # the open cell's depth (0: none), its elements so far
    head, elements, filled = 0, 0, 0  # elements before the cells, in them; cells with a value
    budget = FREE_ELEMENTS  # the elements the cells read so far pay for
    try:
        for event, element in _events(source, max_text):
            if event == "start":
                parents.append(element)
                if len(parents) > MAX_DEPTH:
                    raise ReaderError(NOT_A_WORKBOOK, line=number or 1)
                if not allowed:  # before the cells
                    if len(parents) == 2 and element.tag == SHEET_DATA_TAG:
                        allowed.append(CHILDREN[SHEET_DATA_TAG])
                        continue
                    head += 1
                    if head > MAX_HEAD_ELEMENTS:
                        raise ReaderError(HEAD_TOO_LARGE, line=1, limit=MAX_HEAD_ELEMENTS)
                    continue
                rule = allowed[-1]  # inlined _children(): every element of the rows passes
                if rule is None:
                    allowed.append(None)
                elif element.tag in rule:
                    allowed.append(None if element.tag == EXTENSION_TAG
                                   else CHILDREN.get(element.tag, NO_CHILDREN))
                else:
                    _children(rule, element, MISPLACED_IN_SHEET, number or 1)  # raises
                elements += 1
                if elements > budget:
                    raise ReaderError(SHEET_TOO_HOLLOW, line=number or 1, values=filled,
                                      limit=budget)
                if cell_depth:
                    cell_elements += 1
                    if cell_elements > MAX_CELL_ELEMENTS:
                        raise ReaderError(NOT_A_WORKBOOK, line=number or 1)
                elif element.tag == CELL_TAG:
                    cell_depth, cell_elements = len(parents), 1
                elif element.tag == ROW_TAG:
                    number, column = _row_number(element.get("r"), number), 0
                    values = {}
                continue
            depth = len(parents)
            parents.pop()
            if allowed:
                allowed.pop()
                if not allowed:
                    return  # </sheetData>: what follows holds no cell
            if cell_depth and depth > cell_depth:
                continue  # inside the cell: parsed with it
            if cell_depth:  # the cell itself ends
                cell_depth = 0
                column = _column(element.get("r"), column, number)
                if len(element):  # an empty cell (formatted only) has no value to parse
                    element.attrib.pop("r", None)  # checked above; openpyxl would parse it again
                    cells.row_counter, cells.col_counter = number, column - 1
                    values[column] = value = _shown(cells.parse_cell(element), number_format)
                    if value is not None and value != "":
                        filled += 1
                        budget += ELEMENTS_PER_VALUE
                element.clear()  # emptied now, dropped with its row (16,384 at most)
                continue
            if element.tag == ROW_TAG:
                row = [None] * max(values, default=0)
                for index, value in values.items():
                    row[index - 1] = value
                yield number, row
            if parents:  # drop what was read: the tree never grows past the open elements
                parents[-1].remove(element)
            element.clear()
    except ReaderError:
        raise
    except Exception as exc:  # a damaged part: XML, numbers, styles…
        raise ReaderError(NOT_A_WORKBOOK, line=number or 1) from exc


def _shown(cell: dict[str, Any], number_format: Callable[[int], str]) -> Any:
    """The cell's value; a number whose format shows it otherwise carries that text."""
    value = cell["value"]
    if cell["data_type"] != "n" or not cell["style_id"] or isinstance(value, bool) \
            or not isinstance(value, int | float):
        return value
    text = displayed(value, number_format(cell["style_id"]))
    if text is None:
        return value
    number = ShownFloat(value) if isinstance(value, float) else ShownInt(value)
    number.shown = text
    return number
