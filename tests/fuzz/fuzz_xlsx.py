"""Any bytes as a tenant's workbook, read by the XLSX reader (importers/workbooks.py) with its
number formats (importers/number_formats.py).

Input: a choice byte, then either (odd) the whole file, or (even) the parts the fuzzer
writes inside a well-formed container: the worksheet, the shared strings, the styles and the
workbook part, separated by PART_SEPARATOR (a part left out is not in the archive, or, for the
workbook, a default one). The second mode reaches the sheet and style parsers, which mutated
ZIP bytes seldom do (their checksums fail). The choice byte also picks the sheet asked for.
"""
from __future__ import annotations

import io
import zipfile

import atheris

with atheris.instrument_imports(include=["importers.readers", "importers.workbooks",
                                         "importers.number_formats"]):
    from importers import readers, workbooks  # noqa: F401  (instrumented before first use)

from tests.fuzz.common import pick, scratch

LIMITS = readers.Limits(max_bytes=2 * 1024 * 1024, max_rows=2_000, max_field_length=1_000,
                        max_columns=100, max_shared_strings=1_000, max_shared_chars=100_000)
PART_SEPARATOR = b"\n--part--\n"
SHEETS = [None, None, "Feuil1", "Factures", "missing"]
MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml"
PART_TYPES = {"xl/worksheets/sheet1.xml": f"{MAIN}.worksheet+xml",
              "xl/sharedStrings.xml": f"{MAIN}.sharedStrings+xml",
              "xl/styles.xml": f"{MAIN}.styles+xml", "xl/workbook.xml": f"{MAIN}.sheet.main+xml"}
RELATIONSHIP = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006"
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.'
    f'org/spreadsheetml/2006/main" xmlns:r="{RELATIONSHIP}"><sheets><sheet name="Feuil1" '
    'sheetId="1" r:id="rId1"/></sheets></workbook>').encode()
ROOT_RELS = (
    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{RELATIONSHIP}/officeDocument" Target="xl/workbook.xml"/>'
    '</Relationships>')
WORKBOOK_RELS = (
    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{RELATIONSHIP}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{RELATIONSHIP}/sharedStrings" Target="sharedStrings.xml"/>'
    f'<Relationship Id="rId3" Type="{RELATIONSHIP}/styles" Target="styles.xml"/>'
    '</Relationships>')


def container(parts: dict[str, bytes], compression: int) -> bytes:
    """A workbook archive around `parts`, with the manifest and relationships they need."""
    overrides = "".join(f'<Override PartName="/{name}" ContentType="{kind}"/>'
                        for name, kind in PART_TYPES.items() if name in parts)
    manifest = (
        f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{PACKAGE}/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        f'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'{overrides}</Types>')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr("[Content_Types].xml", manifest)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def fuzz(data: bytes) -> None:
    if len(data) < 2:
        return
    path = scratch / "feed.xlsx"
    if data[0] % 2:
        path.write_bytes(data[1:])
    else:
        given = data[1:].split(PART_SEPARATOR)
        names = list(PART_TYPES)
        parts = {names[i]: content for i, content in enumerate(given[:4])}
        parts.setdefault("xl/workbook.xml", WORKBOOK)
        compression = zipfile.ZIP_DEFLATED if data[0] & 2 else zipfile.ZIP_STORED
        path.write_bytes(container(parts, compression))
    try:
        table = readers.open_table(path, limits=LIMITS, sheet=pick(SHEETS, data[0] >> 2))
        for row in table.rows():
            assert len(row.cells) == len(table.header)
            for cell in row.cells:
                str(cell)  # a number carries the text its format shows
    except readers.ReaderError as exc:
        str(exc)
