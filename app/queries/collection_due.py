"""What a collection for a date debits, and what it leaves out and why: one reading that the
build (app/services/collections.py) and its preview in the back office share, so that the
preview's figures are the file's.

Due: issued or overdue invoices, not archived, with something left to pay, due by the date,
not already in a collection waiting for its settlement, of a customer whose latest active
mandate covers them. The rows come streamed (a server-side cursor on PostgreSQL, batches on
SQLite), each an invoice joined to that mandate's columns: a collection of 100,000 debits
never holds 100,000 rows. The preview runs in a request: it does not read the rows but has the
database count them, by sequence type and by reason left out, over that same statement and
the same rules (FRST/OOFF, missing BIC: `_decisions`, SQL that the build filters by), and
lists the first SHOWN left out.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Row, Select, case, func, select

from app.extensions import db
from app.models import Account, Debit, Invoice, Mandate
from app.models.document import OPEN_INVOICE_STATUSES

STREAM = 2_000  # rows fetched at a time
# SEPA countries outside the EEA: a debit there names the debtor's bank (BIC); the EPC's
# list of the SEPA schemes' geographical scope.
NON_EEA_SEPA = frozenset({"AD", "AL", "CH", "GB", "GG", "IM", "JE", "MC", "MD", "ME", "MK",
                          "PM", "SM", "VA"})
# Why a due invoice is left out of a collection, as the preview names it.
LEFT_OUT_REASONS = {
    "no_mandate": _l("No mandate"),
    "revoked": _l("Mandate revoked"),
    "expired": _l("Mandate expired"),
    "in_collection": _l("Already in a collection awaiting settlement"),
    "no_bic": _l("Missing BIC (account outside the EEA)"),
    "first_debit": _l("A first debit under this mandate takes one invoice: in the next "
                      "collection"),
    "one_off": _l("A one-off mandate debits one invoice only"),
}
SHOWN = 200  # left-out invoices listed by the preview (all are counted)


def open_due(collection_date: date) -> list[Any]:
    """The conditions of an invoice open and due by `collection_date`."""
    return [Invoice.status.in_(OPEN_INVOICE_STATUSES), Invoice.archived_at.is_(None),
            Invoice.amount_paid < Invoice.total,
            (Invoice.due_on.is_(None)) | (Invoice.due_on <= collection_date)]


def _waiting() -> Select:
    return select(Debit.invoice_id).where(Debit.status == "pending",
                                          Debit.invoice_id.is_not(None))


# What the choice of debits and the preview read of a mandate; the file reads the rest too.
CHOICE_COLUMNS = (Mandate.iban, Mandate.bic, Mandate.original_iban, Mandate.is_recurrent,
                  Mandate.last_used_on)
FILE_COLUMNS = (Mandate.reference, Mandate.signed_on, Mandate.debtor_name, Mandate.street,
                Mandate.building_number, Mandate.postal_code, Mandate.town, Mandate.country)


def _latest_active(for_file: bool) -> Any:
    """Each customer's latest active mandate (signed last; the highest id on a tie)."""
    rank = func.row_number().over(partition_by=Mandate.account_id,
                                  order_by=(Mandate.signed_on.desc(), Mandate.id.desc()))
    return select(
        Mandate.id.label("mandate_id"), Mandate.account_id, *CHOICE_COLUMNS,
        *(FILE_COLUMNS if for_file else ()),
        rank.label("rank")).where(Mandate.status == "active").subquery("latest_mandate")


def due_statement(collection_date: date, for_file: bool = True) -> Select:
    """One row per due invoice: the invoice's `id`, `account_id`, `number`, `total`,
    `amount_paid`, then its mandate's columns (`mandate_id`, `iban`…; `reference`, the
    debtor's name and address… `for_file`)."""
    mandate = _latest_active(for_file)
    return (select(Invoice.id, Invoice.account_id, Invoice.number, Invoice.total,
                   Invoice.amount_paid,
                   *[column for name, column in mandate.c.items()
                     if name not in ("account_id", "rank")])
            .join(mandate, (mandate.c.account_id == Invoice.account_id) & (mandate.c.rank == 1))
            .where(*open_due(collection_date), Invoice.id.not_in(_waiting()))
            .order_by(Invoice.due_on, Invoice.id))


def amendment(row: Any) -> str | None:
    """What the file says of an amended mandate: "account" when the customer moved within his
    bank (the original IBAN's bank code is the new one's), otherwise "SMNDA"."""
    if not row.original_iban:
        return None
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        same = IBAN(row.original_iban).bank_code == IBAN(row.iban).bank_code \
            and row.original_iban[:2] == row.iban[:2]
    except SchwiftyException:  # an IBAN the registry cannot split: say the bank changed
        same = False
    return "account" if same else "SMNDA"


def due_debits(collection_date: date, left_out: Callable[[Row, str], None] | None = None,
               for_file: bool = True) -> Iterator[tuple[Row, str]]:
    """Each due invoice (a row of `due_statement`) the collection debits, with its sequence
    type; those it leaves out, with their reason, to `left_out`. The database decides, by the
    predicates the preview counts with (`_decisions`): only the debited rows come, streamed."""
    due = due_statement(collection_date, for_file)
    sequence, reason = _decisions(due)
    decided = due.order_by(None).add_columns(
        Invoice.due_on.label("due_on"), sequence.label("sequence_type"),
        reason.label("left_out_reason")).subquery("decided")
    stmt = select(decided).order_by(decided.c.due_on, decided.c.id)
    if left_out is None:
        stmt = stmt.where(decided.c.left_out_reason.is_(None))
    for row in db.session.execute(stmt.execution_options(yield_per=STREAM)):
        if row.left_out_reason is None:
            yield row, row.sequence_type
        elif left_out is not None:
            left_out(row, row.left_out_reason)


def _decisions(due: Select) -> tuple[Any, Any]:
    """The sequence type of each row of `due` (a `due_statement`) and the reason the
    collection leaves it out (None: debited) — the one writing of these rules, which the
    build filters by and the preview counts by:
    - a SEPA country outside the EEA needs the debtor's BIC: without it, "no_bic";
    - a first debit under a mandate (FRST) or its only one (OOFF) takes one invoice, the
      first in the build's order: the customer's others wait ("first_debit", "one_off"),
      and so do all of them while such a debit is still pending (the next one is RCUR, once
      that one is settled)."""
    row = due.selected_columns
    sequence = case((row.is_recurrent.is_(False), "OOFF"),
                    (row.last_used_on.is_not(None), "RCUR"), else_="FRST")
    position = func.row_number().over(partition_by=row.mandate_id,
                                      order_by=(Invoice.due_on, Invoice.id))
    held = row.mandate_id.in_(select(Debit.mandate_id).where(
        Debit.status == "pending", Debit.sequence_type.in_(("FRST", "OOFF"))))
    no_bic = (func.coalesce(row.bic, "") == "") & func.substr(row.iban, 1, 2).in_(NON_EEA_SEPA)
    reason = case((no_bic, "no_bic"),
                  (sequence.in_(("FRST", "OOFF")) & (held | (position > 1)),
                   case((sequence == "FRST", "first_debit"), else_="one_off")))
    return sequence, reason


def any_due(collection_date: date) -> bool:
    """Whether some invoice is due by the date under an active mandate (a quick check before
    a build is queued: the build itself may still leave them all out)."""
    return db.session.scalar(due_statement(collection_date, False).limit(1)) is not None


@dataclass
class LeftOut:
    invoice_id: int
    number: str | None
    account_id: int
    account_name: str = ""
    amount: Decimal = Decimal("0")
    due_on: date | None = None
    reason: str = ""


@dataclass
class CollectionPreview:
    """What a collection for a date would hold, before it is built."""

    collection_date: date
    count: int = 0
    total: Decimal = Decimal("0")
    sequences: Counter = field(default_factory=Counter)
    amendments: Counter = field(default_factory=Counter)
    left_out_counts: Counter = field(default_factory=Counter)
    left_out: list[LeftOut] = field(default_factory=list)

    @property
    def left_out_total(self) -> int:
        return sum(self.left_out_counts.values())


def preview(collection_date: date) -> CollectionPreview:
    """The debits of a collection for `collection_date` counted (by sequence type, amended
    mandates), and the due invoices it leaves out with their reason: counted by the database
    (a few grouped statements, whatever the size), the first SHOWN of them listed."""
    found = CollectionPreview(collection_date)
    chosen = _chosen(collection_date)
    # One pass: counts and sums by reason and sequence type, and the (old, new) IBAN pairs of
    # the amended mandates debited (few), each judged once.
    original = case((chosen.c.reason.is_(None) & (chosen.c.original_iban != ""),
                     chosen.c.original_iban))
    amended = case((original.is_not(None), chosen.c.iban))
    for row in db.session.execute(
            select(chosen.c.reason, chosen.c.sequence, original.label("original_iban"),
                   amended.label("iban"), func.count().label("count"),
                   func.sum(chosen.c.amount).label("amount"))
            .group_by(chosen.c.reason, chosen.c.sequence, original, amended)):
        if row.reason is not None:
            found.left_out_counts[row.reason] += row.count
            continue
        found.count += row.count
        found.total += row.amount or 0
        found.sequences[row.sequence] += row.count
        if row.original_iban is not None:
            found.amendments[amendment(row)] += row.count
    chosen_left_out = found.left_out_total
    unmandated = _without_active_mandate(collection_date)
    found.left_out_counts.update(dict(db.session.execute(
        select(unmandated.c.reason, func.count()).group_by(unmandated.c.reason)).tuples().all()))
    lines = [LeftOut(row.id, row.number, row.account_id, amount=row.amount, reason=row.reason)
             for source, some in ((chosen, chosen_left_out),
                                  (unmandated, found.left_out_total - chosen_left_out))
             if some
             for row in db.session.execute(
                 select(source.c.id, source.c.number, source.c.account_id, source.c.amount,
                        source.c.reason).where(source.c.reason.is_not(None))
                 .order_by(source.c.reason, source.c.id).limit(SHOWN))]
    found.left_out = sorted(lines, key=lambda line: (line.reason, line.invoice_id))[:SHOWN]
    _named(found.left_out)
    return found


def _chosen(collection_date: date) -> Any:
    """The rows of `due_statement` with their sequence type and the reason the collection
    leaves each out (None: debited), as `due_debits` decides them."""
    due = due_statement(collection_date, False)
    row = due.selected_columns
    sequence, reason = _decisions(due)
    return due.order_by(None).with_only_columns(
        row.id, row.number, row.account_id, row.iban, row.original_iban,
        (row.total - func.coalesce(row.amount_paid, 0)).label("amount"),
        sequence.label("sequence"), reason.label("reason")).subquery("chosen")


def _without_active_mandate(collection_date: date) -> Any:
    """The due invoices of customers with no active mandate, or already in a collection,
    with their reason."""
    active = select(Mandate.account_id).where(Mandate.status == "active")
    latest_status = select(Mandate.status).where(Mandate.account_id == Invoice.account_id) \
        .order_by(Mandate.signed_on.desc(), Mandate.id.desc()).limit(1).scalar_subquery()
    waiting = Invoice.id.in_(_waiting())
    found = select(Invoice.id, Invoice.number, Invoice.account_id,
                   (Invoice.total - func.coalesce(Invoice.amount_paid, 0)).label("amount"),
                   latest_status.label("status"), waiting.label("waiting")) \
        .where(*open_due(collection_date),
               Invoice.account_id.not_in(active) | waiting).subquery("found")
    return select(found.c.id, found.c.number, found.c.account_id, found.c.amount,
                  case((found.c.waiting, "in_collection"),
                       (found.c.status.in_(("revoked", "expired")), found.c.status),
                       else_="no_mandate").label("reason")).subquery("unmandated")


def _named(lines: list[LeftOut]) -> None:
    """The customers' names and the invoices' due dates of the lines shown."""
    if not lines:
        return
    names = dict(db.session.execute(select(Account.id, Account.name).where(
        Account.id.in_({line.account_id for line in lines}))).tuples().all())
    due = dict(db.session.execute(select(Invoice.id, Invoice.due_on).where(
        Invoice.id.in_({line.invoice_id for line in lines}))).tuples().all())
    for line in lines:
        line.account_name, line.due_on = names.get(line.account_id, ""), due.get(line.invoice_id)
