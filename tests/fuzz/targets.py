"""Fuzz targets: what a tenant's file, a URL's cursor or a profile's JSON may hold, thrown at
the code that parses it. Each target accepts the errors its parser documents (a localized
message for the user) and lets anything else escape: that is a crash, and a bug.

Run one with `python -m tests.fuzz TARGET --seconds N` (atheris, coverage-guided);
tests/test_fuzz.py runs each for a few seconds in every `make test`.
"""
from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["importers", "app.queries.keyset", "app.values"]):
    from app.queries import keyset
    from importers import readers, values
    from importers.profile import parse_profile

from app.errors import ValidationError

LIMITS = readers.Limits(max_bytes=2 * 1024 * 1024, max_rows=2_000, max_field_length=1_000,
                        max_columns=100)
_scratch = Path(tempfile.mkdtemp(prefix="relais-fuzz-"))


def _read_all(path: Path, **options: Any) -> None:
    try:
        table = readers.open_table(path, limits=LIMITS, **options)
        for row in table.rows():
            assert len(row.cells) == len(table.header)
    except readers.ReaderError as exc:
        str(exc)  # the message must render with its parameters


def _pick(options: list[Any], byte: int) -> Any:
    return options[byte % len(options)]


# Each input starts with its choice bytes, then the payload, so that the seed corpus holds real
# files after one or two bytes (FuzzedDataProvider would take its choices from the end).

def fuzz_csv(data: bytes) -> None:
    """Any bytes as a tenant's CSV, with detected or pinned encoding and delimiter."""
    if len(data) < 2:
        return
    encoding = _pick(["auto", "utf-8", "cp1252", "latin-1", "utf-16"], data[0])
    delimiter = _pick(["auto", ";", ",", "\t", "|"], data[1])
    path = _scratch / "feed.csv"
    path.write_bytes(data[2:])
    _read_all(path, encoding=encoding, delimiter=delimiter)


XLSX_CONTAINER = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
        '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
        '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings'
        '+xml"/></Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target='
        '"xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.'
        'org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships"><sheets><sheet name="Feuil1" sheetId="1" r:id="rId1"/></sheets>'
        '</workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target='
        '"worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.'
        'org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        '</Relationships>'),
}


def fuzz_xlsx(data: bytes) -> None:
    """Any bytes as a workbook (first byte odd), or a workbook whose shared strings and sheet
    are the fuzzer's (even: two bytes of shared-strings length, the strings, the sheet)."""
    if len(data) < 3:
        return
    path = _scratch / "feed.xlsx"
    if data[0] % 2:
        path.write_bytes(data[1:])
    else:
        length = int.from_bytes(data[1:3], "big")
        strings, sheet = data[3:3 + length], data[3 + length:]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in XLSX_CONTAINER.items():
                archive.writestr(name, text)
            archive.writestr("xl/sharedStrings.xml", strings)
            archive.writestr("xl/worksheets/sheet1.xml", sheet)
        path.write_bytes(buffer.getvalue())
    _read_all(path)


_dates = {fmt: values.make_date_parser(fmt) for fmt in ("auto", "%d/%m/%Y", "%Y-%m-%d")}
_decimals = {mode: values.make_decimal_parser(mode) for mode in ("auto", ",", ".")}
_texts = values.parse_text(255)


def fuzz_values(data: bytes) -> None:
    """A cell's text through one converter of the importer (the first byte chooses)."""
    if not data:
        return
    converters: list[Callable[[Any], Any]] = [
        *_dates.values(), *_decimals.values(), values.parse_int, values.parse_bool, _texts]
    convert = _pick(converters, data[0])
    raw = data[1:].decode("utf-8", errors="replace")
    try:
        convert(raw)
    except values.InvalidValue as exc:
        str(exc)


_CURSOR_ERRORS = tuple(e for e in (getattr(keyset, "InvalidCursor", None),) if e)


class _Column:
    """Just what the cursor decoder reads of a column: its Python type."""

    def __init__(self, python_type: type) -> None:
        self.type = type("T", (), {"python_type": python_type})()


def fuzz_cursor(data: bytes) -> None:
    """A `cursor=` parameter as any client may send it, for each kind of sort column."""
    if not data:
        return
    column = _Column(_pick([str, int, Decimal, date, datetime], data[0]))
    cursor = data[1:].decode("utf-8", errors="replace")
    try:
        decoded = keyset.decode_cursor(cursor, column)
    except _CURSOR_ERRORS:
        return
    if decoded is not None:
        value, record_id = decoded
        assert isinstance(record_id, int)
        keyset.encode_cursor(value, record_id)  # a decoded cursor can be written back


_app_stack = ExitStack()


def _profile_context() -> None:
    """parse_profile reads the tenant's custom fields: an app on an in-memory database."""
    if _app_stack._exit_callbacks:  # set up once per process
        return
    from app import create_app
    from app.extensions import db
    from app.services.tenants import create_tenant
    from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context

    application = create_app({"TESTING": True, "SECRET_KEY": "fuzz",
                              "SQLALCHEMY_DATABASE_URI": "sqlite://",
                              "FILES_DIR": str(_scratch / "files"), "WEBHOOK_DISPATCH": False,
                              "IMPORT_WATCH": False})
    _app_stack.enter_context(application.app_context())
    db.create_all()
    with all_tenants_unsafe("fuzzing set-up"):
        tenant = create_tenant("fuzz", "Fuzz")
        db.session.commit()
    _app_stack.enter_context(tenant_context(tenant.id, SYSTEM))


def fuzz_profile(data: bytes) -> None:
    """An import profile's JSON as an integrator may post it."""
    _profile_context()
    try:
        definition = json.loads(data.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return
    try:
        parse_profile(definition)
    except ValidationError as exc:
        assert all(isinstance(m, str) for m in exc.errors.values())


TARGETS: dict[str, Callable[[bytes], None]] = {
    "csv": fuzz_csv, "xlsx": fuzz_xlsx, "values": fuzz_values, "cursor": fuzz_cursor,
    "profile": fuzz_profile,
}
