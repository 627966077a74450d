"""Printed documents in the back office: each kind's PDF, the tenant's legal mentions and logo,
both languages, long invoices over several pages."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest

from app.entities import ENTITIES
from app.extensions import db
from app.models import AuditEvent, Tenant
from app.services.records import create_record
from tests.backoffice.conftest import fr, text
from tests.backoffice.test_extranet_look import PNG
from tests.pdf_support import pdf_image_count, pdf_pages, pdf_text

KINDS = ("quotes", "orders", "invoices", "deliveries", "contracts")
LEGAL = {"legal_name": "Alpha Stores SAS", "legal_address": "12 rue de la Paix\n75002 Paris",
         "siren": "732 829 320", "vat_number": "fr 44 732829320",
         "payment_terms": "30 jours fin de mois", "late_penalty_rate": "12,5"}


def _pdf(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "application/pdf"
    return response


@pytest.mark.parametrize("kind", KINDS)
def test_each_document_downloads_as_a_pdf_naming_its_number_and_customer(
        admin_client, make_record, kind):
    record = make_record(kind)
    response = _pdf(admin_client, f"/alpha/{kind}/{record.id}/pdf")
    assert response.headers["Content-Disposition"].startswith("inline;")
    content = pdf_text(response.data)
    assert record.number in content and record.account.name in content
    page = text(admin_client.get(f"/alpha/{kind}/{record.id}"))
    assert fr("Open the PDF") in page and fr("Download the PDF") in page
    saved = admin_client.get(f"/alpha/{kind}/{record.id}/pdf?download=1")
    assert saved.headers["Content-Disposition"].startswith("attachment;")
    assert record.number.lower() in saved.headers["Content-Disposition"]


def test_records_without_a_document_have_no_pdf(admin_client, make_record):
    account = make_record("accounts")
    assert admin_client.get(f"/alpha/accounts/{account.id}/pdf").status_code == 404
    assert admin_client.get("/alpha/invoices/424242/pdf").status_code == 404


def test_an_invoice_in_french_carries_its_amounts_and_the_legal_mentions(
        admin_client, make_invoice):
    assert admin_client.post("/alpha/admin/documents", data=LEGAL).status_code == 302
    invoice = make_invoice()
    content = pdf_text(_pdf(admin_client, f"/alpha/invoices/{invoice.id}/pdf?lang=fr").data)
    assert "Facture" in content and invoice.number in content
    assert "1 234,56 €" in content and "1 481,47 €" in content  # a line; the total incl. tax
    assert "Alpha Stores SAS" in content and "75002 Paris" in content
    assert "SIREN : 732829320" in content and "FR44732829320" in content
    assert "30 jours fin de mois" in content
    assert "pénalités de retard" in content and "12,5 % par an" in content
    assert "indemnité forfaitaire de 40 €" in content
    assert "Pas d'escompte pour paiement anticipé" in content


def test_the_same_invoice_in_english(admin_client, make_invoice):
    admin_client.post("/alpha/admin/documents", data=LEGAL)
    invoice = make_invoice()
    content = pdf_text(_pdf(admin_client, f"/alpha/invoices/{invoice.id}/pdf?lang=en").data)
    assert "Invoice" in content and "€1,234.56" in content and "€1,481.47" in content
    assert "late-payment penalties" in content and "12.5% a year" in content
    assert "fixed recovery indemnity of €40" in content
    assert "No discount for early payment" in content


def test_without_a_rate_an_invoice_states_the_legal_minimum_and_no_indemnity_for_a_person(
        admin_client, make_account, make_invoice):
    person = make_account(name="Famille Durand", kind="person")
    invoice = make_invoice(account=person.id)
    content = pdf_text(_pdf(admin_client, f"/alpha/invoices/{invoice.id}/pdf?lang=fr").data)
    assert "trois fois le taux d'intérêt légal" in content
    assert "indemnité forfaitaire" not in content


def test_a_long_invoice_runs_over_pages_with_its_header_and_page_numbers(
        admin_client, make_invoice):
    lines = [{"label": f"Lame de volet n°{i}", "quantity": Decimal("1"),
              "unit_price": Decimal("10"), "tax_rate": Decimal("20")} for i in range(200)]
    invoice = make_invoice(lines=lines)
    pages = pdf_pages(_pdf(admin_client, f"/alpha/invoices/{invoice.id}/pdf?lang=fr").data)
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} / {len(pages)}" in page
        assert "Prix unitaire HT" in page  # the lines' header, repeated
    assert "Lame de volet n°0" in pages[0] and "Lame de volet n°199" in pages[-1]
    assert "2 400,00 €" in pages[-1]  # the totals come after the last line


def test_the_tenant_logo_is_printed(admin_client, make_invoice):
    invoice = make_invoice()
    plain = _pdf(admin_client, f"/alpha/invoices/{invoice.id}/pdf").data
    assert pdf_image_count(plain) == 0
    admin_client.post("/alpha/admin/extranet", data={"portal_color": "#7a1f5c", "logo": (
        io.BytesIO(PNG), "logo.png")}, content_type="multipart/form-data")
    assert pdf_image_count(_pdf(admin_client, f"/alpha/invoices/{invoice.id}/pdf").data) == 1


def test_an_admin_sets_the_legal_mentions(admin_client, tenant):
    assert fr("Legal name") in text(admin_client.get("/alpha/admin/documents"))
    assert admin_client.post("/alpha/admin/documents", data=LEGAL).status_code == 302
    assert 'value="12,5"' in admin_client.get("/alpha/admin/documents").data.decode()
    db.session.expire_all()
    saved = db.session.get(Tenant, tenant.id)
    assert (saved.siren, saved.vat_number) == ("732829320", "FR44732829320")
    assert saved.late_penalty_rate == Decimal("12.50")
    event = db.session.query(AuditEvent).filter_by(entity="tenants").one()
    assert event.after["siren"] == "732829320"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("siren", "123456789", "A SIREN number has 9 digits (and a valid check digit)."),
    ("siren", "12345", "A SIREN number has 9 digits (and a valid check digit)."),
    ("vat_number", "TVA?", "Enter a VAT number such as FR12345678901."),
    ("late_penalty_rate", "douze", "Enter a rate between 0 and 100 (percent a year)."),
    ("late_penalty_rate", "150", "Enter a rate between 0 and 100 (percent a year)."),
])
def test_wrong_legal_mentions_are_refused_with_a_message(admin_client, tenant, field, value,
                                                         message):
    answer = admin_client.post("/alpha/admin/documents", data={**LEGAL, field: value})
    assert answer.status_code == 422 and fr(message) in text(answer)
    db.session.expire_all()
    assert db.session.get(Tenant, tenant.id).siren is None


def test_a_file_that_only_starts_like_an_image_is_no_logo(admin_client, tenant):
    fake = PNG[:16] + b"not an image at all"
    answer = admin_client.post("/alpha/admin/extranet", data={
        "portal_color": "#7a1f5c", "logo": (io.BytesIO(fake), "logo.png")},
        content_type="multipart/form-data")
    assert answer.status_code == 422
    db.session.expire_all()
    assert db.session.get(Tenant, tenant.id).logo_sha256 is None


def test_sales_download_documents_but_not_another_tenants(sales_client, make_invoice,
                                                          other_tenant, in_tenant):
    invoice = make_invoice()
    assert _pdf(sales_client, f"/alpha/invoices/{invoice.id}/pdf")

    def their_invoice():
        account = create_record(ENTITIES["accounts"], {"name": "Client B"})
        return create_record(ENTITIES["invoices"], {"number": "B1", "account": account.id})

    theirs = in_tenant(other_tenant, their_invoice)
    assert sales_client.get(f"/alpha/invoices/{theirs.id}/pdf").status_code == 404
    assert sales_client.get("/alpha/admin/documents").status_code == 403


def test_a_draft_or_cancelled_document_says_so(admin_client, make_invoice, make_quote):
    draft = make_quote(status="draft")
    assert "BROUILLON" in pdf_text(_pdf(admin_client, f"/alpha/quotes/{draft.id}/pdf").data)
    cancelled = make_invoice(status="cancelled")
    content = pdf_text(_pdf(admin_client, f"/alpha/invoices/{cancelled.id}/pdf?lang=en").data)
    assert "CANCELLED" in content
    issued = make_invoice()
    assert "BROUILLON" not in pdf_text(_pdf(admin_client, f"/alpha/invoices/{issued.id}/pdf").data)
