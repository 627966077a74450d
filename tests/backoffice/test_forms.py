"""Create, edit and delete records through the forms; server-side validation; audit trail."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.entities import ENTITIES
from app.extensions import db
from app.models import Account, Contact, Delivery, Invoice, InvoiceLine, Partner, Quote
from app.services.custom_field_defs import update_field
from app.services.records import create_record
from tests.backoffice.conftest import audit_events, count_rows, fr, text

# The smallest valid form of each entity ({account} is a customer's id).
MINIMAL = {
    "partners": {"name": "Agence Sud"},
    "accounts": {"name": "Stores Azur", "kind": "company", "country": "fr"},
    "contacts": {"account": "#{account}", "last_name": "Durand", "first_name": "Léa"},
    "deals": {"title": "Véranda Dupont", "account": "#{account}", "stage": "proposal",
              "amount": "12 500,00", "expected_close_on": "2026-12-15"},
    "quotes": {"number": "D-NEW-1", "account": "#{account}", "status": "draft",
               "issued_on": "2026-10-01", "valid_until": "2026-10-31"},
    "orders": {"number": "C-NEW-1", "account": "#{account}", "status": "confirmed",
               "ordered_on": "2026-10-02"},
    "contracts": {"number": "CT-NEW-1", "title": "Entretien", "account": "#{account}",
                  "status": "active", "starts_on": "2026-01-01", "recurring_amount": "49,90"},
    "deliveries": {"number": "BL-NEW-1", "account": "#{account}", "status": "planned",
                   "carrier": "Geodis"},
    "invoices": {"number": "F-NEW-1", "account": "#{account}", "status": "issued",
                 "issued_on": "2026-10-10", "due_on": "2026-11-10"},
    "activities": {"kind": "task", "subject": "Relancer", "account": "#{account}",
                   "due_at": "2026-12-10T09:30", "is_staff_only": "y"},
}


def _form(entity: str, account_id: int, **over) -> dict:
    data = {k: v.format(account=account_id) for k, v in MINIMAL[entity].items()}
    data.update(over)
    return data


@pytest.mark.parametrize("entity", list(MINIMAL))
def test_create_edit_and_delete_every_entity(admin_client, make_account, entity):
    account = make_account(name="Client Forme")
    model = ENTITIES[entity].model
    before = count_rows(model)
    assert admin_client.get(f"/alpha/{entity}/new").status_code == 200
    response = admin_client.post(f"/alpha/{entity}/new", data=_form(entity, account.id))
    assert response.status_code == 302, text(response)[-600:]
    assert count_rows(model) == before + 1
    record_id = int(re.search(r"/(\d+)(/360)?$", response.location).group(1))
    page = text(admin_client.get(response.location, follow_redirects=True))
    assert fr("%(entity)s created.", entity=str(ENTITIES[entity].singular)) in page
    assert admin_client.get(f"/alpha/{entity}/{record_id}/edit").status_code == 200
    assert [e.action for e in audit_events(entity, record_id)] == ["create"]
    if entity != "accounts":
        response = admin_client.post(f"/alpha/{entity}/{record_id}/delete")
        assert response.status_code == 302
        assert count_rows(model) == before
        assert audit_events(entity, record_id)[-1].action == "delete"
        assert admin_client.get(f"/alpha/{entity}/{record_id}").status_code == 404


def test_new_invoice_with_lines_computes_totals(admin_client, make_account):
    account = make_account(name="Client Lignes")
    response = admin_client.post("/alpha/invoices/new", data=_form(
        "invoices", account.id,
        **{"lines-0-sku": "SB-4", "lines-0-label": "Store banne 4 m", "lines-0-quantity": "2",
           "lines-0-unit_price": "1 234,56", "lines-0-tax_rate": "20",
           "lines-1-label": "Pose", "lines-1-quantity": "1,5", "lines-1-unit_price": "80",
           "lines-1-tax_rate": "10", "lines-2-label": "", "lines-2-quantity": "3"}))
    assert response.status_code == 302
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == "F-NEW-1"))
    assert [line.label for line in invoice.lines] == ["Store banne 4 m", "Pose"]
    assert invoice.total_excl_tax == Decimal("2589.12")
    assert invoice.tax_total == Decimal("505.82")
    assert invoice.total == Decimal("3094.94")
    assert invoice.partner_id == account.partner_id
    page = text(admin_client.get(response.location))
    assert "Store banne 4 m" in page and "3 094,94 €" in page and "1 234,56 €" in page


def test_document_partner_defaults_to_the_customers(admin_client, make_account, make_partner):
    partner = make_partner(name="Agence Ouest")
    account = make_account(partner=partner.id)
    admin_client.post("/alpha/quotes/new", data=_form("quotes", account.id))
    quote = db.session.scalar(select(Quote).where(Quote.number == "D-NEW-1"))
    assert quote.partner_id == partner.id


def test_invoice_with_a_bad_line_writes_nothing(admin_client, make_account):
    account = make_account()
    events = len(audit_events("invoices"))
    response = admin_client.post("/alpha/invoices/new", data=_form(
        "invoices", account.id,
        **{"lines-0-label": "Store", "lines-0-quantity": "1", "lines-0-unit_price": "100",
           "lines-1-label": "Pose", "lines-1-quantity": "beaucoup", "lines-1-unit_price": "50"}))
    assert response.status_code == 422
    assert count_rows(Invoice) == 0 and count_rows(InvoiceLine) == 0
    assert len(audit_events("invoices")) == events
    assert "beaucoup" in response.data.decode()  # the user's input is kept for correction


def test_invoice_with_an_impossible_tax_rate_writes_nothing(admin_client, make_account):
    account = make_account()
    response = admin_client.post("/alpha/invoices/new", data=_form(
        "invoices", account.id,
        **{"lines-0-label": "Store", "lines-0-quantity": "1", "lines-0-unit_price": "100",
           "lines-0-tax_rate": "150"}))
    assert response.status_code in (200, 422)
    assert fr("Enter a tax rate between 0 and 100.") in text(response)
    assert count_rows(Invoice) == 0 and count_rows(InvoiceLine) == 0


def test_lines_whose_total_does_not_fit_are_refused(admin_client, make_account):
    account = make_account()
    response = admin_client.post("/alpha/invoices/new", data=_form(
        "invoices", account.id,
        **{"lines-0-label": "Lot", "lines-0-quantity": "999999", "lines-0-unit_price":
           "999999999", "lines-0-tax_rate": "20"}))
    assert response.status_code in (200, 422)
    assert fr("The total is too large.") in text(response)
    assert count_rows(Invoice) == 0


def test_editing_lines_replaces_them_and_is_audited(admin_client, make_invoice):
    invoice = make_invoice()
    data = {"number": invoice.number, "account": f"#{invoice.account_id}", "status": "paid",
            "issued_on": "2026-10-10", "due_on": "2026-11-10", "currency": "EUR",
            "amount_paid": "120,00",
            "lines-0-label": "Volet roulant", "lines-0-quantity": "1",
            "lines-0-unit_price": "100", "lines-0-tax_rate": "20"}
    response = admin_client.post(f"/alpha/invoices/{invoice.id}/edit", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    assert [line.label for line in invoice.lines] == ["Volet roulant"]
    assert invoice.total == Decimal("120.00") and invoice.status == "paid"
    update = audit_events("invoices", invoice.id)[-1]
    assert update.action == "update"
    assert update.before["status"] == "issued" and update.after["status"] == "paid"
    assert update.before["lines"][0]["label"] == "Store banne 4 m"
    assert update.after["lines"][0]["label"] == "Volet roulant"


def test_record_page_shows_who_changed_what(admin_client, admin_user, make_delivery):
    delivery = make_delivery(carrier="Geodis")
    form = admin_client.get(f"/alpha/deliveries/{delivery.id}/edit").data.decode()
    assert 'value="Geodis"' in form
    response = admin_client.post(f"/alpha/deliveries/{delivery.id}/edit", data={
        "number": delivery.number, "account": f"#{delivery.account_id}", "status": "shipped",
        "expected_on": "2026-11-30", "carrier": "DHL Express"})
    assert response.status_code == 302
    page = admin_client.get(f"/alpha/deliveries/{delivery.id}").data.decode()
    history = text(type("R", (), {"data": page[page.index('id="audit"'):].encode()})())
    assert admin_user.email in history
    assert "Geodis" in history and "DHL Express" in history
    event = audit_events("deliveries", delivery.id)[-1]
    assert event.actor_kind == "user" and event.actor_id == admin_user.id
    assert event.before == {"carrier": "Geodis"} and event.after == {"carrier": "DHL Express"}


def test_duplicate_number_on_edit_is_a_message(admin_client, make_invoice):
    first, second = make_invoice(), make_invoice()
    response = admin_client.post(f"/alpha/invoices/{second.id}/edit", data={
        "number": first.number, "account": f"#{second.account_id}", "status": "issued",
        "currency": "EUR"})
    assert response.status_code == 422, text(response)
    assert fr("This number is already used.") in text(response)
    db.session.expire_all()
    assert second.number != first.number


def test_duplicate_number_on_create_is_a_message(admin_client, make_invoice):
    existing = make_invoice()
    response = admin_client.post("/alpha/invoices/new", data=_form(
        "invoices", existing.account_id, number=existing.number))
    assert response.status_code == 422
    assert fr("This number is already used.") in text(response)
    assert count_rows(Invoice) == 1


@pytest.mark.parametrize("language", [None, "de"])
def test_a_duplicate_is_a_message_whatever_the_browser_language(admin_client, make_invoice,
                                                                 language):
    admin_client.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)
    if language:
        admin_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    first, second = make_invoice(external_ref="I1"), make_invoice()
    created = admin_client.post("/alpha/invoices/new", data=_form(
        "invoices", first.account_id, number=first.number))
    assert created.status_code == 422
    assert fr("This number is already used.") in text(created)
    edited = admin_client.post(f"/alpha/invoices/{second.id}/edit", data={
        "number": second.number, "external_ref": "I1", "account": f"#{second.account_id}",
        "status": "issued", "currency": "EUR"})
    assert edited.status_code == 422
    assert fr("This reference is already used.") in text(edited)


@pytest.mark.parametrize("field, value, message", [
    ("name", "x" * 201, None),
    ("kind", "castle", None),
    ("country", "ZZ", "Enter a country code such as FR, BE or DE."),
    ("email", "pas-un-email", "Enter a valid e-mail address."),
    ("owner", "#999999", "Unknown record."),
    ("owner", "personne", "Unknown record: choose one from the list."),
    ("partner", "#2147483648", "Unknown record."),
    ("name", "", None),
])
def test_bad_account_input_is_refused(admin_client, field, value, message):
    data = {"name": "Stores Azur", "kind": "company", "country": "FR", field: value}
    response = admin_client.post("/alpha/accounts/new", data=data)
    assert response.status_code == 422
    assert "is-invalid" in response.data.decode()
    if message:
        assert fr(message) in text(response)
    assert count_rows(Account) == 0


@pytest.mark.parametrize("over", [
    {"issued_on": "31/02/2026"}, {"issued_on": "demain"}, {"due_on": "2026-13-01"},
    {"issued_on": "0001-01-01"}, {"status": "lost"}, {"total": "douze"},
    {"amount_paid": "1e5"}, {"currency": "EURO"}, {"number": "N" * 51},
    {"due_on": "2026-09-01"},  # before the issue date
    {"account": ""}, {"account": "#0"}, {"order": "#123456789"}, {"external_ref": "R" * 101},
])
def test_bad_invoice_input_is_refused(admin_client, make_account, over):
    account = make_account()
    response = admin_client.post("/alpha/invoices/new", data=_form("invoices", account.id,
                                                                   **over))
    assert response.status_code == 422, over
    assert count_rows(Invoice) == 0


def test_contact_of_an_invisible_account_is_refused(admin_client, other_tenant, in_tenant):
    foreign = in_tenant(other_tenant, create_record, ENTITIES["accounts"],
                        {"name": "Beta client", "kind": "company", "country": "FR"})
    response = admin_client.post("/alpha/contacts/new", data={
        "account": f"#{foreign.id}", "last_name": "Intrus"})
    assert response.status_code == 422
    assert fr("Unknown record.") in text(response)
    assert count_rows(Contact) == 0


def test_ref_field_accepts_an_external_reference_or_exact_name(admin_client, make_account):
    account = make_account(name="Stores Lumière", external_ref="CLI-042")
    for typed in ("CLI-042", "Stores Lumière"):
        response = admin_client.post("/alpha/contacts/new", data={
            "account": typed, "last_name": f"Par {typed}"})
        assert response.status_code == 302, typed
    assert count_rows(Contact, Contact.account_id == account.id) == 2


def test_new_form_is_prefilled_from_the_360(admin_client, make_account):
    account = make_account(name="Client Prérempli")
    page = admin_client.get(f"/alpha/invoices/new?account={account.id}").data.decode()
    assert f"Client Prérempli · #{account.id}" in page
    for junk in ("abc", "-1", "99999999999999999999"):
        assert admin_client.get(f"/alpha/invoices/new?account={junk}").status_code == 200


def test_a_custom_number_past_what_lists_filter_is_refused(admin_client, make_field):
    make_field("accounts", "pieces", type="integer")
    make_field("accounts", "surface", type="decimal")
    form = {"name": "Stores Azur", "kind": "company", "country": "FR"}
    response = admin_client.post("/alpha/accounts/new", data={
        **form, "cf_pieces": "9" * 19, "cf_surface": "0," + "0" * 20 + "1"})
    assert response.status_code == 422
    assert fr("The number is too large.") in text(response)
    assert fr("At most %(n)d digits after the decimal point.", n=20) in text(response)
    assert count_rows(Account) == 0
    response = admin_client.post("/alpha/accounts/new", data={
        **form, "cf_pieces": "9" * 18, "cf_surface": "0," + "0" * 19 + "1"})
    assert response.status_code == 302, text(response)
    assert db.session.scalar(select(Account.custom)) == {
        "pieces": 10 ** 18 - 1, "surface": "0." + "0" * 19 + "1"}


def test_edit_keeps_what_the_form_does_not_show(admin_client, make_invoice, make_field):
    field = make_field("invoices", "ancien")
    invoice = make_invoice(custom={"ancien": "gardé"}, external_ref="ERP-1")
    update_field(field, {"is_active": False})
    db.session.commit()
    page = admin_client.get(f"/alpha/invoices/{invoice.id}/edit").data.decode()
    assert "cf_ancien" not in page
    response = admin_client.post(f"/alpha/invoices/{invoice.id}/edit", data={
        "number": invoice.number, "account": f"#{invoice.account_id}", "status": "paid",
        "external_ref": "ERP-1", "currency": "EUR"})
    assert response.status_code == 302, text(response)
    db.session.expire_all()
    assert invoice.custom == {"ancien": "gardé"}


def test_over_long_text_in_every_text_field_is_refused(admin_client, make_account):
    account = make_account()
    for field in ("first_name", "last_name", "email", "phone", "job_title"):
        response = admin_client.post("/alpha/contacts/new", data={
            "account": f"#{account.id}", "last_name": "Durand", field: "x" * 300})
        assert response.status_code == 422, field
    assert count_rows(Contact) == 0


def test_nul_bytes_are_refused_without_an_error(admin_client, make_account):
    account = make_account()
    response = admin_client.post("/alpha/contacts/new", data={
        "account": f"#{account.id}", "last_name": "Dur\x00and"})
    assert response.status_code == 400
    assert count_rows(Contact) == 0
    assert admin_client.get("/alpha/contacts/?q=a%00b").status_code == 400
    assert admin_client.get("/alpha/lookup/accounts?q=%00").status_code == 400


@pytest.mark.parametrize("path", [
    "/alpha/invoices/2147483648", "/alpha/invoices/99999999999/edit",
    "/alpha/accounts/3000000000/360", "/alpha/attachments/3000000000/download",
    "/alpha/admin/users/3000000000", "/alpha/admin/custom-fields/3000000000",
    "/alpha/invoices/0", "/alpha/invoices/abc", "/alpha/attachments/new",
])
def test_impossible_ids_are_404(admin_client, path):
    assert admin_client.get(path).status_code == 404


def test_deleting_a_customer_with_documents_is_refused(admin_client, make_invoice):
    invoice = make_invoice()
    response = admin_client.post(f"/alpha/accounts/{invoice.account_id}/delete",
                                 follow_redirects=True)
    assert response.status_code == 200
    assert count_rows(Account) == 1 and count_rows(Invoice) == 1


def test_deleting_a_customer_without_documents(admin_client, make_account):
    account = make_account()
    assert admin_client.post(f"/alpha/accounts/{account.id}/delete").status_code == 302
    assert count_rows(Account) == 0


def test_sales_can_create_and_edit(sales_client, make_account):
    account = make_account()
    assert sales_client.post("/alpha/deliveries/new", data=_form(
        "deliveries", account.id)).status_code == 302
    assert count_rows(Delivery) == 1


def test_lookup_suggests_visible_records(admin_client, make_account, make_partner, make_user):
    make_account(name="Stores Alpin")
    make_account(name="Volets Breton")
    items = admin_client.get("/alpha/lookup/accounts?q=alp").get_json()
    assert [item["label"].split(" · ")[0] for item in items] == ["Stores Alpin"]
    assert items[0]["label"].endswith(f"#{items[0]['id']}")
    assert admin_client.get("/alpha/lookup/widgets?q=a").status_code == 404
    make_user("agent", partner_id=make_partner().id)
    users = admin_client.get("/alpha/lookup/users").get_json()
    assert all("agent" not in item["label"] for item in users) and users


def test_lookup_of_users_is_not_for_agents(agent_client):
    assert agent_client.get("/alpha/lookup/users").status_code == 403


def test_attachments_cannot_be_created_by_form(admin_client):
    assert admin_client.get("/alpha/attachments/new").status_code == 404


def test_money_and_dates_round_trip_in_the_edit_form(admin_client, make_deal):
    deal = make_deal(amount=Decimal("12500.50"), expected_close_on=date(2026, 12, 15))
    page = admin_client.get(f"/alpha/deals/{deal.id}/edit").data.decode()
    assert 'value="2026-12-15"' in page
    assert re.search(r'name="amount"[^>]*value="12500[.,]50"', page) or \
        re.search(r'value="12500[.,]50"[^>]*name="amount"', page)
    assert count_rows(Partner) == 0 or True


def test_emptied_amounts_and_currency_fall_back_to_their_defaults(admin_client, make_invoice):
    invoice = make_invoice(amount_paid=Decimal("100"))
    response = admin_client.post(f"/alpha/invoices/{invoice.id}/edit", data={
        "number": invoice.number, "account": f"#{invoice.account_id}", "status": "issued",
        "issued_on": "2026-10-10", "amount_paid": "", "currency": "", "total": "",
        "lines-0-label": "Store banne 4 m", "lines-0-quantity": "1",
        "lines-0-unit_price": "1234,56", "lines-0-tax_rate": "20"})
    assert response.status_code == 302, text(response)
    db.session.expire_all()
    assert invoice.amount_paid == Decimal("0.00") and invoice.currency == "EUR"
    assert invoice.total == Decimal("1481.47")


@pytest.mark.parametrize("lines", [
    {"lines-abc-label": "Pose"}, {"lines-99999999999999999999-label": "Pose"},
    {f"lines-{i}-label": "Pose" for i in range(0, 1200, 2)},
    {"lines-0-label": "Pose", "lines-0-quantity": "1" * 400},
    {"lines-0-label": "Pose", "lines-0-tax_rate": "NaN"},
    {"lines-0-label": "Pose", "lines-0-quantity": "Infinity"},
    {"lines-0-label": "Pose", "lines-0-unit_price": "-999999999999"},
])
def test_odd_line_input_is_handled(admin_client, make_account, lines):
    account = make_account()
    response = admin_client.post("/alpha/invoices/new", data=_form("invoices", account.id,
                                                                   **lines))
    assert response.status_code in (200, 302, 422)
    if response.status_code != 302:  # refused with a message, and nothing half-written
        assert "alert-danger" in response.data.decode()
        assert count_rows(Invoice) == 0 and count_rows(InvoiceLine) == 0
