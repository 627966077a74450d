"""The SEPA Direct Debit mandate a customer signs with a quote sent by link: the EPC wording
(app/documents/subscription.py), the creditor, the debtor as he typed himself, his account.

Rendered once, when he consents, after the quote's own PDF: the same bytes are sealed."""
from __future__ import annotations

import io
from datetime import date

from flask_babel import gettext as _

from app.documents import LANGUAGES, document_pdf
from app.documents.content import issuer_lines, legal_footer
from app.documents.layout import Printout, render
from app.documents.subscription import mandate_text
from app.i18n import day
from app.mail import in_language
from app.models import Quote, SepaCreditor, Tenant
from app.services.attachments import storage_path
from app.services.tenant_settings import COLOR, DEFAULT_COLOR


def debtor_address(debtor: dict[str, str]) -> str:
    first = " ".join(p for p in (debtor.get("building_number", ""), debtor["street"]) if p)
    return ", ".join(p for p in (first, f"{debtor['postal_code']} {debtor['town']}".strip(),
                                 debtor["country"]) if p)


def mandate_pdf(quote: Quote, debtor: dict[str, str], creditor: SepaCreditor, tenant: Tenant,
                *, signed_on: date, language: str) -> bytes:
    """The mandate's page(s); `debtor`: check_debtor's values and the `reference` (UMR)."""
    with in_language(language if language in LANGUAGES else LANGUAGES[0]):
        creditor_address = " ".join(p for p in (creditor.building_number, creditor.street)
                                    if p)
        facts = [
            _("Mandate reference (UMR): %(reference)s", reference=debtor["reference"]),
            _("Creditor: %(name)s, %(address)s, %(postal_code)s %(town)s, %(country)s",
              name=creditor.name, address=creditor_address,
              postal_code=creditor.postal_code, town=creditor.town,
              country=creditor.country),
            _("Creditor identifier: %(identifier)s",
              identifier=creditor.creditor_identifier),
            _("Debtor: %(name)s, %(address)s", name=debtor["debtor_name"],
              address=debtor_address(debtor)),
            _("Account: IBAN %(iban)s%(bic)s", iban=debtor["iban"],
              bic=f" · BIC {debtor['bic']}" if debtor.get("bic") else ""),
            _("Type of payment: recurrent"),
        ]
        doc = Printout(
            title=_("SEPA Direct Debit mandate (Core)"), number=debtor["reference"],
            facts=[(_("Quote"), quote.number or ""), (_("Signed on"), day(signed_on))],
            issuer=issuer_lines(tenant), customer_heading=_("Debtor"),
            customer=[debtor["debtor_name"], debtor_address(debtor)],
            columns=[_("Account"), _("BIC")], numeric_columns=0,
            rows=[[debtor["iban"], debtor.get("bic") or ""]], column_widths=[0.7, 0.3],
            notes=[*facts, *mandate_text(creditor)],
            footer=" · ".join(legal_footer(tenant)),
            page_label=_("Page %(page)d / %(pages)d"), fact_label=_("%(label)s: %(value)s"),
            author=tenant.legal_name or tenant.name)
    color = tenant.portal_color if tenant.portal_color and COLOR.fullmatch(tenant.portal_color) \
        else DEFAULT_COLOR
    logo = storage_path(tenant.id, tenant.logo_sha256) if tenant.logo_sha256 else None
    return render(doc, color=color, logo=logo)


def quote_to_sign(quote: Quote, tenant: Tenant, language: str,
                  mandate: bytes | None = None) -> bytes:
    """The quote's PDF, followed by the mandate's pages when one is signed with it."""
    from pypdf import PdfReader, PdfWriter

    pdf = document_pdf("quotes", quote, tenant, language).content
    if mandate is None:
        return pdf
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    for page in PdfReader(io.BytesIO(mandate)).pages:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
