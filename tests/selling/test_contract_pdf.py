"""The contract a customer signs online: the offer's text with its merge fields filled, the
SEPA mandate with its mandatory wording (creditor, identifier, UMR, 8 weeks, 13 months), in
French and in English."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from pypdf import PdfReader

from app.documents.subscription import MandateTerms, Subscriber, merge, subscription_contract
from app.extensions import db
from app.models import Tenant
from app.services.offers import create_offer, set_creditor
from tests.selling.test_offers_api import CREDITOR

HELENE = Subscriber(name="Hélène Dupré", street="Avenue des Châtaigniers", building_number="4",
                    postal_code="69003", town="Lyon", country="FR",
                    email="helene@example.com", phone="+33 6 12 34 56 78")


def _text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_contract_fills_its_merge_fields_and_carries_the_mandate(tenant):
    creditor = set_creditor({**CREDITOR, "name": "Telepeage Services"})
    offer = create_offer({
        "code": "badge", "name": "Badge mensuel", "price": Decimal("2.50"),
        "recurrence": "monthly",
        "contract_template": "Entre {{ creditor.name }} et {{ customer.name }}, "
                             "{{ customer.address }}.\n\n{{ customer.name }} souscrit à "
                             "{{ offer.name }} pour {{ offer.price }} ({{ offer.recurrence }}) "
                             "à partir du {{ contract.start }}, mandat {{ mandate.reference }}."})
    db.session.commit()
    terms = MandateTerms("M20261205-7QK3H2ZD9A", "FR7630006000011234567890189", "AGRIFRPPXXX",
                         date(2026, 12, 5))
    pdf = subscription_contract(offer, HELENE, terms, creditor, db.session.get(Tenant, tenant.id),
                                starts_on=date(2026, 12, 6), language="fr")
    text = " ".join(_text(pdf.content).split())
    assert "Hélène Dupré souscrit à Badge mensuel pour 2,50" in text
    assert "(mensuel) à partir du 06/12/2026, mandat M20261205-7QK3H2ZD9A" in text
    assert "4 Avenue des Châtaigniers, 69003 Lyon, FR" in text
    assert "FR72ZZZ123456" in text and "FR7630006000011234567890189" in text
    assert "8 semaines" in text and "13 mois" in text
    assert "Telepeage Services" in text and "Contrat d’abonnement" in text
    assert pdf.filename.endswith(".pdf") and pdf.content.startswith(b"%PDF")

    under_review = MandateTerms(terms.reference, terms.iban, terms.bic, None)
    english = subscription_contract(offer, HELENE, under_review, creditor,
                                    db.session.get(Tenant, tenant.id),
                                    starts_on=date(2026, 12, 6), language="en")
    words = " ".join(_text(english.content).split())
    assert "within 8 weeks" in words and "13 months" in words and "(monthly)" in words


def test_merge_leaves_unknown_fields_as_they_are():
    assert merge("{{ customer.name }} / {{ other }}", {"customer.name": "A"}) == "A / {{ other }}"
