"""The extranet's lists search without accents or capitals, among the user's own records
only, and never by the tenant's external references."""
from __future__ import annotations

from tests.conftest import page_text


def test_an_agent_finds_his_records_without_accents(portal_agent, make_partner, make_account,
                                                     make_invoice):
    mine = make_account(name="Atelier André", partner=portal_agent.partner.id,
                        external_ref="INTERNE-42")
    make_account(name="Atelier André Sud", partner=make_partner().id)
    make_account(name="Hôtel du Lac", partner=portal_agent.partner.id)
    page = page_text(portal_agent.get("/alpha/portal/accounts/?q=atelier andre"))
    assert "Atelier André" in page and "Sud" not in page and "Hôtel" not in page
    assert "Hôtel du Lac" in page_text(portal_agent.get("/alpha/portal/accounts/?q=HOTEL DU LAC"))
    # The tenant's own reference finds nothing in the extranet.
    assert "Atelier André" not in page_text(portal_agent.get("/alpha/portal/accounts/?q=interne"))
    # His documents by their customer's name, accents aside.
    invoice = make_invoice(account=mine.id, number="FA-1234")
    assert invoice.number in page_text(portal_agent.get("/alpha/portal/invoices/?q=andre"))
    assert invoice.number in page_text(portal_agent.get("/alpha/portal/invoices/?q=fa-1234"))
