"""Search ignores accents and capitals: in the lists and in the header's search box, which
finds customers, contacts, documents by number and deals at once, for staff only and within
their tenant."""
from __future__ import annotations

from sqlalchemy import select

from app.entities import ENTITIES
from app.extensions import db
from app.models import Account
from app.services.records import create_record
from tests.backoffice.conftest import text


def _names(response) -> str:
    assert response.status_code == 200, response.status_code
    return text(response)


def test_a_list_search_ignores_accents_and_capitals(admin_client, make_account):
    make_account(name="Atelier André", city="Lyon")
    make_account(name="Hôtel du Lac", city="Annecy", postal_code="74000")
    make_account(name="Garage Martin", city="Évian")
    page = _names(admin_client.get("/alpha/accounts/?q=atelier andre"))
    assert "Atelier André" in page and "Hôtel du Lac" not in page
    page = _names(admin_client.get("/alpha/accounts/?q=HOTEL DU LAC"))
    assert "Hôtel du Lac" in page and "Atelier André" not in page
    # Each word anywhere in the searched fields, in any order.
    page = _names(admin_client.get("/alpha/accounts/?q=annecy lac"))
    assert "Hôtel du Lac" in page and "Garage Martin" not in page
    page = _names(admin_client.get("/alpha/accounts/?q=evian"))
    assert "Garage Martin" in page and "Hôtel du Lac" not in page
    # The characters of LIKE are letters like any other.
    page = _names(admin_client.get("/alpha/accounts/?q=%25"))
    assert "Garage Martin" not in page and "Atelier André" not in page
    assert "Garage Martin" not in _names(admin_client.get("/alpha/accounts/?q=gar_ge"))


def test_contacts_deals_and_documents_are_searched_without_accents(
        admin_client, make_account, make_contact, make_deal, make_invoice):
    account = make_account(name="Hôtel du Lac")
    make_contact(account=account.id, first_name="Hélène", last_name="Lefèvre")
    make_contact(account=account.id, first_name="Paul", last_name="Durand")
    make_deal(account=account.id, title="Rénovation façade")
    make_invoice(account=account.id, number="FA-2026-0042")
    page = _names(admin_client.get("/alpha/contacts/?q=HELENE lefevre"))
    assert "Lefèvre" in page and "Durand" not in page
    assert "Rénovation façade" in _names(admin_client.get("/alpha/deals/?q=renovation FACADE"))
    assert "FA-2026-0042" in _names(admin_client.get("/alpha/invoices/?q=fa-2026-0042"))


def test_a_change_made_in_a_form_changes_what_search_finds(admin_client, make_account):
    account = make_account(name="Atelier Dupont", city="Lyon")
    response = admin_client.post(f"/alpha/accounts/{account.id}/edit", data={
        "name": "Atelier André", "kind": "company", "country": "FR", "city": "Lyon"})
    assert response.status_code == 302, response.data[:500]
    assert "Atelier André" in _names(admin_client.get("/alpha/accounts/?q=atelier andre"))
    assert "Atelier" not in _names(admin_client.get("/alpha/accounts/?q=dupont"))


def test_the_header_search_finds_every_kind_at_once(
        admin_client, make_account, make_contact, make_deal, make_quote, make_order,
        make_invoice, make_delivery, make_contract):
    andre = make_account(name="Atelier André", city="Lyon")
    make_account(name="Hôtel du Lac", city="Annecy")
    make_contact(account=andre.id, first_name="André", last_name="Morel")
    make_deal(account=andre.id, title="Véranda André")
    numbers = {"quotes": make_quote(account=andre.id, number="DV-7781").number,
               "orders": make_order(account=andre.id, number="CO-7781").number,
               "invoices": make_invoice(account=andre.id, number="FA-7781").number,
               "deliveries": make_delivery(account=andre.id, number="BL-7781").number,
               "contracts": make_contract(account=andre.id, number="CT-7781").number}
    page = admin_client.get("/alpha/search?q=ANDRE")
    body = _names(page)
    assert "Atelier André" in body and "Morel" in body and "Véranda André" in body
    assert "Hôtel du Lac" not in body
    html = page.data.decode()
    for name in ("accounts", "contacts", "deals"):
        assert f'id="results-{name}"' in html, name
    # Documents by their number, whatever the case.
    body = _names(admin_client.get("/alpha/search?q=7781"))
    for name, number in numbers.items():
        assert number in body, name
    assert "CO-7781" in _names(admin_client.get("/alpha/search?q=co-7781"))
    assert "Hôtel du Lac" in _names(admin_client.get("/alpha/search?q=hotel du lac"))
    nothing = admin_client.get("/alpha/search?q=zzzz%25")
    assert nothing.status_code == 200 and 'id="no-result"' in nothing.data.decode()
    assert admin_client.get("/alpha/search").status_code == 200
    assert admin_client.get("/alpha/search?q=a%00b").status_code == 400
    assert admin_client.get("/alpha/search?q=" + "é" * 500).status_code == 200
    # The box is in every back-office page's header.
    assert 'action="/alpha/search"' in admin_client.get("/alpha/").data.decode()


def test_the_header_search_stays_in_its_tenant_and_with_staff(
        admin_client, sales_client, agent_client, make_account, other_tenant, in_tenant):
    make_account(name="Hôtel du Lac Alpha")
    in_tenant(other_tenant, create_record, ENTITIES["accounts"],
              {"name": "Hôtel du Lac Beta", "kind": "company", "country": "FR"})
    body = _names(admin_client.get("/alpha/search?q=hotel lac"))
    assert "Hôtel du Lac Alpha" in body and "Beta" not in body
    assert "Hôtel du Lac Alpha" in _names(sales_client.get("/alpha/search?q=hotel lac"))
    # An agent has the extranet, not the back office.
    refused = agent_client.get("/alpha/search?q=hotel lac")
    assert refused.status_code == 403 and "Hôtel" not in refused.data.decode()


def test_the_search_text_is_stored_folded(tenant, make_account):
    account = make_account(name="  L'Œuvre   Straße ", city="Saint-Étienne",
                           external_ref="ACC-ÉTÉ")
    stored = db.session.scalar(select(Account.search_text).where(Account.id == account.id))
    assert stored == "l'œuvre strasse saint-etienne\x1eacc-ete"


def test_the_suggestions_of_a_related_record_ignore_accents(admin_client, make_account):
    make_account(name="Hôtel du Lac")
    make_account(name="Garage Martin")
    items = admin_client.get("/alpha/lookup/accounts?q=HOTEL lac").get_json()
    assert [item["label"].split(" · ")[0] for item in items] == ["Hôtel du Lac"]
