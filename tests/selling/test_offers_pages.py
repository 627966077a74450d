"""More → Online offers and SEPA creditor: an admin sets the creditor (errors beside their
fields, in French), then creates and publishes an offer; nobody else reaches these pages."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Offer, SepaCreditor
from app.services.custom_field_defs import create_field
from tests.backoffice.conftest import fr, text

CREDITOR = {"name": "Telepeage Services", "street": "Rue de la Paix", "building_number": "12",
            "postal_code": "75002", "town": "Paris", "country": "FR",
            "creditor_identifier": "fr72 zzz 123456", "iban": "FR76 3000 6000 0112 3456 7890 189",
            "bic": "", "prenotification_days": "14"}


def test_an_admin_sets_the_creditor_and_sees_each_error_beside_its_field(admin_client):
    page = admin_client.get("/alpha/admin/sepa")
    assert page.status_code == 200 and fr("SEPA creditor") in text(page)
    wrong = admin_client.post("/alpha/admin/sepa", data={
        **CREDITOR, "creditor_identifier": "FR73ZZZ123456", "iban": "FR7630006000011234567890188"})
    assert wrong.status_code == 422
    shown = text(wrong)
    assert fr("The check digits of this creditor identifier are wrong: check it against your "
              "bank's letter.") in shown
    assert fr("This IBAN's check digits are wrong: a character was probably mistyped.") in shown
    assert 'value="Rue de la Paix"' in wrong.text  # nothing typed is lost
    assert db.session.scalar(select(SepaCreditor)) is None

    saved = admin_client.post("/alpha/admin/sepa", data=CREDITOR)
    assert saved.status_code == 302
    creditor = db.session.scalar(select(SepaCreditor))
    assert creditor.creditor_identifier == "FR72ZZZ123456"
    assert creditor.iban == "FR7630006000011234567890189" and creditor.bic == "AGRIFRPPXXX"


def test_an_admin_creates_and_publishes_an_offer(admin_client):
    create_field({"entity": "accounts", "key": "plaque", "label_fr": "Immatriculation",
                  "label_en": "Licence plate", "type": "text"})
    db.session.commit()
    listing = admin_client.get("/alpha/admin/offers")
    assert fr("No offer yet.") in text(listing)
    assert fr("Enter the SEPA creditor settings before publishing an offer.") in text(listing)
    form = admin_client.get("/alpha/admin/offers/new")
    assert "{{ mandate.reference }}" in text(form)  # a contract to start from
    assert fr("Immatriculation") in text(form)
    data = {"name": "Badge mensuel", "code": "badge-mensuel", "price": "2,50",
            "recurrence": "monthly", "description": "Le badge pour toutes les autoroutes",
            "contract_template": "{{ customer.name }} : {{ offer.name }}",
            "collected_fields": ["plaque"], "fulfilment_sku": "BADGE-1",
            "fulfilment_quantity": "1", "is_published": "y"}
    refused = admin_client.post("/alpha/admin/offers/new", data=data)
    assert refused.status_code == 422
    assert fr("Enter the SEPA creditor settings before publishing an offer: customers give a "
              "direct-debit mandate to them.") in text(refused)
    admin_client.post("/alpha/admin/sepa", data=CREDITOR)
    saved = admin_client.post("/alpha/admin/offers/new", data=data)
    assert saved.status_code == 302, text(saved)
    offer = db.session.scalar(select(Offer))
    assert str(offer.price) == "2.50" and offer.collected_fields == ["plaque"]
    assert offer.is_published and offer.fulfilment_sku == "BADGE-1"
    listing = text(admin_client.get("/alpha/admin/offers"))
    assert "Badge mensuel" in listing and fr("Published") in listing

    edit = admin_client.get(f"/alpha/admin/offers/{offer.id}")
    assert edit.status_code == 200 and 'value="2,50"' in edit.text
    bad = admin_client.post(f"/alpha/admin/offers/{offer.id}", data={
        **data, "contract_template": "{{ client.nom }}"})
    assert bad.status_code == 422 and "{{ client.nom }}" in text(bad)
    deleted = admin_client.post(f"/alpha/admin/offers/{offer.id}/delete")
    assert deleted.status_code == 302
    assert db.session.scalar(select(Offer)) is None


def test_only_admins_reach_the_online_channel_settings(sales_client):
    for url in ("/alpha/admin/offers", "/alpha/admin/offers/new", "/alpha/admin/sepa"):
        assert sales_client.get(url).status_code == 403
