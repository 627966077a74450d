"""SEPA Direct Debit collections: from the open invoices of customers with an active mandate,
one pain.008.001.08 file for a collection date (app/services/pain008.py: written as the
debits come, checked against its XSD and by our own rules); then, per debit,
collected (the invoice paid) or returned by the debtor's bank (an R-transaction with its
reason code: the invoice open again).

Which invoices: app/queries/collection_due.py says (and the back office's preview shows).
A collection is asked for in a request (`start_collection`: checked, saved "building") and
built by a job (app/services/collection_builds.py: `fill_collection`), the due invoices read,
the debits written and the file built a batch at a time.
"""
from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Row, select

from app import mail
from app.clock import local_today
from app.entities import ENTITIES
from app.errors import NotAllowed, ValidationError
from app.extensions import db
from app.i18n import day, money
from app.models import Account, Collection, Debit, Invoice, Mandate, Tenant
from app.models.selling import RETURN_REASONS
from app.queries.collection_due import amendment, any_due, due_debits
from app.services.audit import audit_row, diff, record_event
from app.services.offers import creditor
from app.services.pain008 import Written, write_pain008
from app.services.record_batches import RecordWriter
from app.services.record_rules import IN_LIST, chunks, jsonable
from app.services.record_sql import CHUNK, BulkSQL
from app.services.records import update_record
from app.tenancy import current_actor, current_tenant_id, tenant_context

log = logging.getLogger(__name__)
ZERO = Decimal("0")


class NewDebit(NamedTuple):
    """A debit of a collection being built, as its row is written."""

    collection_id: int
    invoice_id: int
    account_id: int
    mandate_id: int
    amount: Decimal
    sequence_type: str
    end_to_end_id: str
    amendment: str | None
    status: str


def collection_file(collection: Collection) -> Path:
    return Path(current_app.config["FILES_DIR"]) / "collections" / \
        str(collection.tenant_id) / f"{collection.id}.xml"


def start_collection(collection_date: date) -> Collection:
    """A collection for `collection_date`, to be built by its job
    (app/services/collection_builds.py): checked, saved "building"; flushes."""
    found = creditor()
    if found is None:
        raise ValidationError({"": _("Enter the SEPA creditor settings first.")})
    earliest = local_today() + timedelta(days=found.prenotification_days)
    if collection_date < earliest:
        raise ValidationError({"collection_date": _(
            "Customers are told %(days)d days before a debit: choose %(date)s or later.",
            days=found.prenotification_days, date=day(earliest))})
    if not any_due(collection_date):
        raise ValidationError({"collection_date": _nothing_due()})
    collection = Collection(collection_date=collection_date, status="building",
                            message_id="", built_by=current_actor().label[:254])
    db.session.add(collection)
    db.session.flush()
    collection.message_id = f"RELAIS-{current_tenant_id()}-{collection.id}"
    db.session.flush()
    record_event("create", "sepa_collections", collection.id, after={
        "collection_date": collection_date, "status": "building",
        "message_id": collection.message_id})
    return collection


def _nothing_due() -> str:  # noqa: N802 - a message, named as the constant it would be
    return _("No open invoice of a customer with an active mandate is due by this date.")


def build_collection(collection_date: date) -> Collection:
    """The collection of everything due by `collection_date`, its file written, at once
    (what the job does in two steps; the benchmark and tests call it)."""
    collection = start_collection(collection_date)
    fill_collection(collection)
    return collection


def fill_collection(collection: Collection) -> None:
    """Build a "building" collection: its debits written and its pain.008 file, a batch of
    due invoices at a time (app/queries/collection_due.py); "built" when done; flushes.
    ValidationError when nothing is left to debit."""
    found = creditor()
    if found is None:
        raise ValidationError({"": _("Enter the SEPA creditor settings first.")})
    due = _written(collection, due_debits(collection.collection_date))
    first = next(due, None)
    if first is None:
        raise ValidationError({"collection_date": _nothing_due()})
    collection.file_sha256 = pain008(collection, found,
                                     itertools.chain((first,), due)).sha256
    collection.status, collection.message = "built", None
    db.session.flush()
    record_event("update", "sepa_collections", collection.id, before={"status": "building"},
                 after={"status": "built", "count": collection.count,
                        "control_sum": collection.control_sum})


def _written(collection: Collection,
             due: Iterator[tuple[Row, str]]) -> Iterator[tuple[NewDebit, Row, Row]]:
    """Each due invoice as a debit, written a batch at a time as rows (not the ORM's
    objects: 100,000 of those cost more than the file), with its row for the file; the
    collection's count and control sum kept as they go."""
    written = BulkSQL(Debit.__table__, "end_to_end_id", current_tenant_id())
    batch: list[dict[str, Any]] = []
    count, total = 0, ZERO
    for row, sequence in due:
        debit = NewDebit(
            collection_id=collection.id, invoice_id=row.id, account_id=row.account_id,
            mandate_id=row.mandate_id, amount=row.total - (row.amount_paid or ZERO),
            sequence_type=sequence, end_to_end_id=f"C{collection.id}-I{row.id}",
            amendment=amendment(row), status="pending")
        batch.append(debit._asdict())
        count, total = count + 1, total + debit.amount
        if len(batch) >= CHUNK:
            written.insert_dicts(Debit.__table__, batch)
            batch = []
        yield debit, row, row
    if batch:
        written.insert_dicts(Debit.__table__, batch)
    collection.count, collection.control_sum = count, total


def pain008(collection: Collection, found: Any,
            debits: Iterable[tuple[Any, Any, Any]]) -> Written:
    """The collection's pain.008.001.08 file written and checked (app/services/pain008.py)."""
    return write_pain008(collection_file(collection), collection.message_id,
                         collection.collection_date, found, debits)


def _settleable(collection: Collection, *also: str) -> None:
    if collection.status == "settled":
        raise NotAllowed(_("This collection is settled already."))
    if collection.status == "settling" and "settling" not in also:
        raise NotAllowed(_("This collection is being settled."))
    if collection.status not in ("built", *also):
        raise NotAllowed(_("This collection has no file yet: it cannot be settled."))


def ask_settlement(collection: Collection) -> Collection:
    """The bank collected the debits: the collection is to be settled by its job
    (app/services/collection_builds.py); flushes."""
    _settleable(collection)
    collection.status, collection.message = "settling", None
    collection.job_worker, collection.job_attempts = None, 0
    collection.job_started_at = datetime.now(UTC)  # asked at: the recovery's clock
    collection.settled_by = current_actor().label[:254]  # the job acts in his name
    db.session.flush()
    record_event("update", "sepa_collections", collection.id, before={"status": "built"},
                 after={"status": "settling"})
    return collection


def settle_collection(collection: Collection) -> Collection:
    """The bank collected the debits: their invoices are paid, their mandates used (FRST
    done, an amendment reported), each change audited. Read and written a batch at a time
    (app/services/record_batches.py): a collection may hold 100,000 debits."""
    _settleable(collection, "settling")
    asked = collection.status == "settling"
    db.session.flush()
    now = datetime.now(UTC)
    invoices = RecordWriter(ENTITIES["invoices"])
    tenant_id = invoices.sql.tenant_id
    debits = BulkSQL(Debit.__table__, "id", tenant_id)
    mandates = BulkSQL(Mandate.__table__, "id", tenant_id)
    for chunk in _pending_debits(collection):
        debits.update([{"id": debit_id, "status": "collected"} for debit_id, *_rest in chunk])
        paid = _paid_invoices(chunk, invoices, now)
        # A mandate in an earlier chunk too is used already: no change, no second event.
        used = sorted({mandate_id for _d, _i, mandate_id, _a in chunk})
        invoices.audit(paid + _used_mandates(used, collection.collection_date, mandates, now))
    collection.status, collection.settled_at = "settled", now
    db.session.flush()
    _expire(collection)
    record_event("update", "sepa_collections", collection.id,
                 before={"status": "settling" if asked else "built"}, after={"status": "settled"})
    return collection


def _paid_invoices(debits: list[Any], writer: RecordWriter,
                   now: datetime) -> list[dict[str, Any]]:
    """The debits' invoices paid by as much (in full: their status paid), written by the
    record writer; their audit events."""
    amounts = {invoice_id: amount for _d, invoice_id, _m, amount in debits if invoice_id}
    rows, events = [], []
    for invoice_id, paid, total, status in db.session.execute(select(
            Invoice.id, Invoice.amount_paid, Invoice.total, Invoice.status)
            .where(Invoice.id.in_(amounts)).order_by(Invoice.id)):
        before = {"amount_paid": paid or ZERO, "status": status}
        after = {"amount_paid": before["amount_paid"] + amounts[invoice_id],
                 "status": "paid" if before["amount_paid"] + amounts[invoice_id] >= total
                 else status}
        row = {name: value for name, value in after.items() if value != before[name]}
        if row:
            rows.append({**row, "id": invoice_id, "updated_at": now})
            events.append(audit_row("update", "invoices", invoice_id,
                                    *map(jsonable, diff(before, after)), now))
    if rows:
        writer.update(rows)
    return events


def _used_mandates(ids: list[int], on: date, sql: BulkSQL,
                   now: datetime) -> list[dict[str, Any]]:
    """The mandates last used `on`, their amendment reported (then forgotten): written, and
    audited as app/services/mandates.py audits a mandate's changes."""
    rows, events = [], []
    after = {"last_used_on": on, "original_iban": None, "original_bic": None}
    for mandate_id, *values in db.session.execute(select(
            Mandate.id, Mandate.last_used_on, Mandate.original_iban, Mandate.original_bic)
            .where(Mandate.id.in_(ids)).order_by(Mandate.id)):
        before = dict(zip(after, values, strict=True))
        if before != after:
            rows.append({**after, "id": mandate_id, "updated_at": now})
            events.append(audit_row("update", "sepa_mandates", mandate_id,
                                    *map(jsonable, diff(before, after)), now))
    if rows:
        sql.update(rows)
    return events


def _pending_debits(collection: Collection) -> Iterator[list[Row]]:
    """The collection's pending debits (id, invoice, mandate, amount), a chunk at a time
    in the order of their ids: a collection of 100,000 is never held whole."""
    after = 0
    while chunk := db.session.execute(
            select(Debit.id, Debit.invoice_id, Debit.mandate_id, Debit.amount).where(
                Debit.collection_id == collection.id, Debit.status == "pending",
                Debit.id > after).order_by(Debit.id).limit(IN_LIST)).all():
        yield chunk
        after = chunk[-1].id


def _expire(collection: Collection) -> None:
    """What the session holds of the debits, invoices and mandates written by SQL: read
    again when next used."""
    db.session.expire(collection, ["debits"])
    for record in list(db.session.identity_map.values()):
        if isinstance(record, (Debit, Invoice, Mandate)):
            db.session.expire(record)


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
    only. Customers, invoices and mandates are read a batch of debits at a time."""
    sent = 0
    with tenant_context(tenant_id):
        # Read once: the commit after each mail expires what the session holds.
        tenant = db.session.get(Tenant, tenant_id)
        name, locale, creditor_name = tenant.name, tenant.default_locale or "fr", \
            creditor().name
        when = db.session.scalar(select(Collection.collection_date).where(
            Collection.id == collection_id))
        pending = db.session.execute(select(
            Debit.id, Debit.account_id, Debit.invoice_id, Debit.mandate_id, Debit.amount)
            .where(Debit.collection_id == collection_id, Debit.notified_at.is_(None))
            .order_by(Debit.id)).all()
        if pending:
            mail.ensure_configured()
        told = BulkSQL(Debit.__table__, "id", tenant_id)
        for chunk in chunks(pending):
            emails = _by_id(Account.id, Account.email, {d.account_id for d in chunk})
            numbers = _by_id(Invoice.id, Invoice.number, {d.invoice_id for d in chunk})
            mandates = {row.id: row for row in db.session.execute(select(
                Mandate.id, Mandate.iban, Mandate.reference, Mandate.creditor_identifier)
                .where(Mandate.id.in_({d.mandate_id for d in chunk})))}
            for debit in chunk:
                email = emails.get(debit.account_id)
                if not email:
                    log.warning("collection %s: customer %s has no e-mail address, not told "
                                "of debit %s", collection_id, debit.account_id, debit.id)
                    continue
                with mail.in_language(locale):
                    message = mail.compose(
                        email, _("Direct debit of %(amount)s on %(date)s — %(name)s",
                                 amount=money(debit.amount, "EUR"), date=day(when),
                                 name=name),
                        "document", sender_name=name, greeting=_("Hello,"),
                        paragraphs=_prenotice(debit.amount, when, numbers.get(
                            debit.invoice_id), mandates[debit.mandate_id], creditor_name),
                        signature=name)
                mail.send(message)
                # Marked and committed at once: a crash after this mail does not send it again.
                told.update([{"id": debit.id, "notified_at": datetime.now(UTC)}])
                db.session.commit()
                sent += 1
    return sent


def _by_id(key: Any, column: Any, ids: set[int | None]) -> dict[int, Any]:
    """{id: column} of the records `ids` (None left out)."""
    ids.discard(None)
    if not ids:
        return {}
    return dict(db.session.execute(select(key, column).where(key.in_(ids))).tuples().all())


def _prenotice(amount: Decimal, when: date, number: str | None, mandate: Any,
               creditor_name: str) -> list[str]:
    lines = [_("On %(date)s, %(creditor)s will debit %(amount)s from your account ending in "
               "%(last)s.", date=day(when), creditor=creditor_name,
               amount=money(amount, "EUR"), last=mandate.iban[-4:])]
    if number is not None:
        lines.append(_("It pays invoice %(number)s.", number=number))
    lines.append(_("Mandate reference: %(reference)s. Creditor identifier: %(identifier)s.",
                   reference=mandate.reference, identifier=mandate.creditor_identifier))
    return lines
