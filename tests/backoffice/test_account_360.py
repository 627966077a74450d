"""The customer 360° page: contracts, quotes, orders, deliveries, invoices, amounts, contacts."""
from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

from app.extensions import db
from app.services.attachments import add_attachment
from tests.backoffice.conftest import count_statements, en, fr, text
from tests.conftest import days_ago


def _amount(response, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', response.data.decode())
    return match.group(1).replace("\u202f", " ").replace("\xa0", " ")


def _section(response, name: str) -> str:
    page = response.data.decode()
    start = page.index(f'id="section-{name}"')
    return text(type("R", (), {"data": page[start:page.index("</table>", start)].encode()})())


def test_the_360_page_gathers_everything_about_a_customer(
        admin_client, make_partner, make_account, make_contact, make_quote, make_order,
        make_contract, make_delivery, make_invoice, make_deal):
    partner = make_partner(name="Agence Savoie")
    account = make_account(name="Chalets Mont-Blanc", city="Chamonix", partner=partner.id)
    other = make_account(name="Autre client")
    make_contact(account=account.id, first_name="Léa", last_name="Perrin",
                 email="lea.perrin@chalets.example", job_title="Gérante")
    make_contract(account=account.id, number="CT-360", title="Entretien stores")
    make_quote(account=account.id, number="D-360")
    make_order(account=account.id, number="C-360")
    make_delivery(account=account.id, number="BL-360")
    make_deal(account=account.id, title="Terrasse couverte")
    overdue = make_invoice(account=account.id, number="F-RETARD", issued_on=days_ago(60),
                           due_on=days_ago(30))
    make_invoice(account=account.id, number="F-PARTIEL", issued_on=days_ago(5),
                 due_on=days_ago(-25), amount_paid=Decimal("481.47"))
    make_invoice(account=account.id, number="F-PAYEE", status="paid", issued_on=days_ago(90),
                 due_on=days_ago(60))
    make_invoice(account=other.id, number="F-AUTRE", due_on=days_ago(30))
    add_attachment(overdue, "bon-de-commande.pdf", io.BytesIO(b"%PDF-1.4 bon"))
    db.session.commit()

    response = admin_client.get(f"/alpha/accounts/{account.id}/360")
    assert response.status_code == 200
    page = text(response)
    for shown in ("Chalets Mont-Blanc", "Chamonix", "Agence Savoie", "Léa Perrin", "Gérante",
                  "lea.perrin@chalets.example", "CT-360", "Entretien stores", "D-360", "C-360",
                  "BL-360", "Terrasse couverte", "F-RETARD", "F-PARTIEL", "F-PAYEE",
                  "bon-de-commande.pdf"):
        assert shown in page, shown
    assert "F-AUTRE" not in page and "Autre client" not in page
    assert _amount(response, "open-amount") == "2 481,47 €"  # 1 481,47 + (1 481,47 − 481,47)
    assert _amount(response, "overdue-amount") == "1 481,47 €"
    assert "(3)" in _section(response, "invoices")
    assert "F-RETARD" in _section(response, "invoices")


def test_the_360_amounts_in_english(admin_client, make_account, make_invoice):
    account = make_account()
    make_invoice(account=account.id, due_on=days_ago(3), issued_on=days_ago(33))
    response = en(admin_client).get(f"/alpha/accounts/{account.id}/360")
    assert _amount(response, "overdue-amount") == "€1,481.47"


def test_customer_detail_url_leads_to_the_360(admin_client, make_account):
    account = make_account()
    response = admin_client.get(f"/alpha/accounts/{account.id}")
    assert response.status_code == 302
    assert response.location.endswith(f"/alpha/accounts/{account.id}/360")


def test_the_360_shows_custom_fields_and_history(admin_client, make_account, make_field):
    make_field("accounts", "segment", label_fr="Segment", type="choice",
               choices=["Particulier", "Promoteur"])
    account = make_account(custom={"segment": "Promoteur"})
    page = text(admin_client.get(f"/alpha/accounts/{account.id}/360"))
    assert "Segment" in page and "Promoteur" in page
    assert fr("Created") in page


def test_the_360_offers_new_documents_for_the_customer(admin_client, sales_client, agent_client,
                                                       make_account):
    account = make_account(partner=agent_client.partner.id)
    page = admin_client.get(f"/alpha/accounts/{account.id}/360").data.decode()
    assert f"/alpha/invoices/new?account={account.id}" in page
    assert f"/alpha/accounts/{account.id}/edit" in page
    agent_page = agent_client.get(f"/alpha/accounts/{account.id}/360").data.decode()
    assert f"/alpha/invoices/new?account={account.id}" not in agent_page


def test_the_360_runs_a_bounded_number_of_queries(app, admin_client, make_account, make_invoice,
                                                  make_contact):
    account_id = make_account().id

    def statements() -> int:
        db.session.expunge_all()
        with count_statements(app) as seen:
            assert admin_client.get(f"/alpha/accounts/{account_id}/360").status_code == 200
        return len(seen)

    make_invoice(account=account_id)
    make_contact(account=account_id)
    one = statements()
    for _ in range(4):
        make_invoice(account=account_id)
        make_contact(account=account_id)
    assert statements() == one


def test_the_360_of_an_unknown_customer_is_404(admin_client):
    assert admin_client.get("/alpha/accounts/424242/360").status_code == 404


def test_the_invoice_detail_shows_lines_and_open_amount(admin_client, make_invoice):
    invoice = make_invoice(amount_paid=Decimal("1000"), due_on=days_ago(1) + timedelta(days=0))
    page = text(admin_client.get(f"/alpha/invoices/{invoice.id}"))
    for shown in ("Store banne 4 m", "1 234,56 €", "246,91 €", "1 481,47 €", "481,47 €"):
        assert shown in page, shown
