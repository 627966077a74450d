"""The pain.008.001.08 file of a SEPA Direct Debit collection, written as its debits come.

A bank takes one file per collection, its totals first: the group header's and each payment
information block's (one per sequence type: FRST, RCUR, OOFF, FNAL) count and control sum come
before their transactions. sepaxml builds the whole document as one tree, as large as the
file (about 6 MB per 1,000 debits), and serializes it at the end: a collection of 120,000
subscribers would hold hundreds of MB. Here each transaction is built as an element (lxml),
serialized at once into its sequence type's part (a file beside the collection's), and let
go; when the last debit is in, the totals are known and the file is assembled from the
headers and the parts, copied a block at a time. The elements and their order are sepaxml's
(tests/selling/test_pain008.py compares the two files), the message id is the collection's
own. Then the file is checked while libxml2 reads it: the XSD of pain.008.001.08 (sepaxml's
copy), the SEPA character set of every text, the mandate references, the totals; only then
does it take the collection's name. Memory: one transaction and the parts' write buffers.
"""
from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from lxml import etree
from text_unidecode import unidecode

from app.sepa import REFERENCE_CHARACTERS, SEPA_CHARACTERS, creditor_identifier

SCHEMA = "pain.008.001.08"
NS = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SEQUENCE_TYPES = ("FRST", "RCUR", "OOFF", "FNAL")  # the order of the file's blocks
# The elements of a pain.008 file that hold free text (names, addresses, remittance).
TEXT_TAGS = ("Nm", "StrtNm", "TwnNm", "Ustrd", "BldgNb", "PstCd")
ZERO = Decimal("0")
_SPACES = re.compile(r"\s+")
_SEPA_SET = re.escape("".join(sorted(SEPA_CHARACTERS - {" "})))
# SEPA characters, single spaces between words, none at either end.
_SEPA_ALREADY = re.compile(f"(?:[{_SEPA_SET}]+(?: [{_SEPA_SET}]+)*)?")
_NOT_SEPA = re.compile(f"[^{_SEPA_SET} ]")
_SEPA_TEXT = re.compile(f"[{_SEPA_SET} ]*")
_REFERENCE_TEXT = re.compile(f"[{re.escape(''.join(sorted(REFERENCE_CHARACTERS)))}]*")
_E, _SUB = etree.Element, etree.SubElement


class CollectionFileError(Exception):
    """A pain.008 file that would not pass the bank's checks (a bug, not a user's error)."""


@functools.lru_cache(maxsize=4096)  # streets, towns and postcodes come again and again
def sepa_text(value: str, most: int) -> str:
    """`value` in the SEPA character set: transliterated (Hélène → Helene, ß → ss), `&` as
    `+`, anything else the set lacks as a space; at most `most` characters."""
    if _SEPA_ALREADY.fullmatch(value or ""):  # most names and addresses: nothing to change
        return value[:most]
    text = _NOT_SEPA.sub(" ", unidecode(value or "").replace("&", "+"))
    return _SPACES.sub(" ", text).strip()[:most]


@dataclass
class _Part:
    """The transactions of one sequence type, serialized in a file of their own."""

    file: IO[bytes]
    count: int = 0
    cents: int = 0


@dataclass
class Written:
    """The file written: its debits, their sum, and its SHA-256."""

    count: int
    total: Decimal
    sha256: str


def write_pain008(path: Path, message_id: str, collection_date: date, creditor: Any,
                  debits: Iterable[tuple[Any, Any, Any]]) -> Written:
    """Write at `path` the pain.008.001.08 file of `debits` (each a debit, its invoice and
    its mandate: rows of app/queries/collection_due.py, or the ORM's objects), read once as
    they come; checked before it takes its name. CollectionFileError when the check
    fails (nothing is left at `path` then)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}-parts-"
    for left in path.parent.glob(f"{prefix}*"):  # an earlier try's, its process killed
        shutil.rmtree(left, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=prefix) as folder:
        parts: dict[str, _Part] = {}
        try:
            for debit, invoice, mandate in debits:
                part = parts.get(debit.sequence_type)
                if part is None:
                    part = parts[debit.sequence_type] = _Part(open(  # noqa: SIM115 - closed below
                        Path(folder) / debit.sequence_type, "w+b"))
                cents = _cents(debit.amount)
                part.file.write(etree.tostring(_transaction(debit, cents, invoice, mandate)))
                part.count, part.cents = part.count + 1, part.cents + cents
            assembled = Path(folder) / "pain.008.xml"
            with assembled.open("wb") as out:
                sha256 = _assemble(out, message_id, collection_date, creditor, parts)
        finally:
            for part in parts.values():
                part.file.close()
        count = sum(part.count for part in parts.values())
        total = Decimal(sum(part.cents for part in parts.values())) / 100
        check_file(assembled, count, total)
        os.replace(assembled, path)
    return Written(count, total, sha256)


def _cents(amount: Decimal) -> int:
    return int(amount * 100)


def _amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _assemble(out: IO[bytes], message_id: str, collection_date: date, creditor: Any,
              parts: dict[str, _Part]) -> str:
    """The file: the group header, then per sequence type its block's header and its
    transactions copied from its part; returns the file's SHA-256."""
    digest = hashlib.sha256()

    def write(chunk: bytes) -> None:
        digest.update(chunk)
        out.write(chunk)

    write(f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{NS}" '
          f'xmlns:xsi="{XSI}"><CstmrDrctDbtInitn>'.encode())
    identifier = creditor_identifier(creditor.creditor_identifier)
    name = sepa_text(creditor.name, 70)
    write(etree.tostring(_group_header(message_id, name, identifier, parts)))
    for kind in sorted(parts, key=SEQUENCE_TYPES.index):
        part = parts[kind]
        header = etree.tostring(_block(f"{message_id}-{kind}", kind, part, collection_date,
                                       name, identifier, creditor))
        write(header[:-len(b"</PmtInf>")])  # the block stays open for its transactions
        part.file.seek(0)
        while chunk := part.file.read(1 << 20):
            write(chunk)
        write(b"</PmtInf>")
    write(b"</CstmrDrctDbtInitn></Document>\n")
    return digest.hexdigest()


def _group_header(message_id: str, name: str, identifier: str,
                  parts: dict[str, _Part]) -> Any:
    header = _E("GrpHdr")
    _SUB(header, "MsgId").text = message_id[:35]
    _SUB(header, "CreDtTm").text = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    _SUB(header, "NbOfTxs").text = str(sum(part.count for part in parts.values()))
    _SUB(header, "CtrlSum").text = _amount(sum(part.cents for part in parts.values()))
    party = _SUB(header, "InitgPty")
    _SUB(party, "Nm").text = name
    _SUB(_SUB(_SUB(_SUB(party, "Id"), "OrgId"), "Othr"), "Id").text = identifier
    return header


def _block(block_id: str, kind: str, part: _Part, collection_date: date, name: str,
           identifier: str, creditor: Any) -> Any:
    """A payment information block's header, as sepaxml writes it in batch booking."""
    block = _E("PmtInf")
    _SUB(block, "PmtInfId").text = block_id[:35]
    _SUB(block, "PmtMtd").text = "DD"
    _SUB(block, "BtchBookg").text = "true"
    _SUB(block, "NbOfTxs").text = str(part.count)
    _SUB(block, "CtrlSum").text = _amount(part.cents)
    kind_of = _SUB(block, "PmtTpInf")
    _SUB(_SUB(kind_of, "SvcLvl"), "Cd").text = "SEPA"
    _SUB(_SUB(kind_of, "LclInstrm"), "Cd").text = "CORE"
    _SUB(kind_of, "SeqTp").text = kind
    _SUB(block, "ReqdColltnDt").text = collection_date.isoformat()
    party = _SUB(block, "Cdtr")
    _SUB(party, "Nm").text = name
    _address(party, creditor)
    _SUB(_SUB(_SUB(block, "CdtrAcct"), "Id"), "IBAN").text = creditor.iban
    _agent(_SUB(block, "CdtrAgt"), creditor.bic)
    _SUB(block, "ChrgBr").text = "SLEV"
    other = _SUB(_SUB(_SUB(_SUB(block, "CdtrSchmeId"), "Id"), "PrvtId"), "Othr")
    _SUB(other, "Id").text = identifier
    _SUB(_SUB(other, "SchmeNm"), "Prtry").text = "SEPA"
    return block


def _transaction(debit: Any, cents: int, invoice: Any, mandate: Any) -> Any:
    tx = _E("DrctDbtTxInf")
    _SUB(_SUB(tx, "PmtId"), "EndToEndId").text = debit.end_to_end_id
    _SUB(tx, "InstdAmt", Ccy="EUR").text = _amount(cents)
    info = _SUB(_SUB(tx, "DrctDbtTx"), "MndtRltdInf")
    _SUB(info, "MndtId").text = mandate.reference
    _SUB(info, "DtOfSgntr").text = mandate.signed_on.isoformat()
    if debit.amendment:
        _amendment(info, debit.amendment, mandate.original_iban)
    _agent(_SUB(tx, "DbtrAgt"), mandate.bic)
    party = _SUB(tx, "Dbtr")
    _SUB(party, "Nm").text = sepa_text(mandate.debtor_name, 70)
    _address(party, mandate)
    _SUB(_SUB(_SUB(tx, "DbtrAcct"), "Id"), "IBAN").text = mandate.iban
    _SUB(_SUB(tx, "RmtInf"), "Ustrd").text = sepa_text(invoice.number or f"{invoice.id}", 140)
    return tx


def _amendment(info: Any, kind: str, original_iban: str | None) -> None:
    """The mandate changed since its last debit: SMNDA (another bank) or the former IBAN."""
    _SUB(info, "AmdmntInd").text = "true"
    details = _SUB(info, "AmdmntInfDtls")
    if kind == "SMNDA":
        _SUB(_SUB(_SUB(_SUB(details, "OrgnlDbtrAgt"), "FinInstnId"), "Othr"),
             "Id").text = "SMNDA"
    else:
        _SUB(_SUB(_SUB(details, "OrgnlDbtrAcct"), "Id"), "IBAN").text = original_iban


def _agent(agent: Any, bic: str | None) -> None:
    institution = _SUB(agent, "FinInstnId")
    if bic:
        _SUB(institution, "BICFI").text = bic
    else:
        _SUB(_SUB(institution, "Othr"), "Id").text = "NOTPROVIDED"


def _address(party: Any, holder: Any) -> None:
    """The structured postal address (the November 2026 SEPA rules), what is known of it."""
    lines = ((sepa_text(holder.street, 70), "StrtNm"),
             (sepa_text(holder.building_number, 16), "BldgNb"),
             (sepa_text(holder.postal_code, 16), "PstCd"),
             (sepa_text(holder.town, 35), "TwnNm"), (holder.country, "Ctry"))
    if any(value for value, _tag in lines):
        address = _SUB(party, "PstlAdr")
        for value, tag in lines:
            if value:
                _SUB(address, tag).text = value


@functools.cache
def _schema() -> Any:
    """sepaxml's own XSD of pain.008.001.08, compiled once by libxml2 (lxml): a file of
    100,000 debits is checked in seconds, where a pure-Python validator takes minutes."""
    import sepaxml

    return etree.XMLSchema(etree.parse(str(Path(sepaxml.__file__).parent / "schemas"
                                           / f"{SCHEMA}.xsd")))


def check_file(source: Path | bytes, count: int, total: Decimal) -> None:
    """The XSD of pain.008.001.08, then what it does not say: the SEPA character set of
    every text, the mandate references' set, totals and control sums. libxml2 (lxml)
    validates while it parses, and each transaction is let go once checked: the memory
    does not grow with the file."""
    texts = {f"{{{NS}}}{tag}" for tag in TEXT_TAGS}
    reference, transaction = f"{{{NS}}}MndtId", f"{{{NS}}}DrctDbtTxInf"
    header = None
    source = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        # Only the elements checked come back to Python; libxml2 skips the others.
        for _event, element in etree.iterparse(
                source, schema=_schema(), remove_blank_text=True,
                tag=[*texts, reference, transaction, f"{{{NS}}}GrpHdr"]):
            tag = element.tag
            if tag in texts and not _SEPA_TEXT.fullmatch(element.text or ""):
                raise CollectionFileError(f"{tag.rsplit('}', 1)[-1]} outside the SEPA "
                                          f"character set: {element.text!r}")
            if tag == reference and (len(element.text or "") > 35 or not
                                     _REFERENCE_TEXT.fullmatch(element.text or "")):
                raise CollectionFileError(f"mandate reference outside the SEPA rules: "
                                          f"{element.text!r}")
            if tag == f"{{{NS}}}GrpHdr":
                header = (element.findtext(f"{{{NS}}}CtrlSum"),
                          element.findtext(f"{{{NS}}}NbOfTxs"))
            elif tag == transaction:
                element.clear()
                while element.getprevious() is not None:
                    del element.getparent()[0]
    except etree.XMLSyntaxError as exc:  # the XSD's verdict comes as a parse error
        raise CollectionFileError(str(exc)) from exc
    if header is None or Decimal(header[0]) != total or int(header[1]) != count:
        raise CollectionFileError("group header totals differ from the debits")
