"""Printed documents in the extranet: an agent downloads those of his partner's customers only,
a subscriber his own, and a quote's answer box shows its total, validity and PDF."""
from __future__ import annotations

from datetime import date

import pytest

from tests.backoffice.conftest import fr, text
from tests.pdf_support import pdf_text

KINDS = ("quotes", "orders", "invoices", "deliveries", "contracts")


@pytest.fixture
def factories(make_quote, make_order, make_invoice, make_delivery, make_contract):
    return {"quotes": make_quote, "orders": make_order, "invoices": make_invoice,
            "deliveries": make_delivery, "contracts": make_contract}


@pytest.mark.parametrize("kind", KINDS)
def test_an_agent_downloads_his_documents_and_never_another_partners(
        portal_agent, factories, make_account, make_partner, kind):
    mine = factories[kind](account=portal_agent.account.id)
    response = portal_agent.get(f"/alpha/portal/{kind}/{mine.id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    content = pdf_text(response.data)
    assert mine.number in content and "Client du Nord" in content
    page = text(portal_agent.get(f"/alpha/portal/{kind}/{mine.id}"))
    assert fr("Open the PDF") in page and fr("Download the PDF") in page
    elsewhere = make_account(name="Client du Sud", partner=make_partner(name="Agence Sud").id)
    theirs = factories[kind](account=elsewhere.id)
    assert portal_agent.get(f"/alpha/portal/{kind}/{theirs.id}/pdf").status_code == 404


def test_a_subscriber_downloads_his_invoice_in_english(portal_subscriber, make_invoice,
                                                       make_account):
    mine = make_invoice(account=portal_subscriber.account.id)
    content = pdf_text(portal_subscriber.get(
        f"/alpha/portal/invoices/{mine.id}/pdf?lang=en").data)
    assert "Invoice" in content and "€1,481.47" in content and "Famille Durand" in content
    other = make_invoice(account=make_account(name="Voisin").id)
    assert portal_subscriber.get(f"/alpha/portal/invoices/{other.id}/pdf").status_code == 404


def test_no_pdf_of_a_kind_outside_the_extranet_or_of_a_draft(portal_agent, make_invoice,
                                                             make_deal):
    deal = make_deal(account=portal_agent.account.id)
    assert portal_agent.get(f"/alpha/portal/deals/{deal.id}/pdf").status_code == 404
    draft = make_invoice(account=portal_agent.account.id, status="draft")
    assert portal_agent.get(f"/alpha/portal/invoices/{draft.id}/pdf").status_code == 404


def test_a_quote_to_answer_shows_its_total_validity_and_document(portal_agent, make_quote):
    quote = make_quote(account=portal_agent.account.id, valid_until=date(2026, 12, 31))
    page = portal_agent.get(f"/alpha/portal/quotes/{quote.id}")
    box = page.data.decode()
    box = box[box.index('id="answer-quote"'):box.index("</form>", box.index('id="answer-quote"'))]
    assert "960,00" in box and "31/12/2026" in box  # 800 € excl. tax + 20 % VAT
    pdf_url = f"/alpha/portal/quotes/{quote.id}/pdf"
    assert '<iframe class="d-none d-md-block' in box and f'src="{pdf_url}"' in box
    assert f'href="{pdf_url}?download=1"' in box  # a phone saves it instead
    framed = portal_agent.get(pdf_url)
    assert framed.headers["Content-Disposition"].startswith("inline;")
    assert framed.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in framed.headers["Content-Security-Policy"]
    assert quote.number in pdf_text(framed.data)


def test_a_customer_the_agent_may_not_see_is_not_named_on_the_document(
        portal_agent, make_account, make_partner, make_invoice):
    """His partner's invoice to a customer of another partner: the page names no customer,
    nor does the PDF."""
    stranger = make_account(name="Client Lointain", partner=make_partner().id)
    invoice = make_invoice(account=stranger.id, partner=portal_agent.partner.id)
    response = portal_agent.get(f"/alpha/portal/invoices/{invoice.id}/pdf")
    assert response.status_code == 200
    content = pdf_text(response.data)
    assert invoice.number in content and "Client Lointain" not in content


def test_an_order_the_agent_may_not_see_is_not_named_on_his_invoice(
        portal_agent, make_account, make_partner, make_order, make_invoice):
    elsewhere = make_account(name="Client du Sud", partner=make_partner().id)
    hidden = make_order(account=elsewhere.id)
    shown = make_order(account=portal_agent.account.id)
    invoice = make_invoice(account=portal_agent.account.id, order=hidden.id)
    assert hidden.number not in pdf_text(portal_agent.get(
        f"/alpha/portal/invoices/{invoice.id}/pdf").data)
    invoice = make_invoice(account=portal_agent.account.id, order=shown.id)
    assert shown.number in pdf_text(portal_agent.get(
        f"/alpha/portal/invoices/{invoice.id}/pdf").data)
