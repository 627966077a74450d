"""GET /api/v1/<entity>/<id>/pdf: the printed document, for the records the token may see."""
from __future__ import annotations

import pytest

from tests.api.conftest import bearer, problem
from tests.pdf_support import pdf_text

KINDS = ("quotes", "orders", "invoices", "deliveries", "contracts")


@pytest.fixture
def factories(make_quote, make_order, make_invoice, make_delivery, make_contract):
    return {"quotes": make_quote, "orders": make_order, "invoices": make_invoice,
            "deliveries": make_delivery, "contracts": make_contract}


@pytest.mark.parametrize("kind", KINDS)
def test_each_document_is_served_as_a_pdf(api_client, factories, kind):
    record = factories[kind]()
    response = api_client.get(f"/api/v1/{kind}/{record.id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    content = pdf_text(response.data)
    assert record.number in content and record.account.name in content


def test_the_language_is_asked_or_taken_from_accept_language(api_client, make_invoice):
    invoice = make_invoice()
    assert "1 481,47 €" in pdf_text(api_client.get(
        f"/api/v1/invoices/{invoice.id}/pdf?lang=fr").data)
    assert "€1,481.47" in pdf_text(api_client.get(
        f"/api/v1/invoices/{invoice.id}/pdf?lang=en").data)
    english = api_client.get(f"/api/v1/invoices/{invoice.id}/pdf",
                             headers={"Accept-Language": "en"})
    assert "Invoice" in pdf_text(english.data)
    body = problem(api_client.get(f"/api/v1/invoices/{invoice.id}/pdf?lang=de"), 422)
    assert body["errors"]["lang"] == ["Choisissez fr ou en."]


def test_a_partner_token_gets_its_own_documents_only(app, make_token, make_partner,
                                                     make_account, make_invoice):
    partner, other = make_partner(), make_partner()
    mine = make_invoice(account=make_account(partner=partner.id).id)
    theirs = make_invoice(account=make_account(partner=other.id).id)
    client = bearer(app, make_token(scopes="read", partner_id=partner.id)[1])
    assert client.get(f"/api/v1/invoices/{mine.id}/pdf").status_code == 200
    problem(client.get(f"/api/v1/invoices/{theirs.id}/pdf"), 404)
    # Its partner's invoice to another partner's customer: the customer is not named.
    stranger = make_account(name="Client Lointain", partner=other.id)
    shared = make_invoice(account=stranger.id, partner=partner.id)
    content = pdf_text(client.get(f"/api/v1/invoices/{shared.id}/pdf").data)
    assert shared.number in content and "Client Lointain" not in content


def test_another_tenant_and_kinds_without_document_answer_404(api_client, other_api_client,
                                                               make_invoice, make_account):
    invoice = make_invoice()
    problem(other_api_client.get(f"/api/v1/invoices/{invoice.id}/pdf"), 404)
    account = make_account()
    assert api_client.get(f"/api/v1/accounts/{account.id}/pdf").status_code == 404


def test_the_pdf_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for kind in KINDS:
        operation = spec["paths"][f"/api/v1/{kind}/{{record_id}}/pdf"]["get"]
        assert "application/pdf" in operation["responses"]["200"]["content"]
        assert [p["name"] for p in operation["parameters"] if p["in"] == "query"] == ["lang"]
    assert "/api/v1/accounts/{record_id}/pdf" not in spec["paths"]
