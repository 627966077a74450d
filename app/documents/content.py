"""What each kind of document prints, worded in the current language: one function per kind
fills the same Printout, which app/documents/layout.py draws."""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _

from app.documents.layout import Printout
from app.entities import STATUS_LABELS
from app.i18n import day, money
from app.models import Account, Contract, Delivery, Invoice, Order, Quote, Tenant
from app.models.base import ZERO

LINE_WIDTHS = [0.12, 0.40, 0.09, 0.14, 0.09, 0.16]
UNOFFICIAL = ("draft", "cancelled")


# Whether the reader may see a related record (model, id): one he may not is not named.
Sees = Callable[[type, int | None], bool]


def printout(kind: str, record: Any, tenant: Tenant, sees: Sees) -> Printout:
    """The Printout of `record`, an entity of `kind` (a key of KINDS)."""
    doc = KINDS[kind](record, tenant, sees)
    doc.issuer = issuer_lines(tenant)
    doc.customer_heading = _("Customer")
    doc.customer = customer_lines(record.account) if sees(Account, record.account_id) else []
    doc.footer = " · ".join(legal_footer(tenant))
    doc.page_label = _("Page %(page)d / %(pages)d")
    doc.fact_label = _("%(label)s: %(value)s")  # filled by the layout
    doc.author = tenant.legal_name or tenant.name
    return doc


def issuer_lines(tenant: Tenant) -> list[str]:
    lines = [tenant.legal_name or tenant.name, *(tenant.legal_address or "").splitlines()]
    if tenant.siren:
        lines.append(_("SIREN: %(siren)s", siren=tenant.siren))
    if tenant.vat_number:
        lines.append(_("VAT number: %(number)s", number=tenant.vat_number))
    return lines


def legal_footer(tenant: Tenant) -> list[str]:
    parts = [tenant.legal_name or tenant.name]
    if tenant.legal_address:
        parts.append(", ".join(line.strip() for line in tenant.legal_address.splitlines()
                               if line.strip()))
    if tenant.siren:
        parts.append(_("SIREN: %(siren)s", siren=tenant.siren))
    if tenant.vat_number:
        parts.append(_("VAT number: %(number)s", number=tenant.vat_number))
    return parts


def customer_lines(account: Account) -> list[str]:
    city = " ".join(part for part in (account.postal_code, account.city) if part)
    lines = [account.name, account.address_line or "", city]
    if account.country and account.country != "FR":
        lines.append(get_locale().territories.get(account.country, account.country))
    if account.vat_number:
        lines.append(_("VAT number: %(number)s", number=account.vat_number))
    return lines


def _priced_lines(lines: list[Any], currency: str) -> tuple[list[str], list[list[str]]]:
    columns = [_("Ref."), _("Description"), _("Qty"), _("Unit price excl. tax"), _("VAT"),
               _("Amount excl. tax")]
    rows = [[line.sku or "", line.label, format_decimal(line.quantity.normalize()),
             money(line.unit_price, currency), _percent(line.tax_rate),
             money(line.amount_excl_tax, currency)] for line in lines]
    return columns, rows


def _percent(rate: Decimal) -> str:
    value = format_decimal(rate.normalize() if rate == rate.to_integral() else rate)
    return f"{value}\xa0%" if str(get_locale()).startswith("fr") else f"{value}%"


def _totals(record: Any) -> list[tuple[str, str]]:
    return [(_("Total excl. tax"), money(record.total_excl_tax, record.currency)),
            (_("VAT"), money(record.tax_total, record.currency)),
            (_("Total incl. tax"), money(record.total, record.currency))]


def _commercial(record: Any, title: str, facts: list[tuple[str, str]]) -> Printout:
    if record.status in UNOFFICIAL:  # never mistaken for the document itself
        facts = [(str(STATUS_LABELS[record.status]).upper(), ""), *facts]
    columns, rows = _priced_lines(record.lines, record.currency)
    return Printout(title=title, number=record.number or f"#{record.id}", facts=facts,
                    issuer=[], customer_heading="", customer=[], columns=columns,
                    numeric_columns=4, rows=rows, totals=_totals(record),
                    column_widths=LINE_WIDTHS)


def _payment_terms(tenant: Tenant) -> list[str]:
    return [_("Payment terms: %(terms)s", terms=tenant.payment_terms)] \
        if tenant.payment_terms else []


def _number(model: type, record_id: int | None, related: Any, sees: Sees) -> str:
    """The number of a related document, when there is one the reader may see."""
    if not record_id or related is None or not sees(model, record_id):
        return ""
    return related.number or ""


def quote_printout(quote: Quote, tenant: Tenant, sees: Sees) -> Printout:
    facts = [(_("Date"), day(quote.issued_on)), (_("Valid until"), day(quote.valid_until))]
    doc = _commercial(quote, _("Quote"), [f for f in facts if f[1]])
    doc.notes = _payment_terms(tenant)
    return doc


def order_printout(order: Order, tenant: Tenant, sees: Sees) -> Printout:
    facts = [(_("Date"), day(order.ordered_on)),
             (_("Quote"), _number(Quote, order.quote_id, order.quote, sees))]
    doc = _commercial(order, _("Order confirmation"), [f for f in facts if f[1]])
    doc.notes = _payment_terms(tenant)
    return doc


def invoice_printout(invoice: Invoice, tenant: Tenant, sees: Sees) -> Printout:
    facts = [(_("Date"), day(invoice.issued_on)), (_("Due date"), day(invoice.due_on)),
             (_("Order"), _number(Order, invoice.order_id, invoice.order, sees))]
    doc = _commercial(invoice, _("Invoice"), [f for f in facts if f[1]])
    if invoice.amount_paid and invoice.amount_paid > ZERO:
        doc.totals += [(_("Already paid"), money(invoice.amount_paid, invoice.currency)),
                       (_("Left to pay"), money(invoice.total - invoice.amount_paid,
                                                invoice.currency))]
        doc.strong_totals = (2, 4)  # the total incl. tax, and what is left to pay
    doc.notes = [*_payment_terms(tenant), *late_payment_mentions(tenant, invoice.account)]
    return doc


def late_payment_mentions(tenant: Tenant, account: Account) -> list[str]:
    """What French law (Code de commerce, L441-10 and D441-5) asks every invoice to say."""
    if tenant.late_penalty_rate is not None:
        rate = _("%(rate)s a year", rate=_percent(tenant.late_penalty_rate))
    else:
        rate = _("three times the legal interest rate")
    mentions = [_("In case of late payment, late-payment penalties are due at the rate of "
                  "%(rate)s from the day after the due date.", rate=rate)]
    if account.kind != "person":  # the indemnity is owed by professionals only
        mentions.append(_("Any professional paying late also owes a fixed recovery indemnity "
                          "of €40 (article D441-5 of the French Commercial Code)."))
    mentions.append(_("No discount for early payment."))
    return mentions


def delivery_printout(delivery: Delivery, tenant: Tenant, sees: Sees) -> Printout:
    # The order's lines are what the note delivers, whoever reads it; its number is named only
    # to a reader who may see the order.
    order = delivery.order if delivery.order_id else None
    facts = [(_("Order"), _number(Order, delivery.order_id, order, sees)),
             (_("Shipped on"), day(delivery.shipped_on)),
             (_("Expected on"), day(delivery.expected_on)),
             (_("Delivered on"), day(delivery.delivered_on)),
             (_("Carrier"), delivery.carrier or ""),
             (_("Tracking number"), delivery.tracking_number or "")]
    rows = [[line.sku or "", line.label, format_decimal(line.quantity.normalize())]
            for line in (order.lines if order else [])]
    return Printout(title=_("Delivery note"), number=delivery.number or f"#{delivery.id}",
                    facts=[f for f in facts if f[1]], issuer=[], customer_heading="",
                    customer=[], columns=[_("Ref."), _("Description"), _("Qty")],
                    numeric_columns=1, rows=rows, column_widths=[0.2, 0.65, 0.15],
                    notes=[_("Received in good condition:")] if rows else [])


def contract_printout(contract: Contract, tenant: Tenant, sees: Sees) -> Printout:
    facts = [(_("Starts on"), day(contract.starts_on)), (_("Ends on"), day(contract.ends_on)),
             (_("Signed on"), day(contract.signed_on))]
    period = " – ".join(d for d in (day(contract.starts_on), day(contract.ends_on)) if d)
    amount = money(contract.recurring_amount, contract.currency) \
        if contract.recurring_amount is not None else ""
    return Printout(title=_("Contract"), number=contract.number or f"#{contract.id}",
                    facts=[f for f in facts if f[1]], issuer=[], customer_heading="",
                    customer=[], columns=[_("Subject"), _("Period"), _("Recurring amount")],
                    numeric_columns=1, rows=[[contract.title, period, amount]],
                    column_widths=[0.5, 0.3, 0.2], notes=_payment_terms(tenant))


KINDS: dict[str, Callable[[Any, Tenant, Sees], Printout]] = {
    "quotes": quote_printout, "orders": order_printout, "invoices": invoice_printout,
    "deliveries": delivery_printout, "contracts": contract_printout,
}
