"""A customer's direct debits on his 360° page: his mandates and the debits his bank
returned, newest first."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import models as m
from app.extensions import db
from app.policies import visible

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
