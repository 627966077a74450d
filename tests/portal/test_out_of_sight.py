"""What an extranet user must not learn indirectly: a hidden customer's name through search,
the files of records the extranet no longer shows, the deals behind a subscriber's quotes."""
from __future__ import annotations

import io

from app.extensions import db
from app.models import Deal
from app.models.base import utcnow
from app.services.attachments import add_attachment
from tests.conftest import page_text


def test_search_finds_no_document_by_the_name_of_a_customer_out_of_sight(
        portal_agent, make_partner, make_account, make_quote):
    elsewhere = make_account(name="Zorglub Industries", partner=make_partner().id)
    # A quote of his partner, for another partner's customer: his, but not its customer.
    quote = make_quote(account=elsewhere.id, partner=portal_agent.partner.id)
    listing = page_text(portal_agent.get("/alpha/portal/quotes/"))
    assert quote.number in listing and "Zorglub" not in listing
    assert quote.number not in page_text(portal_agent.get("/alpha/portal/quotes/?q=zorglub"))
    # His own customer's name still finds his documents.
    own = make_quote(account=portal_agent.account.id)
    assert own.number in page_text(portal_agent.get("/alpha/portal/quotes/?q=client du nord"))


def test_the_files_of_an_archived_record_are_not_downloaded(portal_agent, make_invoice):
    invoice = make_invoice(account=portal_agent.account.id)
    attachment = add_attachment(invoice, "facture.pdf", io.BytesIO(b"%PDF facture"))
    db.session.commit()
    url = f"/alpha/portal/attachments/{attachment.id}/download"
    assert portal_agent.get(url).data == b"%PDF facture"
    invoice.archived_at = utcnow()  # a full-sync feed no longer sends it
    db.session.commit()
    assert portal_agent.get(url).status_code == 404


def test_a_deal_is_not_a_subscribers_business(portal_subscriber, make_deal, make_quote,
                                              make_partner):
    deal = make_deal(account=portal_subscriber.account.id, title="Marge interne à négocier")
    deal_id = deal.id
    quote = make_quote(account=portal_subscriber.account.id, deal=deal_id)
    for page in (f"/alpha/portal/quotes/{quote.id}", "/alpha/portal/quotes/"):
        answer = portal_subscriber.get(page)
        assert answer.status_code == 200
        assert "Marge interne" not in answer.data.decode("utf-8-sig"), page
    attachment = add_attachment(db.session.get(Deal, deal_id), "marge.txt", io.BytesIO(b"marge"))
    db.session.commit()
    assert portal_subscriber.get(
        f"/alpha/portal/attachments/{attachment.id}/download").status_code == 404


def test_a_list_filtered_on_a_customer_out_of_sight_shows_nothing(
        portal_agent, make_partner, make_account, make_invoice):
    elsewhere = make_account(name="Zorglub Industries", partner=make_partner().id)
    # An invoice of his partner, for another partner's customer: his, but not its customer.
    invoice = make_invoice(account=elsewhere.id, partner=portal_agent.partner.id)
    own = make_invoice(account=portal_agent.account.id)
    assert invoice.number in page_text(portal_agent.get("/alpha/portal/invoices/"))
    for page in (f"/alpha/portal/invoices/?account={elsewhere.id}",
                 f"/alpha/portal/invoices/export.csv?account={elsewhere.id}"):
        answer = portal_agent.get(page)
        assert answer.status_code == 200
        assert invoice.number not in answer.data.decode("utf-8-sig"), page
    mine = page_text(portal_agent.get(f"/alpha/portal/invoices/?account={portal_agent.account.id}"))
    assert own.number in mine and invoice.number not in mine
