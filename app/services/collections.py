"""SEPA Direct Debit collections: from the open invoices of customers with an active mandate,
one pain.008.001.08 file for a collection date (built with sepaxml, completed with the
mandates' amendments, checked against its XSD and by our own rules); then, per debit,
collected (the invoice paid) or returned by the debtor's bank (an R-transaction with its
reason code: the invoice open again).

Which invoices: issued or overdue ones, not archived, with something left to pay and due by
the collection date, of a customer whose latest active mandate covers them, and not already in
a collection waiting for its settlement. A first debit under a mandate (FRST) or its only one
(OOFF) takes one invoice; the customer's others go in the next collection, under RCUR.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sepaxml import SepaDD
from sqlalchemy import select
from text_unidecode import unidecode

from app import mail
from app.clock import local_today
from app.errors import NotAllowed, ValidationError
from app.extensions import db
from app.i18n import day, money
from app.models import Account, Collection, Debit, Invoice, Mandate, Tenant
from app.models.document import OPEN_INVOICE_STATUSES
from app.models.selling import RETURN_REASONS
from app.sepa import REFERENCE_CHARACTERS, SEPA_CHARACTERS, creditor_identifier
from app.services.audit import record_event
from app.services.offers import creditor
from app.services.records import update_record
from app.tenancy import current_actor, current_tenant_id, tenant_context

SCHEMA = "pain.008.001.08"
NS = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"
log = logging.getLogger(__name__)
ZERO = Decimal("0")
_SPACES = re.compile(r"\s+")


class CollectionFileError(Exception):
    """A pain.008 file that would not pass the bank's checks (a bug, not a user's error)."""


def sepa_text(value: str, most: int) -> str:
    """`value` in the SEPA character set: transliterated (Hélène → Helene, ß → ss), `&` as
    `+`, anything else the set lacks as a space; at most `most` characters."""
    text = unidecode(value or "").replace("&", "+")
    text = "".join(c if c in SEPA_CHARACTERS else " " for c in text)
    return _SPACES.sub(" ", text).strip()[:most]


def collection_file(collection: Collection) -> Path:
    return Path(current_app.config["FILES_DIR"]) / "collections" / \
        str(collection.tenant_id) / f"{collection.id}.xml"


def _due(collection_date: date) -> list[tuple[Invoice, Mandate]]:
    """The invoices to debit on `collection_date`, each with its mandate."""
    latest: dict[int, Mandate] = {}
    active = select(Mandate).where(Mandate.status == "active")
    for mandate in db.session.scalars(active.order_by(Mandate.signed_on, Mandate.id)):
        latest[mandate.account_id] = mandate
    if not latest:
        return []
    waiting = select(Debit.invoice_id).where(Debit.status == "pending",
                                             Debit.invoice_id.is_not(None))
    # The customers by a subquery, not a list of ids: 100,000 of them are more parameters
    # than SQLite takes in one statement.
    invoices = db.session.scalars(
        select(Invoice).where(Invoice.status.in_(OPEN_INVOICE_STATUSES),
                              Invoice.archived_at.is_(None),
                              Invoice.amount_paid < Invoice.total,
                              Invoice.account_id.in_(active.with_only_columns(
                                  Mandate.account_id)),
                              (Invoice.due_on.is_(None)) | (Invoice.due_on <= collection_date),
                              Invoice.id.not_in(waiting))
        .order_by(Invoice.due_on, Invoice.id))
    due, first_taken = [], set()
    for invoice in invoices:
        mandate = latest[invoice.account_id]
        if mandate.next_sequence in ("FRST", "OOFF"):
            if mandate.id in first_taken:
                continue
            first_taken.add(mandate.id)
        due.append((invoice, mandate))
    return due


def _same_bank(mandate: Mandate) -> bool:
    """Whether the account moved within its bank (the original IBAN's bank code is the new
    one's): the file then names the original account; otherwise SMNDA."""
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        return IBAN(mandate.original_iban).bank_code == IBAN(mandate.iban).bank_code \
            and mandate.original_iban[:2] == mandate.iban[:2]
    except SchwiftyException:  # an IBAN the registry cannot split: say the bank changed
        return False


def build_collection(collection_date: date) -> Collection:
    """The collection of everything due by `collection_date`, its file written."""
    found = creditor()
    if found is None:
        raise ValidationError({"": _("Enter the SEPA creditor settings first.")})
    earliest = local_today() + timedelta(days=found.prenotification_days)
    if collection_date < earliest:
        raise ValidationError({"collection_date": _(
            "Customers are told %(days)d days before a debit: choose %(date)s or later.",
            days=found.prenotification_days, date=day(earliest))})
    due = _due(collection_date)
    if not due:
        raise ValidationError({"collection_date": _(
            "No open invoice of a customer with an active mandate is due by this date.")})
    collection = Collection(collection_date=collection_date, status="built",
                            message_id="", built_by=current_actor().label[:254])
    db.session.add(collection)
    db.session.flush()
    collection.message_id = f"RELAIS-{current_tenant_id()}-{collection.id}"
    debits = []
    for invoice, mandate in due:
        amendment = None
        if mandate.original_iban:
            amendment = "account" if _same_bank(mandate) else "SMNDA"
        debits.append(Debit(
            collection_id=collection.id, invoice_id=invoice.id, account_id=invoice.account_id,
            mandate_id=mandate.id, amount=(invoice.total - (invoice.amount_paid or ZERO)),
            sequence_type=mandate.next_sequence, end_to_end_id=f"C{collection.id}-I{invoice.id}",
            amendment=amendment, status="pending"))
    db.session.add_all(debits)
    collection.count = len(debits)
    collection.control_sum = sum((d.amount for d in debits), ZERO)
    db.session.flush()
    content = pain008(collection, found, [(d, inv, m) for d, (inv, m) in zip(debits, due,
                                                                              strict=True)])
    path = collection_file(collection)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    collection.file_sha256 = hashlib.sha256(content).hexdigest()
    record_event("create", "sepa_collections", collection.id, after={
        "collection_date": collection_date, "count": collection.count,
        "control_sum": collection.control_sum, "message_id": collection.message_id})
    return collection


def pain008(collection: Collection, found: Any,
            debits: list[tuple[Debit, Invoice, Mandate]]) -> bytes:
    """The pain.008.001.08 file: sepaxml builds it; the mandates' amendments are added;
    the XSD and our own rules check it."""
    config = {"name": sepa_text(found.name, 70), "IBAN": found.iban, "batch": True,
              "creditor_id": creditor_identifier(found.creditor_identifier),
              "currency": "EUR", "instrument": "CORE",
              "address": {"street_name": sepa_text(found.street, 70),
                          "building_number": sepa_text(found.building_number, 16),
                          "postcode": sepa_text(found.postal_code, 16),
                          "town": sepa_text(found.town, 35), "country": found.country}}
    if found.bic:
        config["BIC"] = found.bic
    document = SepaDD(config, schema=SCHEMA, clean=True)
    amended: dict[str, Mandate] = {}
    for debit, invoice, mandate in debits:
        payment = {
            "name": sepa_text(mandate.debtor_name, 70), "IBAN": mandate.iban,
            "amount": int(debit.amount * 100), "type": debit.sequence_type,
            "collection_date": collection.collection_date, "mandate_id": mandate.reference,
            "mandate_date": mandate.signed_on,
            "description": sepa_text(invoice.number or f"{invoice.id}", 140),
            "endtoend_id": debit.end_to_end_id,
            "address": {"street_name": sepa_text(mandate.street, 70),
                        "building_number": sepa_text(mandate.building_number, 16),
                        "postcode": sepa_text(mandate.postal_code, 16),
                        "town": sepa_text(mandate.town, 35), "country": mandate.country}}
        if mandate.bic:
            payment["BIC"] = mandate.bic
        document.add_payment(payment)
        if debit.amendment:
            amended[debit.end_to_end_id] = mandate
    content = document.export(validate=False)
    content = _with_amendments(content, amended, {d.end_to_end_id: d for d, _i, _m in debits})
    check_file(content, debits)
    return content


def _with_amendments(content: bytes, amended: dict[str, Mandate],
                     debits: dict[str, Debit]) -> bytes:
    if not amended:
        return content
    ET.register_namespace("", NS)
    root = ET.fromstring(content)
    for tx in root.iter(f"{{{NS}}}DrctDbtTxInf"):
        e2e = tx.find(f"{{{NS}}}PmtId/{{{NS}}}EndToEndId").text
        mandate = amended.get(e2e)
        if mandate is None:
            continue
        info = tx.find(f"{{{NS}}}DrctDbtTx/{{{NS}}}MndtRltdInf")
        position = list(info).index(info.find(f"{{{NS}}}DtOfSgntr")) + 1
        indicator = ET.Element(f"{{{NS}}}AmdmntInd")
        indicator.text = "true"
        details = ET.Element(f"{{{NS}}}AmdmntInfDtls")
        if debits[e2e].amendment == "SMNDA":
            agent = ET.SubElement(details, f"{{{NS}}}OrgnlDbtrAgt")
            other = ET.SubElement(ET.SubElement(agent, f"{{{NS}}}FinInstnId"),
                                  f"{{{NS}}}Othr")
            ET.SubElement(other, f"{{{NS}}}Id").text = "SMNDA"
        else:
            account = ET.SubElement(details, f"{{{NS}}}OrgnlDbtrAcct")
            ET.SubElement(ET.SubElement(account, f"{{{NS}}}Id"),
                          f"{{{NS}}}IBAN").text = mandate.original_iban
        info.insert(position, indicator)
        info.insert(position + 1, details)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, "utf-8")


@functools.cache
def _schema() -> Any:
    """sepaxml's own XSD of pain.008.001.08, compiled once by libxml2 (lxml): a file of
    100,000 debits is checked in seconds, where a pure-Python validator takes minutes."""
    import sepaxml
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(Path(sepaxml.__file__).parent / "schemas"
                                           / f"{SCHEMA}.xsd")))


def check_file(content: bytes, debits: list[tuple[Debit, Invoice, Mandate]]) -> None:
    """The XSD of pain.008.001.08, then what it does not say: the SEPA character set of
    every text, the mandate references' set, totals and control sums."""
    from lxml import etree

    try:
        _schema().assertValid(etree.fromstring(content))
    except etree.DocumentInvalid as exc:
        raise CollectionFileError(str(exc)) from exc
    root = ET.fromstring(content)
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        text = element.text or ""
        if tag in ("Nm", "StrtNm", "TwnNm", "Ustrd", "BldgNb", "PstCd") \
                and any(c not in SEPA_CHARACTERS for c in text):
            raise CollectionFileError(f"{tag} outside the SEPA character set: {text!r}")
        if tag == "MndtId" and (len(text) > 35 or any(c not in REFERENCE_CHARACTERS
                                                       for c in text)):
            raise CollectionFileError(f"mandate reference outside the SEPA rules: {text!r}")
    header = root.find(f".//{{{NS}}}GrpHdr")
    total = sum((d.amount for d, _i, _m in debits), ZERO)
    if Decimal(header.find(f"{{{NS}}}CtrlSum").text) != total \
            or int(header.find(f"{{{NS}}}NbOfTxs").text) != len(debits):
        raise CollectionFileError("group header totals differ from the debits")


def settle_collection(collection: Collection) -> Collection:
    """The bank collected the debits: their invoices are paid, their mandates used (FRST
    done, an amendment reported)."""
    if collection.status != "built":
        raise NotAllowed(_("This collection is settled already."))
    for debit in collection.debits:
        if debit.status != "pending":
            continue
        debit.status = "collected"
        invoice = db.session.get(Invoice, debit.invoice_id) if debit.invoice_id else None
        if invoice is not None:
            paid = (invoice.amount_paid or ZERO) + debit.amount
            update_record(invoice, {"amount_paid": paid,
                                    **({"status": "paid"} if paid >= invoice.total else {})})
        mandate = debit.mandate
        mandate.last_used_on = collection.collection_date
        mandate.original_iban = mandate.original_bic = None
    collection.status, collection.settled_at = "settled", datetime.now(UTC)
    db.session.flush()
    record_event("update", "sepa_collections", collection.id, before={"status": "built"},
                 after={"status": "settled"})
    return collection


def return_debit(debit: Debit, reason: str, on: date | None = None) -> Debit:
    """The debtor's bank returned the debit (or the debtor asked a refund): the invoice is
    open again, the reason code kept and shown on the customer's page."""
    reason = (reason or "").strip().upper()
    if reason not in RETURN_REASONS:
        raise ValidationError({"reason": _("Give the return's ISO reason code, e.g. AM04 "
                                           "(insufficient funds) or MD06 (refund asked).")})
    if debit.status == "returned":
        raise NotAllowed(_("This debit was returned already."))
    was_collected = debit.status == "collected"
    before = {"status": debit.status}
    debit.status, debit.return_reason, debit.returned_on = "returned", reason, \
        on or local_today()
    invoice = db.session.get(Invoice, debit.invoice_id) if debit.invoice_id else None
    if invoice is not None and was_collected:
        update_record(invoice, {"amount_paid": max((invoice.amount_paid or ZERO) - debit.amount,
                                                   ZERO), "status": "issued"})
    db.session.flush()
    record_event("update", "sepa_debits", debit.id, before=before,
                 after={"status": "returned", "return_reason": reason,
                        "returned_on": debit.returned_on})
    return debit


def send_prenotifications(tenant_id: int, collection_id: int) -> int:
    """The `send_prenotifications` job: tell each customer of the collection what will be
    debited, when, under which mandate (SEPA's pre-notification), in the tenant's language.
    Each debit is marked once told, so that a job run again after a crash tells the others
    only."""
    sent = 0
    with tenant_context(tenant_id):
        tenant = db.session.get(Tenant, tenant_id)
        found = creditor()
        pending = db.session.scalars(select(Debit).where(
            Debit.collection_id == collection_id, Debit.notified_at.is_(None))
            .order_by(Debit.id)).all()
        if pending:
            mail.ensure_configured()
        for debit in pending:
            account = db.session.get(Account, debit.account_id)
            invoice = db.session.get(Invoice, debit.invoice_id) if debit.invoice_id \
                else None
            if account is None or not account.email:
                log.warning("collection %s: customer %s has no e-mail address, not told "
                            "of debit %s", collection_id, debit.account_id, debit.id)
                continue
            with mail.in_language(tenant.default_locale or "fr"):
                message = mail.compose(
                    account.email, _("Direct debit of %(amount)s on %(date)s — %(name)s",
                                     amount=money(debit.amount, "EUR"),
                                     date=day(debit.collection.collection_date),
                                     name=tenant.name),
                    "document", sender_name=tenant.name, greeting=_("Hello,"),
                    paragraphs=_prenotice(debit, invoice, found), signature=tenant.name)
            mail.send(message)
            debit.notified_at = datetime.now(UTC)
            db.session.commit()
            sent += 1
    return sent


def _prenotice(debit: Debit, invoice: Invoice | None, found: Any) -> list[str]:
    mandate = debit.mandate
    lines = [_("On %(date)s, %(creditor)s will debit %(amount)s from your account ending in "
               "%(last)s.", date=day(debit.collection.collection_date), creditor=found.name,
               amount=money(debit.amount, "EUR"), last=mandate.iban[-4:])]
    if invoice is not None:
        lines.append(_("It pays invoice %(number)s.", number=invoice.number))
    lines.append(_("Mandate reference: %(reference)s. Creditor identifier: %(identifier)s.",
                   reference=mandate.reference, identifier=mandate.creditor_identifier))
    return lines
