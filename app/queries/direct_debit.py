"""Direct debits as people read them: a customer's mandates and returned debits on his 360°
page, the back office's lists of mandates and collections, a mandate's debits and history,
and a subscriber's own mandates and debits in the extranet."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from app import models as m
from app.extensions import db
from app.i18n import day
from app.models.selling import MANDATE_CHANNELS, MANDATE_STATUSES, mask_iban
from app.policies import visible
from app.queries.lists import MAX_QUERY
from app.queries.records import history_of

RETURNS_SHOWN = 10
# What the ISO reason codes of an R-transaction mean to the people who call the customer.
RETURN_REASON_LABELS = {
    "AC01": _l("Wrong account number"), "AC04": _l("Account closed"),
    "AC06": _l("Account blocked"), "AC13": _l("Debtor account of a consumer"),
    "AG01": _l("Direct debits forbidden on this account"), "AG02": _l("Wrong operation code"),
    "AM04": _l("Insufficient funds"), "AM05": _l("Duplicate debit"),
    "BE05": _l("Creditor unknown to the bank"), "CNOR": _l("Creditor's bank unreachable"),
    "DNOR": _l("Debtor's bank unreachable"), "FF01": _l("Invalid file format"),
    "MD01": _l("No valid mandate"), "MD02": _l("Mandate data missing or wrong"),
    "MD06": _l("Refund asked by the customer"), "MD07": _l("Debtor deceased"),
    "MS02": _l("Refused by the customer"), "MS03": _l("Refused by the bank"),
    "RC01": _l("Wrong BIC"), "RR01": _l("Regulatory reason"), "RR02": _l("Regulatory reason"),
    "RR03": _l("Regulatory reason"), "RR04": _l("Regulatory reason"),
    "SL01": _l("Refused by a service of the debtor's bank"),
}


@dataclass
class DirectDebit:
    mandates: list[m.Mandate]
    returns: list[m.Debit]

    def __bool__(self) -> bool:
        return bool(self.mandates or self.returns)


def direct_debit(account: m.Account, user: m.User) -> DirectDebit:
    """The account's mandates (active first) and its last returned debits, when `user` may
    see them (staff)."""
    mandates = list(db.session.scalars(visible(
        select(m.Mandate).where(m.Mandate.account_id == account.id), m.Mandate, user)
        .order_by((m.Mandate.status != "active"), m.Mandate.signed_on.desc(), m.Mandate.id)))
    returns = list(db.session.scalars(visible(
        select(m.Debit).where(m.Debit.account_id == account.id, m.Debit.status == "returned"),
        m.Debit, user).order_by(m.Debit.returned_on.desc(), m.Debit.id.desc())
        .limit(RETURNS_SHOWN)))
    return DirectDebit(mandates, returns)


MANDATE_STATUS_LABELS = {"active": _l("Active"), "revoked": _l("Revoked"),
                         "expired": _l("Expired")}
CHANNEL_LABELS = {"online": _l("Online"), "paper": _l("Paper"), "import": _l("Import")}
DEBIT_STATUS_LABELS = {"pending": _l("Pending"), "collected": _l("Collected"),
                       "returned": _l("Returned")}
COLLECTION_STATUS_LABELS = {"building": _l("Being built"),
                            "built": _l("Built, awaiting settlement"),
                            "failed": _l("Failed"), "settling": _l("Being settled"),
                            "settled": _l("Settled")}
SEQUENCE_LABELS = {"FRST": _l("First"), "RCUR": _l("Recurrent"), "OOFF": _l("One-off")}
AMENDMENT_LABELS = {"account": _l("New account, same bank"),
                    "SMNDA": _l("SMNDA: new bank")}
# A mandate's audited values, as its history names them.
MANDATE_FIELD_LABELS = {
    "reference": _l("Mandate reference (UMR)"), "creditor_identifier": _l("Creditor identifier"),
    "debtor_name": _l("Debtor"), "street": _l("Street"), "building_number": _l("Building number"),
    "postal_code": _l("Postal code"), "town": _l("Town"), "country": _l("Country"),
    "iban": _l("IBAN"), "bic": _l("BIC"), "is_recurrent": _l("Recurrent"),
    "channel": _l("Channel"), "signed_on": _l("Signed on"), "status": _l("Status"),
    "last_used_on": _l("Last collection"), "original_iban": _l("IBAN before the amendment"),
    "original_bic": _l("BIC before the amendment"), "ended_on": _l("Ended on"),
    "end_reason": _l("Reason"),
}
_IBANS = ("iban", "original_iban")
_DATES = ("signed_on", "last_used_on", "ended_on")


@dataclass(frozen=True)
class MandateFilter:
    """The mandate list's filters, as read from the request (unknown values dropped)."""

    status: str = ""
    channel: str = ""
    q: str = ""

    @classmethod
    def of(cls, args: Any) -> MandateFilter:
        status, channel = args.get("status", ""), args.get("channel", "")
        return cls(status if status in MANDATE_STATUSES else "",
                   channel if channel in MANDATE_CHANNELS else "",
                   (args.get("q") or "").strip()[:MAX_QUERY])

    @property
    def active(self) -> dict[str, str]:
        return {k: v for k, v in (("status", self.status), ("channel", self.channel),
                                  ("q", self.q)) if v}


def mandates(filters: MandateFilter, user: m.User) -> Select:
    """The mandates `user` may see that match `filters` (a UMR or debtor name contains `q`),
    with their customers."""
    stmt = visible(select(m.Mandate), m.Mandate, user).options(joinedload(m.Mandate.account))
    if filters.status:
        stmt = stmt.where(m.Mandate.status == filters.status)
    if filters.channel:
        stmt = stmt.where(m.Mandate.channel == filters.channel)
    if filters.q:
        stmt = stmt.where(or_(m.Mandate.reference.icontains(filters.q, autoescape=True),
                              m.Mandate.debtor_name.icontains(filters.q, autoescape=True)))
    return stmt


@dataclass
class DebitLine:
    """A debit with what its reader wants beside it: when, which invoice, which customer."""

    debit: m.Debit
    collection_date: date
    invoice_number: str | None
    account_name: str | None


def _debit_lines(stmt: Select) -> list[DebitLine]:
    rows = db.session.execute(stmt.add_columns(
        m.Collection.collection_date, m.Invoice.number, m.Account.name)
        .join(m.Collection, m.Collection.id == m.Debit.collection_id)
        .outerjoin(m.Invoice, m.Invoice.id == m.Debit.invoice_id)
        .outerjoin(m.Account, m.Account.id == m.Debit.account_id))
    return [DebitLine(debit, when, number, name) for debit, when, number, name in rows]


def mandate_debits(mandate: m.Mandate, user: m.User) -> list[DebitLine]:
    """The debits taken under `mandate`, newest first."""
    return _debit_lines(visible(select(m.Debit), m.Debit, user)
                        .where(m.Debit.mandate_id == mandate.id)
                        .order_by(m.Debit.id.desc()))


def collection_debits(collection: m.Collection, user: m.User, rows: list[m.Debit]
                      ) -> list[DebitLine]:
    """`rows` (a page of a collection's debits, in the file's order) with their invoices
    and customers."""
    ids = [debit.id for debit in rows]
    return _debit_lines(visible(select(m.Debit), m.Debit, user)
                        .where(m.Debit.collection_id == collection.id, m.Debit.id.in_(ids))
                        .order_by(m.Debit.id)) if ids else []


def collection_debit_rows(collection: m.Collection, user: m.User) -> Select:
    """A collection's debits, to be paged."""
    return visible(select(m.Debit), m.Debit, user).where(
        m.Debit.collection_id == collection.id)


def debit_line(debit: m.Debit, user: m.User) -> DebitLine:
    return _debit_lines(visible(select(m.Debit), m.Debit, user)
                        .where(m.Debit.id == debit.id))[0]


@dataclass
class CollectionSummary:
    """What a collection's page counts: debits and amounts by status, customers told."""

    by_status: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    notified: int = 0
    not_notified: int = 0


def summary(collection: m.Collection, user: m.User) -> CollectionSummary:
    """Counted by the database: a collection may hold 100,000 debits."""
    found = CollectionSummary()
    rows = db.session.execute(collection_debit_rows(collection, user).with_only_columns(
        m.Debit.status, m.Debit.notified_at.is_not(None), func.count(m.Debit.id),
        func.coalesce(func.sum(m.Debit.amount), 0))
        .group_by(m.Debit.status, m.Debit.notified_at.is_not(None)))
    for status, told, count, total in rows:
        before = found.by_status.get(status, (0, Decimal("0")))
        found.by_status[status] = (before[0] + count, before[1] + Decimal(str(total)))
        if told:
            found.notified += count
        else:
            found.not_notified += count
    return found


def collections(user: m.User) -> Select:
    """The collections `user` may see, newest first once paged."""
    return visible(select(m.Collection), m.Collection, user)


@dataclass(frozen=True)
class HistoryEntry:
    action: str
    actor_label: str
    created_at: Any
    changes: list[tuple[str, str, str]]


def mandate_history(mandate: m.Mandate, full_iban: bool, limit: int = 50
                    ) -> list[HistoryEntry]:
    """A mandate's audit events, newest first, its fields named; the IBANs masked unless
    `full_iban`."""
    entries = []
    for event in history_of("sepa_mandates", mandate.id, limit):
        before, after = event.before or {}, event.after or {}
        changes = []
        for key, label in MANDATE_FIELD_LABELS.items():
            old, new = before.get(key), after.get(key)
            if before and after and old == new or (old is None and new is None):
                continue
            changes.append((str(label), _shown(key, old, full_iban), _shown(key, new, full_iban)))
        entries.append(HistoryEntry(event.action, event.actor_label, event.created_at, changes))
    return entries


def _shown(key: str, value: Any, full_iban: bool) -> str:
    if value is None or value == "":
        return "—"
    if key in _IBANS:
        return str(value) if full_iban else mask_iban(str(value))
    if key in _DATES:
        return day(date.fromisoformat(value) if isinstance(value, str) else value)
    if key == "status":
        return str(MANDATE_STATUS_LABELS.get(value, value))
    if key == "channel":
        return str(CHANNEL_LABELS.get(value, value))
    if isinstance(value, bool):
        return str(_l("Yes") if value else _l("No"))
    return str(value)


def own_direct_debit(user: m.User) -> tuple[list[m.Mandate], list[DebitLine]]:
    """A subscriber's mandates (active first) and his debits, newest first: none for anyone
    the policies show none (agents)."""
    found = list(db.session.scalars(visible(select(m.Mandate), m.Mandate, user).order_by(
        (m.Mandate.status != "active"), m.Mandate.signed_on.desc(), m.Mandate.id)))
    debits = _debit_lines(visible(select(m.Debit), m.Debit, user)
                          .order_by(m.Collection.collection_date.desc(), m.Debit.id.desc()))
    return found, debits

