"""The pain.008.001.08 file as app/services/pain008.py writes it, debit by debit: the same
document as sepaxml's for the same debits, the collection's own message id, and nothing left
behind when the file fails its checks."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from lxml import etree
from sepaxml import SepaDD

from app.services import pain008

WHEN = date(2026, 12, 21)
CREDITOR = SimpleNamespace(
    name="Télépéage Services & Cie", iban="FR7630006000011234567890189", bic=None,
    creditor_identifier="FR72ZZZ123456", street="Rue des Lilas", building_number="",
    postal_code="69003", town="Lyon", country="FR")


def _debit(number: int, kind: str, *, bic: str | None = "COBADEFFXXX",
           name: str = "Éloïse Müller", building: str = "12", reference: str | None = None):
    debit = SimpleNamespace(amount=Decimal(f"{number}.{number % 100:02d}"), sequence_type=kind,
                            end_to_end_id=f"C7-I{number}", amendment=None)
    invoice = SimpleNamespace(id=number, number=f"F2026-{number:05d}")
    mandate = SimpleNamespace(
        reference=reference or f"M20260105-{number:08d}", signed_on=date(2026, 1, 5), bic=bic,
        debtor_name=name, street="Hauptstraße", building_number=building, postal_code="10115",
        town="Berlin", country="DE", iban="DE89370400440532013000", original_iban=None)
    return debit, invoice, mandate


DEBITS = [_debit(1, "RCUR"), _debit(2, "FRST", bic=None), _debit(3, "RCUR", name="Łódź & Søn"),
          _debit(4, "OOFF", building=""), _debit(5, "FRST", name="x" * 90)]


def _sepaxml(debits) -> bytes:
    """The file sepaxml builds for the same debits, with the same cleaned texts."""
    text = pain008.sepa_text
    config = {"name": text(CREDITOR.name, 70), "IBAN": CREDITOR.iban, "batch": True,
              "creditor_id": CREDITOR.creditor_identifier, "currency": "EUR",
              "instrument": "CORE",
              "address": {"street_name": text(CREDITOR.street, 70),
                          "building_number": text(CREDITOR.building_number, 16),
                          "postcode": CREDITOR.postal_code, "town": CREDITOR.town,
                          "country": CREDITOR.country}}
    document = SepaDD(config, schema=pain008.SCHEMA, clean=True)
    for debit, invoice, mandate in debits:
        payment = {"name": text(mandate.debtor_name, 70), "IBAN": mandate.iban,
                   "amount": int(debit.amount * 100), "type": debit.sequence_type,
                   "collection_date": WHEN, "mandate_id": mandate.reference,
                   "mandate_date": mandate.signed_on, "description": invoice.number,
                   "endtoend_id": debit.end_to_end_id,
                   "address": {"street_name": text(mandate.street, 70),
                               "building_number": mandate.building_number,
                               "postcode": mandate.postal_code, "town": mandate.town,
                               "country": mandate.country}}
        if mandate.bic:
            payment["BIC"] = mandate.bic
        document.add_payment(payment)
    return document.export(validate=True)


def _blocks(content: bytes) -> tuple[bytes, dict[str, bytes]]:
    """The group header and each block by sequence type, canonical, without the ids and
    the time that differ from one build to the next."""
    root = etree.fromstring(content)
    ns = {"p": pain008.NS}
    for path in ("//p:MsgId", "//p:CreDtTm", "//p:PmtInfId"):
        for element in root.xpath(path, namespaces=ns):
            element.text = "-"
    header = root.find(".//p:GrpHdr", ns)
    return etree.tostring(header, method="c14n"), {
        block.findtext("p:PmtTpInf/p:SeqTp", namespaces=ns): etree.tostring(block, method="c14n")
        for block in root.iterfind(".//p:PmtInf", ns)}


def test_the_file_is_sepaxmls_document_for_the_same_debits(tmp_path):
    path = tmp_path / "collections" / "7.xml"
    written = pain008.write_pain008(path, "RELAIS-3-7", WHEN, CREDITOR, iter(DEBITS))
    content = path.read_bytes()
    assert _blocks(content) == _blocks(_sepaxml(DEBITS))
    assert (written.count, written.total) == (5, Decimal("15.15"))
    root = etree.fromstring(content)
    ns = {"p": pain008.NS}
    assert root.findtext(".//p:GrpHdr/p:MsgId", namespaces=ns) == "RELAIS-3-7"
    assert [block.findtext("p:PmtTpInf/p:SeqTp", namespaces=ns)
            for block in root.iterfind(".//p:PmtInf", ns)] == ["FRST", "RCUR", "OOFF"]
    assert root.findtext(".//p:Cdtr/p:Nm", namespaces=ns) == "Telepeage Services + Cie"
    import hashlib
    assert written.sha256 == hashlib.sha256(content).hexdigest()
    assert sorted(p.name for p in path.parent.iterdir()) == ["7.xml"]  # no part left


def test_an_amended_mandate_carries_its_details_where_the_xsd_wants_them(tmp_path):
    smnda, iban = _debit(1, "FRST"), _debit(2, "RCUR")
    smnda[0].amendment = "SMNDA"
    iban[0].amendment, iban[2].original_iban = "IBAN", "FR7630006000019876543210173"
    path = tmp_path / "8.xml"
    pain008.write_pain008(path, "RELAIS-3-8", WHEN, CREDITOR, [smnda, iban])
    ns = {"p": pain008.NS}
    info = {tx.findtext("p:PmtId/p:EndToEndId", namespaces=ns):
            tx.find("p:DrctDbtTx/p:MndtRltdInf", ns)
            for tx in etree.parse(str(path)).iterfind(".//p:DrctDbtTxInf", ns)}
    assert [etree.QName(e).localname for e in info["C7-I1"]] == \
        ["MndtId", "DtOfSgntr", "AmdmntInd", "AmdmntInfDtls"]
    assert info["C7-I1"].findtext(".//p:OrgnlDbtrAgt//p:Id", namespaces=ns) == "SMNDA"
    assert info["C7-I2"].findtext(".//p:OrgnlDbtrAcct//p:IBAN", namespaces=ns) == \
        "FR7630006000019876543210173"


def test_a_file_that_fails_its_checks_is_never_left_behind(tmp_path):
    path = tmp_path / "9.xml"
    bad = _debit(3, "RCUR", reference="UMR É/2026")  # outside the references' set
    with pytest.raises(pain008.CollectionFileError, match="mandate reference"):
        pain008.write_pain008(path, "RELAIS-3-9", WHEN, CREDITOR, [_debit(1, "FRST"), bad])
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_reading_the_debits_leaves_nothing_either(tmp_path):
    def debits():
        yield _debit(1, "FRST")
        raise OSError("connection lost")

    with pytest.raises(OSError):
        pain008.write_pain008(tmp_path / "10.xml", "RELAIS-3-10", WHEN, CREDITOR, debits())
    assert list(tmp_path.iterdir()) == []


def test_the_parts_of_a_try_whose_process_was_killed_are_cleared_by_the_next(tmp_path):
    path = tmp_path / "11.xml"
    (left := tmp_path / ".11.xml-parts-k1ll3d").mkdir()
    (left / "FRST").write_bytes(b"<DrctDbtTxInf>")
    (other := tmp_path / ".12.xml-parts-running").mkdir()  # another collection's build
    pain008.write_pain008(path, "RELAIS-3-11", WHEN, CREDITOR, [_debit(1, "FRST")])
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "11.xml"]


def test_sepa_text_transliterates_to_the_sepa_character_set():
    assert pain008.sepa_text("Société Générale — Paris", 70) == "Societe Generale -- Paris"
    assert pain008.sepa_text("Straße 5 & Co", 70) == "Strasse 5 + Co"
    assert pain008.sepa_text("Łódź; ÆØÅ", 70) == "Lodz AEOA"
    assert len(pain008.sepa_text("x" * 200, 70)) == 70
