"""python -m tests.fuzz.seeds: write the seed corpus (tests/fuzz/corpus/) from real inputs.

Files as tenants' systems write them (cp1252 with ";" and CRLF from a French ERP, UTF-8 with a
BOM and quoted line breaks, Excel's "Unicode text", workbooks saved by openpyxl with dates,
amounts and zero-padded codes), the cell texts of the tests' feeds, cursors handed out by the
API, the tests' import profiles. Each gets the choice bytes its target reads first. Crash
inputs (corpus/TARGET/crash-*) are kept: they replay in every run.
"""
from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl

from tests.fuzz.fuzz_xlsx import PART_SEPARATOR, PART_TYPES

CORPUS = Path(__file__).resolve().parent / "corpus"

CSV_FILES = {
    "invoices-cp1252.csv": ("N° facture;Code client;Date;Montant TTC;Réglé;Statut\r\n"
                            "F0001;C001;31/12/2025;1 234,56;;Émise\r\n"
                            "F0002;C002;01/01/2026;12,00;12,00;Payée\r\n").encode("cp1252"),
    "clients-utf8-bom.csv": ("\ufeffCode client,Raison sociale,Ville,Code postal\n"
                             '1,"Atelier André, SARL",Bourg-en-Bresse,01000\n'
                             '2,"Hôtel du Lac\nBâtiment B",Annecy,74000\n').encode(),
    "tab-utf16.csv": "ref\tname\r\n1\tÉlise\r\n".encode("utf-16"),
    "partners-cp1252.csv": ("Code;Nom;Mail\r\nP1;Agence Île-de-France;idf@example.com\r\n"
                            "P2;Agence Côte d’Azur;pas-un-mail\r\n"
                            "P3;Agence Nord;nord@example.com\r\n").encode("cp1252"),
    "quotes-lines.csv": (
        "N° devis;Client;Affaire;Date;Valable jusqu’au;Statut;Article;Libellé;Qté;PU HT;TVA %\n"
        "D-001;C001;AF-9;01/10/2026;31/10/2026;Envoyé;SB-4M;Store banne 4 m;1;1 234,56;20\n"
        "D-001;C001;AF-9;01/10/2026;31/10/2026;Envoyé;;\"Déplacement\n(2 fois)\";2;45,5;20\n"
        "\n"
        "D-002;C003;;02/10/2026;;draft;VR-120;Volet roulant 120;3;310,00;20;;\n").encode(),
    "pipe-extra-cells.csv": b"a|b|c\n1|2|3|4\n\"x\"\"y\"|  |\n|||\n5\n",
}
# (encoding, delimiter, limits) choice bytes: auto/auto/normal, pinned ones, the small limits.
CSV_CHOICES = [b"\x00\x00\x00", b"\x02\x01\x03", b"\x00\x00\x01", b"\x00\x00\x02"]

def _padding(text: bytes) -> bytes:
    """Digits after `text` that make its first nine bytes choose a Decimal in fuzz_values._value
    (their number is 6 modulo 7), the rest still reading as that Decimal."""
    for n in range(10**5):
        payload = text + str(n).rjust(9 - len(text), "0").encode()
        if int.from_bytes(payload[:9], "little", signed=True) % 7 == 6:
            return payload[len(text):]
    raise AssertionError("no padding")


CELLS = ["31/12/2025", "2025-12-31", "31.12.25", "01/10/2026 08:30", "2026-01-01T12:00:00+01:00",
         "1 234,56", "-12,50 €", "1,234.56", "1.234.567", "1\u202f234,5", "1234", "12,3",
         "0,07", "oui", "Non", "VRAI", "x", "  texte  ", "FR", "be", "idf@example.com",
         "Envoyé", "draft", "Payée", "45291", "Or;Argent", "https://example.com/a", "20",
         "1 234,56\n12,00\n-3,5\n\n7", "10.00\n1,234.56\n99.9"]
# Cells as a workbook gives them (fuzz_values._value's kind byte, then its payload): floats
# that are no number (NaN, infinities), the largest and smallest, a date serial; a whole number
# beyond 64 bits; numbers with the text their format shows (01000); a date and time; a time and a
# duration (a "[h]:mm" cell); a signaling NaN.
TYPED_CELLS = [
    *((4, struct.pack("<d", number)) for number in (
        math.nan, math.inf, -math.inf, 1.7976931348623157e308, 5e-324, -0.0, 45291.75, 0.1,
        -12.5)),
    (5, (10**20).to_bytes(9, "little", signed=True)), (5, (75001).to_bytes(9, "little")),
    (6, struct.pack("<d", 1000.0) + b"01000"),
    (6, struct.pack("<d", math.nan) + "12,50 €".encode()),
    (6, struct.pack("<d", math.inf) + b"00 00 00"), (6, b"\x80" + bytes(8) + b"0%"),
    (7, (3_912_340_000).to_bytes(9, "little")),
    (8, (1).to_bytes(9, "little")), (8, (45_292).to_bytes(9, "little")),
    (8, b"sNaN" + _padding(b"sNaN"))]
CURSORS = [("Dupont", 7), (5, 7), (Decimal("12.50"), 7), (date(2026, 1, 1), 7),
           (datetime(2026, 1, 1, 12, 0).astimezone(), 7), (None, 7), ("Émile & Cie", 42)]
PROFILES = [
    {"name": "partenaires", "entity": "partners",
     "columns": {"Code": "external_ref", "Nom": "name", "Mail": "email"}},
    {"name": "factures-nuit", "entity": "invoices", "mode": "upsert", "key": "number",
     "columns": {"N° facture": "number", "Code client": "account.external_ref",
                 "Date facture": "issued_on", "Statut": "status", "Réf article": "lines.sku",
                 "Désignation": "lines.label", "Qté": "lines.quantity",
                 "PU HT": "lines.unit_price", "TVA": "lines.tax_rate"},
     "encoding": "cp1252", "delimiter": ";", "date_format": "auto", "decimal": ","},
    {"name": "clients", "entity": "accounts", "full_sync": True, "sheet": "Clients",
     "columns": {"Code client": "external_ref", "Raison sociale": "name", "Pays": "country",
                 "Agence": "partner.external_ref", "Surface": "custom.decimal",
                 "Niveau": "custom.choice", "Actif": "custom.boolean", "Depuis": "custom.date",
                 "Site": "custom.url", "Tags": "custom.multi_choice"},
     "date_format": "%d/%m/%Y", "decimal": ","},
    {"name": "contrats", "entity": "contracts", "mode": "update",
     "columns": {"Réf": "external_ref", "Client": "account.external_ref", "Titre": "title",
                 "Début": "starts_on", "Montant": "recurring_amount"}, "date_format": "%Y-%m-%d"},
]


def _workbooks() -> dict[str, bytes]:
    """Workbooks as openpyxl saves them: typed cells, number formats, two sheets."""
    books = {}
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Factures"
    sheet.append(["N° facture", "Code client", "Date", "Montant TTC", "Code postal", "Payée"])
    sheet.append(["F0001", "C001", datetime(2025, 12, 31), 1234.56, 1000, True])
    sheet.append(["F0002", 2, date(2026, 1, 1), Decimal("12.5"), 74000, False])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["F0003", "C003", "01/02/2026", "=D2*2", 6000, "oui"])
    for row in sheet.iter_rows(min_row=2):
        row[3].number_format = '#,##0.00\\ "€";[Red]\\-#,##0.00\\ "€"'
        row[4].number_format = "00000"
    sheet["A7"] = "après un trou"
    book.create_sheet("Clients").append(["Code", "Nom", "Taux"])
    book["Clients"].append(["C001", "Hôtel du Lac", 0.2])
    book["Clients"]["C2"].number_format = "0%"
    books["factures.xlsx"] = _saved(book)
    book = openpyxl.Workbook()
    book.active.title = "Feuil1"
    book.active.append(["Code", "Nom", "Téléphone", "Montant"])
    book.active.append(["P1", "Agence Île-de-France", 123456789, -1234.5])
    book.active["C2"].number_format = "00 00 00 00 00"
    book.active["D2"].number_format = "0.00E+00"
    books["partenaires.xlsx"] = _saved(book)
    return books


def _saved(book: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _parts(content: bytes) -> bytes:
    """A workbook's sheet, shared strings, styles and workbook parts, as fuzz_xlsx reads them."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = set(archive.namelist())
        return PART_SEPARATOR.join(archive.read(name) if name in names else b""
                                   for name in PART_TYPES)


def _converters(n: int) -> list[int]:
    """A few converters for the n-th cell: a date, an amount, a custom field and a
    yes/no or whole-number one of the importer (each under another profile setting as n
    changes), one of the forms' parsers."""
    from tests.fuzz.fuzz_values import FORMS, IMPORTER

    def of(suffix: str) -> list[int]:
        return [i for i, (name, _c, _d) in enumerate(IMPORTER) if name.endswith(suffix)]

    kinds = [of(".issued_on"), of(".total"), of(".quantity"),
             [i for i, (name, _c, _d) in enumerate(IMPORTER) if name.startswith("custom.")],
             of("bool") + of("int") + of(".country") + of(".email") + of(".status")]
    chosen = [kind[n % len(kind)] for kind in kinds]
    return [*chosen, len(IMPORTER) + n % len(FORMS)]


def _typed_converters(n: int) -> list[int]:
    """For the n-th typed cell: every kind of importer converter (a date under auto, which
    reads serials, an amount, a whole number, yes/no, text, a custom field), a forms' parser,
    and the number formats."""
    from tests.fuzz.fuzz_values import CONVERTERS, FORMS, IMPORTER

    def first(suffix: str) -> int:
        return next(i for i, (name, _c, _d) in enumerate(IMPORTER) if name.endswith(suffix))

    customs = [i for i, (name, _c, _d) in enumerate(IMPORTER) if name.startswith("custom.")]
    return [first(".issued_on"), first(".total"), first(".quantity"), first("bool"),
            first("int"), first(".number"), first(".country"), customs[n % len(customs)],
            len(IMPORTER) + n % len(FORMS), CONVERTERS - 1]


def write(folder: str, name: str, content: bytes) -> None:
    path = CORPUS / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def main() -> None:
    from app.queries.keyset import encode_cursor

    for target in ("csv", "xlsx", "values", "cursor", "profile"):
        for old in (CORPUS / target).glob("*"):
            if not old.name.startswith("crash-"):
                old.unlink()
    for name, content in CSV_FILES.items():
        for n, choice in enumerate(CSV_CHOICES):
            write("csv", f"{name}.{n}", choice + content)
    for name, content in _workbooks().items():
        write("xlsx", name, b"\x01" + content)
        write("xlsx", f"{name}.parts-deflated", b"\x02" + _parts(content))
        write("xlsx", f"{name}.parts-sheet", b"\x08" + _parts(content))
    for n, cell in enumerate(CELLS):
        for index in _converters(n):
            write("values", f"cell-{n}-{index}", index.to_bytes(2, "big") + b"\x00"
                  + cell.encode())
    for n, (kind, payload) in enumerate(TYPED_CELLS):
        for index in _typed_converters(n):
            write("values", f"typed-{n}-{index}", index.to_bytes(2, "big") + bytes([kind])
                  + payload)
    for n, (value, record_id) in enumerate(CURSORS):
        write("cursor", f"cursor-{n}", bytes([n]) + encode_cursor(value, record_id).encode())
    for n, profile in enumerate(PROFILES):
        write("profile", f"profile-{n}.json", json.dumps(profile, ensure_ascii=False).encode())


if __name__ == "__main__":
    main()
