"""The contract a customer signs online: the offer's contract template with its merge fields
filled, then the SEPA Direct Debit mandate with the wording the EPC rulebook requires (the
creditor's name and identifier, the mandate reference, the debtor's refund rights: 8 weeks
after a debit, 13 months for an unauthorised one).

Rendered from plain values, before any record exists: the customer reviews it, signs it, and
the same bytes are sealed (app/esign.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

from app.documents import LANGUAGES, PdfFile, _file_stem
from app.documents.content import issuer_lines, legal_footer
from app.documents.layout import Printout, render
from app.i18n import day, money
from app.mail import in_language
from app.models import Offer, SepaCreditor, Tenant
from app.services.attachments import storage_path
from app.services.offers import MERGE_FIELD
from app.services.tenant_settings import COLOR, DEFAULT_COLOR


@dataclass(frozen=True)
class Subscriber:
    """The customer as he typed himself in the subscription form."""

    name: str
    street: str
    building_number: str
    postal_code: str
    town: str
    country: str
    email: str
    phone: str = ""

    @property
    def address(self) -> str:
        first = " ".join(part for part in (self.building_number, self.street) if part)
        return ", ".join(part for part in (first, f"{self.postal_code} {self.town}".strip(),
                                           self.country) if part)


@dataclass(frozen=True)
class MandateTerms:
    reference: str
    iban: str
    bic: str
    signed_on: date | None  # None while under review


def recurrence_label(recurrence: str) -> str:
    return {"monthly": _("monthly"), "yearly": _("yearly"),
            "one_off": _("one-off")}.get(recurrence, recurrence)


def merge(template: str, values: dict[str, str]) -> str:
    """`template` with each `{{ field }}` replaced by its value (unknown ones left as they
    are: the offer's template was checked when saved)."""
    return MERGE_FIELD.sub(lambda found: values.get(found.group(1), found.group(0)), template)


def mandate_text(creditor: SepaCreditor) -> list[str]:
    """The mandate's mandatory wording (EPC016), in the current language."""
    return [
        _("By signing this mandate form, you authorise (A) %(creditor)s to send instructions "
          "to your bank to debit your account and (B) your bank to debit your account in "
          "accordance with the instructions from %(creditor)s.", creditor=creditor.name),
        _("As part of your rights, you are entitled to a refund from your bank under the "
          "terms and conditions of your agreement with your bank. A refund must be claimed "
          "within 8 weeks starting from the date on which your account was debited, and at "
          "the latest within 13 months for an unauthorised debit."),
        _("Your rights are explained in a statement that you can obtain from your bank."),
    ]


def subscription_contract(offer: Offer, subscriber: Subscriber, terms: MandateTerms,
                          creditor: SepaCreditor, tenant: Tenant, *, starts_on: date,
                          language: str) -> PdfFile:
    """The contract and mandate PDF, in `language` ("fr" or "en")."""
    with in_language(language if language in LANGUAGES else LANGUAGES[0]):
        values = {
            "customer.name": subscriber.name, "customer.address": subscriber.address,
            "customer.email": subscriber.email, "customer.phone": subscriber.phone,
            "offer.name": offer.name, "offer.price": money(offer.price, offer.currency),
            "offer.recurrence": recurrence_label(offer.recurrence),
            "contract.start": day(starts_on),
            "contract.signed_on": day(terms.signed_on) if terms.signed_on
            else _("on signature"),
            "mandate.reference": terms.reference, "creditor.name": creditor.name,
            "creditor.identifier": creditor.creditor_identifier,
        }
        body = [paragraph.strip() for paragraph in
                merge(offer.contract_template, values).split("\n\n") if paragraph.strip()]
        creditor_address = " ".join(p for p in (creditor.building_number, creditor.street)
                                    if p)
        mandate_facts = [
            _("SEPA Direct Debit mandate (Core)"),
            _("Mandate reference (UMR): %(reference)s", reference=terms.reference),
            _("Creditor: %(name)s, %(address)s, %(postal_code)s %(town)s, %(country)s",
              name=creditor.name, address=creditor_address,
              postal_code=creditor.postal_code, town=creditor.town,
              country=creditor.country),
            _("Creditor identifier: %(identifier)s",
              identifier=creditor.creditor_identifier),
            _("Debtor: %(name)s, %(address)s", name=subscriber.name,
              address=subscriber.address),
            _("Account: IBAN %(iban)s%(bic)s", iban=terms.iban,
              bic=f" · BIC {terms.bic}" if terms.bic else ""),
            _("Type of payment: recurrent") if offer.recurrence != "one_off"
            else _("Type of payment: one-off"),
        ]
        doc = Printout(
            title=_("Subscription contract"), number=terms.reference,
            facts=[(_("Starts on"), day(starts_on))]
            + ([(_("Signed on"), day(terms.signed_on))] if terms.signed_on else []),
            issuer=issuer_lines(tenant), customer_heading=_("Customer"),
            customer=[subscriber.name, subscriber.address, subscriber.email,
                      subscriber.phone],
            columns=[_("Offer"), _("Recurrence"), _("Price incl. tax")], numeric_columns=1,
            rows=[[offer.name, recurrence_label(offer.recurrence),
                   money(offer.price, offer.currency)]],
            column_widths=[0.55, 0.25, 0.2],
            notes=[*body, *mandate_facts, *mandate_text(creditor)],
            footer=" · ".join(legal_footer(tenant)),
            page_label=_("Page %(page)d / %(pages)d"), fact_label=_("%(label)s: %(value)s"),
            author=tenant.legal_name or tenant.name)
        name = _file_stem(doc.title, doc.number)
    color = tenant.portal_color if tenant.portal_color and COLOR.fullmatch(tenant.portal_color) \
        else DEFAULT_COLOR
    logo = storage_path(tenant.id, tenant.logo_sha256) if tenant.logo_sha256 else None
    return PdfFile(f"{name}.pdf", render(doc, color=color, logo=logo), doc.title, doc.number)
