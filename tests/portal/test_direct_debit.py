"""A subscriber's direct debits in the extranet: his mandates (UMR, creditor, masked IBAN,
status, signature date) and his debits (date, amount, invoice, status), read only; never
another customer's; an agent sees none."""
from __future__ import annotations

from datetime import timedelta

from app.extensions import db
from app.services import collections, mandates
from tests.backoffice.conftest import fr, text
from tests.conftest import local_day
from tests.selling.conftest import active_mandate

IBAN = "FR7630006000011234567890189"


def test_a_subscriber_sees_his_mandates_and_debits_and_only_his(
        portal_subscriber, creditor, make_account, make_invoice):
    mine = active_mandate(portal_subscriber.account)
    old = active_mandate(portal_subscriber.account, reference="PAPIER-2025")
    mandates.revoke_mandate(old, "Remplacé")
    stranger = make_account(name="Voisin")
    theirs = active_mandate(stranger, reference="VOISIN-1")
    when = local_day() + timedelta(days=20)
    invoice = make_invoice(account=portal_subscriber.account, number="F-ABO-7", due_on=when)
    make_invoice(account=stranger, number="F-VOISIN", due_on=when)
    collection = collections.build_collection(when)
    db.session.commit()
    collections.settle_collection(collection)
    db.session.commit()
    mine_debit = next(d for d in collection.debits if d.invoice_id == invoice.id)
    collections.return_debit(mine_debit, "AM04")
    db.session.commit()

    home = portal_subscriber.get("/alpha/portal/")
    assert 'href="/alpha/portal/direct-debit"' in home.text
    page = portal_subscriber.get("/alpha/portal/direct-debit")
    assert page.status_code == 200
    shown = text(page)
    assert mine.reference in shown and "PAPIER-2025" in shown
    assert "Telepeage Services" in shown and "FR72ZZZ123456" in shown
    assert "FR76 •••• 0189" in shown and IBAN not in page.text  # masked, even to him
    assert "05/01/2026" in shown and fr("Revoked") in shown
    assert "F-ABO-7" in shown and fr("Returned") in shown and fr("Insufficient funds") in shown
    assert "VOISIN-1" not in shown and "F-VOISIN" not in shown
    assert f'/alpha/portal/invoices/{invoice.id}' in page.text

    detail = portal_subscriber.get(f"/alpha/portal/mandates/{mine.id}")
    assert detail.status_code == 200 and "F-ABO-7" in text(detail)
    assert portal_subscriber.get(f"/alpha/portal/mandates/{theirs.id}").status_code == 404
    assert portal_subscriber.get("/alpha/portal/mandates/999999").status_code == 404
    # Read only: nothing in the extranet changes a mandate.
    assert "/amend" not in page.text and "/revoke" not in page.text
    assert portal_subscriber.post(f"/alpha/portal/mandates/{mine.id}").status_code == 405


def test_a_subscriber_without_a_mandate_is_told_so(portal_subscriber, creditor):
    shown = text(portal_subscriber.get("/alpha/portal/direct-debit"))
    assert fr("You have given no direct-debit mandate.") in shown
    assert fr("No debit yet.") in shown


def test_an_agent_sees_no_mandate(portal_agent, creditor):
    mandate = active_mandate(portal_agent.account)
    assert 'href="/alpha/portal/direct-debit"' not in portal_agent.get("/alpha/portal/").text
    assert portal_agent.get("/alpha/portal/direct-debit").status_code == 404
    assert portal_agent.get(f"/alpha/portal/mandates/{mandate.id}").status_code == 404
