"""/api/v1/offers and /api/v1/sepa-settings: admin tokens set the creditor and the offers;
every error at once, by field; nothing of another tenant's is seen or touched."""
from __future__ import annotations

from app.extensions import db
from app.models import AuditEvent, Offer
from app.services.custom_field_defs import create_field
from app.services.tokens import create_token
from app.tenancy import SYSTEM, tenant_context
from tests.api.conftest import bearer, problem
from tests.backoffice.conftest import fr

CREDITOR = {"name": "Télépéage Services", "street": "Rue de la Paix", "building_number": "12",
            "postal_code": "75002", "town": "Paris", "country": "FR",
            "creditor_identifier": "FR72ZZZ123456", "iban": "FR7630006000011234567890189"}
OFFER = {"code": "badge-mensuel", "name": "Badge mensuel", "price": "2.50",
         "recurrence": "monthly",
         "contract_template": "{{ customer.name }} souscrit à {{ offer.name }}, mandat "
                              "{{ mandate.reference }}."}


def _admin(app, make_token):
    return bearer(app, make_token("read,write,admin")[1])


def test_the_creditor_is_set_with_its_bic_found_from_the_iban(app, make_token):
    client = _admin(app, make_token)
    problem(client.get("/api/v1/sepa-settings"), 404)
    set_ = client.put("/api/v1/sepa-settings", json={**CREDITOR, "name": "Telepeage Services"})
    assert set_.status_code == 200, set_.data
    body = set_.get_json()
    assert body["bic"] == "AGRIFRPPXXX" and body["prenotification_days"] == 14
    assert client.get("/api/v1/sepa-settings").get_json()["creditor_identifier"] == \
        "FR72ZZZ123456"
    changed = client.put("/api/v1/sepa-settings", json={
        **CREDITOR, "name": "Telepeage SA", "prenotification_days": 5})
    assert changed.get_json()["name"] == "Telepeage SA"
    assert db.session.query(AuditEvent).filter_by(entity="sepa_creditors").count() == 2


def test_every_creditor_error_at_once(app, make_token):
    client = _admin(app, make_token)
    body = problem(client.put("/api/v1/sepa-settings", json={
        **CREDITOR, "creditor_identifier": "FR73ZZZ123456", "iban": "FR7630006000011234567890188",
        "country": "US", "prenotification_days": 0}), 422)
    assert set(body["errors"]) >= {"creditor_identifier", "iban", "country",
                                   "prenotification_days", "name"}  # é: not SEPA characters


def test_an_offer_is_created_published_changed_and_deleted(app, make_token):
    client = _admin(app, make_token)
    create_field({"entity": "accounts", "key": "plaque", "label_fr": "Immatriculation",
                  "label_en": "Licence plate", "type": "text"})
    db.session.commit()
    refused = problem(client.post("/api/v1/offers", json={**OFFER, "is_published": True}), 422)
    assert "is_published" in refused["errors"]  # no creditor yet
    client.put("/api/v1/sepa-settings", json={**CREDITOR, "name": "Telepeage"})
    created = client.post("/api/v1/offers", json={**OFFER, "collected_fields": ["plaque"],
                                                  "is_published": True})
    assert created.status_code == 201, created.data
    offer = created.get_json()
    assert offer["price"] == "2.50" and offer["currency"] == "EUR"
    assert offer["collected_fields"] == ["plaque"] and offer["is_published"] is True
    url = created.headers["Location"]
    assert client.get(url).get_json()["code"] == "badge-mensuel"

    current = client.get(url)
    changed = client.patch(url, json={"price": "3"}, headers={"If-Match": current.headers["ETag"]})
    assert changed.status_code == 200, changed.data
    assert changed.get_json()["price"] == "3.00"
    listed = client.get("/api/v1/offers").get_json()
    assert [o["code"] for o in listed] == ["badge-mensuel"]
    current = client.get(url)
    assert client.delete(url, headers={"If-Match": current.headers["ETag"]}).status_code == 204
    assert db.session.query(Offer).count() == 0


def test_every_offer_error_at_once(app, make_token):
    client = _admin(app, make_token)
    body = problem(client.post("/api/v1/offers", json={
        **OFFER, "code": "Badge Mensuel!", "price": "-1", "currency": "USD",
        "contract_template": "{{ customer.name }} {{ customer.iban }}",
        "collected_fields": ["inconnu"], "fulfilment_quantity": 0}), 422)
    assert set(body["errors"]) == {"code", "price", "currency", "contract_template",
                                   "collected_fields", "fulfilment_quantity"}
    assert "{{ customer.iban }}" in body["errors"]["contract_template"][0]
    client.post("/api/v1/offers", json=OFFER)
    again = problem(client.post("/api/v1/offers", json=OFFER), 422)
    assert again["errors"]["code"] == [fr("Another offer already has this code.")]


def test_offers_need_an_admin_token_of_their_tenant(app, make_token, other_tenant):
    admin = _admin(app, make_token)
    offer_url = admin.post("/api/v1/offers", json=OFFER).headers["Location"]
    reader = bearer(app, make_token("read,write,import,export")[1])
    problem(reader.get("/api/v1/offers"), 403)
    problem(reader.put("/api/v1/sepa-settings", json=CREDITOR), 403)
    with tenant_context(other_tenant.id, SYSTEM):
        _token, secret = create_token("Beta admin", "read,admin")
        db.session.commit()
    other = bearer(app, secret)
    assert other.get("/api/v1/offers").get_json() == []
    problem(other.get(offer_url), 404)
    problem(other.get("/api/v1/sepa-settings"), 404)
