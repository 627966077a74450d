"""List pages of every entity: browse, search, filter, sort, page, custom-field filters."""
from __future__ import annotations

import base64
import json
import re
from datetime import date
from decimal import Decimal

import pytest

from app.entities import ENTITIES
from app.extensions import db
from tests.backoffice.conftest import count_statements, fr, result_count, shown_links, text

ALL = list(ENTITIES)


def _title(entity: str, record) -> str:
    return record.name if entity in ("partners", "accounts", "contacts") else \
        record.title if entity == "deals" else \
        record.subject if entity == "activities" else \
        record.file_name if entity == "attachments" else record.number


@pytest.mark.parametrize("entity", ALL)
def test_every_list_shows_its_records(admin_client, make_record, entity):
    record = make_record(entity)
    title = _title(entity, record)
    response = admin_client.get(f"/alpha/{entity}/")
    assert response.status_code == 200
    assert title in text(response)
    assert result_count(response) == "1"


@pytest.mark.parametrize("entity", ALL)
def test_every_detail_page_shows_its_record(sales_client, make_record, entity):
    record = make_record(entity)
    response = sales_client.get(f"/alpha/{entity}/{record.id}", follow_redirects=True)
    assert response.status_code == 200
    assert _title(entity, record) in text(response)


@pytest.mark.parametrize("entity", ALL)
def test_every_list_page_runs_a_fixed_number_of_queries(app, admin_client, make_record, entity):
    def statements_for_list() -> int:
        db.session.expunge_all()
        with count_statements(app) as statements:
            assert admin_client.get(f"/alpha/{entity}/").status_code == 200
        return len(statements)

    make_record(entity)
    one = statements_for_list()
    for _ in range(3):
        make_record(entity)
    assert statements_for_list() == one


def test_invoice_list_has_no_n_plus_one(app, admin_client, make_record):
    def statements_for_list() -> int:
        db.session.expunge_all()
        with count_statements(app) as statements:
            response = admin_client.get("/alpha/invoices/")
            assert response.status_code == 200
        return len(statements)

    for _ in range(5):
        make_record("invoices")
    five = statements_for_list()
    for _ in range(20):
        make_record("invoices")
    assert statements_for_list() == five


def test_search_finds_by_number_and_escapes_wildcards(admin_client, make_invoice):
    make_invoice(number="FA-2026-001")
    make_invoice(number="FA-2026-100")
    make_invoice(number="AV_50%")
    assert shown_links(admin_client.get("/alpha/invoices/?q=2026-00"), "invoices") == [
        "FA-2026-001"]
    assert shown_links(admin_client.get("/alpha/invoices/?q=50%25"), "invoices") == ["AV_50%"]
    assert shown_links(admin_client.get("/alpha/invoices/?q=_"), "invoices") == ["AV_50%"]
    empty = admin_client.get("/alpha/invoices/?q=zzz")
    assert shown_links(empty, "invoices") == []
    assert fr("Nothing matches these filters.") in text(empty)


def test_search_accounts_by_city_and_postal_code(admin_client, make_account):
    make_account(name="Stores Dupont", city="Annecy", postal_code="74000")
    make_account(name="Volets Martin", city="Brest", postal_code="29200")
    assert shown_links(admin_client.get("/alpha/accounts/?q=annecy"), "accounts") == [
        "Stores Dupont"]
    assert shown_links(admin_client.get("/alpha/accounts/?q=292"), "accounts") == [
        "Volets Martin"]


def test_filters_by_status_dates_amounts_and_customer(admin_client, make_invoice, make_account):
    client_a = make_account(name="Client A")
    make_invoice(number="F1", status="paid", issued_on=date(2026, 1, 5), account=client_a.id)
    make_invoice(number="F2", status="issued", issued_on=date(2026, 2, 5), due_on=None,
                 lines=[{"label": "Pose", "quantity": 1, "unit_price": Decimal("100"),
                         "tax_rate": 20}])
    make_invoice(number="F3", status="issued", issued_on=date(2026, 3, 5), account=client_a.id)

    def numbers(query: str) -> list[str]:
        return sorted(shown_links(admin_client.get(f"/alpha/invoices/?{query}"), "invoices"))

    # F3 is past its due date (the factory's) and unpaid: shown, and so filtered, as overdue.
    assert numbers("status=issued") == ["F2"]
    assert numbers("status=overdue") == ["F3"]
    assert numbers("status=issued,overdue") == ["F2", "F3"]
    assert numbers("issued_on_from=2026-02-01&issued_on_to=2026-02-28") == ["F2"]
    assert numbers("issued_on_from=01/03/2026") == ["F3"]
    assert numbers("total_max=120,00") == ["F2"]
    assert numbers("total_min=1 000,50") == ["F1", "F3"]
    assert numbers(f"account={client_a.id}") == ["F1", "F3"]
    assert numbers(f"account={client_a.id}&status=paid") == ["F1"]


@pytest.mark.parametrize("language, yes, no", [("fr", "oui", "non"), ("en", "yes", "no")])
def test_a_yes_no_filter_offers_the_words_of_the_users_language(
        admin_client, make_invoice, invoice_fields, language, yes, no):
    make_invoice(number="C1", custom={"pose": True})
    make_invoice(number="C2", custom={"pose": False})
    admin_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    page = admin_client.get("/alpha/invoices/").data.decode()
    start = page.index('name="cf_pose"')
    select = page[start:page.index("</select>", start)]
    assert re.findall(r'<option value="([^"]*)"', select) == ["", yes, no]
    for word, shown in ((yes, ["C1"]), (no, ["C2"])):
        response = admin_client.get("/alpha/invoices/", query_string={"cf_pose": word})
        assert shown_links(response, "invoices") == shown
        assert f'<option value="{word}" selected' in response.data.decode()


def test_the_empty_list_row_spans_the_table(admin_client, make_field):
    make_field("invoices", "gamme", type="choice", choices=["Standard"])
    page = admin_client.get("/alpha/invoices/").data.decode()
    table = page[page.index('id="records"'):page.index("</table>", page.index('id="records"'))]
    headers = table.count("<th ")
    assert f'colspan="{headers}"' in table


@pytest.mark.parametrize("query, bad", [
    ("status=bogus", "bogus"), ("issued_on_from=31/02/2026", "31/02/2026"),
    ("issued_on_to=demain", "demain"), ("total_min=beaucoup", "beaucoup"),
    ("account=abc", "abc"), ("account=99999999999999999999", "99999999999999999999"),
])
def test_bad_filter_values_get_a_message_not_an_error(admin_client, make_invoice, query, bad):
    invoice = make_invoice()
    response = admin_client.get(f"/alpha/invoices/?{query}")
    assert response.status_code == 200
    assert bad[:30] in text(response)
    assert "alert-warning" in response.data.decode()
    assert invoice.number in shown_links(response, "invoices")  # the bad filter is ignored


def test_sort_both_ways_and_unknown_keys_fall_back(admin_client, make_invoice):
    for number in ("F-B", "F-C", "F-A"):
        make_invoice(number=number)
    assert shown_links(admin_client.get("/alpha/invoices/?sort=number"), "invoices") == [
        "F-A", "F-B", "F-C"]
    assert shown_links(admin_client.get("/alpha/invoices/?sort=-number"), "invoices") == [
        "F-C", "F-B", "F-A"]
    for bad in ("password_hash", "-tenant_id", "custom", "-", "number;drop", "__class__"):
        response = admin_client.get(f"/alpha/invoices/?sort={bad}")
        assert response.status_code == 200, bad
        assert len(shown_links(response, "invoices")) == 3


def test_sort_links_toggle_direction(admin_client, make_invoice):
    make_invoice()
    page = admin_client.get("/alpha/invoices/?sort=number").data.decode()
    assert "sort=-number" in page


@pytest.fixture
def small_pages(app):
    app.config["PAGE_SIZE"] = 3
    yield 3
    app.config["PAGE_SIZE"] = 25


def _link(response, rel: str) -> str | None:
    import html
    import re

    match = re.search(rf'rel="{rel}" href="([^"]+)"', response.data.decode())
    return html.unescape(match.group(1)) if match else None


def test_paging_forward_and_back_shows_every_record_once(admin_client, make_invoice,
                                                         small_pages):
    due = [date(2026, 11, d) for d in (1, 2, 2, 3)] + [None, None, None]
    for i, due_on in enumerate(due):
        make_invoice(number=f"P{i}", due_on=due_on, issued_on=date(2026, 10, 1))
    seen: list[list[str]] = []
    url = "/alpha/invoices/?sort=due_on&status=issued,overdue"
    while url:
        response = admin_client.get(url)
        seen.append(shown_links(response, "invoices"))
        url = _link(response, "next")
    assert [len(page) for page in seen] == [3, 3, 1]
    flat = [n for page in seen for n in page]
    assert sorted(flat) == sorted(f"P{i}" for i in range(7))
    assert flat[:4] == ["P0", "P1", "P2", "P3"]  # dated first, empty dates last
    # Filters and sort are kept in the paging links, and "previous" goes back.
    first = admin_client.get("/alpha/invoices/?sort=due_on&status=issued,overdue")
    second = admin_client.get(_link(first, "next"))
    assert "status=issued" in _link(second, "prev")
    assert shown_links(admin_client.get(_link(second, "prev")), "invoices") == seen[0]


def _cursor(value, record_id) -> str:
    raw = json.dumps([value, record_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("params", [
    {"after": "garbage"}, {"before": "%%%"}, {"after": "W10"}, {"after": _cursor("x", "y")},
    {"after": _cursor("abc", 1), "sort": "total"}, {"after": _cursor("NaN", 1), "sort": "total"},
    {"after": _cursor("1e999999", 1), "sort": "total"}, {"after": _cursor("2026-01-01", 10**30)},
    {"after": _cursor("2026-99-99", 1)}, {"after": _cursor([1], 1), "sort": "issued_on"},
    {"after": _cursor(10**40, 1), "sort": "size"},
    {"after": _cursor("a\x00b", 1), "sort": "number"},
    {"after": _cursor(None, -5)}, {"after": _cursor(True, 1)}, {"before": _cursor({}, 2**40)},
    {"after": "A" * 5000},
])
def test_garbage_cursors_restart_the_list(admin_client, make_invoice, params):
    invoice = make_invoice()
    response = admin_client.get("/alpha/invoices/", query_string=params)
    assert response.status_code == 200
    assert response.status_code == 200 and (
        invoice.number in shown_links(response, "invoices") or "after" in params
        or "before" in params)


NESTED = base64.urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).decode()
HOSTILE_CURSORS = [
    {"after": NESTED}, {"before": NESTED},
    {"after": base64.urlsafe_b64encode(b"[" * 100_000).decode()},
    {"after": _cursor("9999-12-31T23:59:59-14:00", 1), "sort": "created_at"},
    {"after": _cursor("0001-01-01T00:00:00+14:00", 1), "sort": "-created_at"},
    {"before": _cursor("10000-01-01T00:00:00", 1), "sort": "created_at"},
    {"after": _cursor("\ud800", 1), "sort": "number"},
    {"after": _cursor(1, 1), "sort": "number"},
]


@pytest.mark.parametrize("params", HOSTILE_CURSORS)
def test_a_cursor_the_list_never_gave_shows_the_first_page_and_says_so(
        admin_client, make_invoice, params):
    invoice = make_invoice()
    response = admin_client.get("/alpha/invoices/", query_string=params)
    assert response.status_code == 200
    assert shown_links(response, "invoices") == [invoice.number]
    assert fr("This link to a page of the list is no longer valid: here is the first page.") \
        in text(response)


def test_garbage_cursor_on_attachment_sizes(admin_client, make_record):
    make_record("attachments")
    response = admin_client.get("/alpha/attachments/",
                                query_string={"sort": "size", "after": _cursor(10**12, 1)})
    assert response.status_code == 200


@pytest.fixture
def invoice_fields(make_field):
    make_field("invoices", "promoteur", label_fr="Promoteur", label_en="Developer")
    make_field("invoices", "gamme", type="choice", choices=["Standard", "Premium"])
    make_field("invoices", "options", type="multi_choice", choices=["motorisé", "éclairage"])
    make_field("invoices", "pose", type="boolean")
    make_field("invoices", "livraison", type="date")
    make_field("invoices", "etage", type="integer")
    make_field("invoices", "remise", type="decimal")


def test_custom_field_filters(admin_client, make_invoice, invoice_fields):
    make_invoice(number="C1", custom={"promoteur": "Nexity Lyon", "gamme": "Premium",
                                      "options": ["motorisé"], "pose": True,
                                      "livraison": "2026-05-10", "etage": 3, "remise": "2.5"})
    make_invoice(number="C2", custom={"promoteur": "Bouygues", "gamme": "Standard",
                                      "options": ["motorisé", "éclairage"], "pose": False,
                                      "livraison": "2026-07-01", "etage": 12, "remise": "10"})
    make_invoice(number="C3", custom={})

    def numbers(query: dict) -> list[str]:
        response = admin_client.get("/alpha/invoices/", query_string=query)
        assert response.status_code == 200
        return sorted(shown_links(response, "invoices"))

    assert numbers({"cf_promoteur": "nexity"}) == ["C1"]
    assert numbers({"cf_gamme": "Standard"}) == ["C2"]
    assert numbers({"cf_options": "éclairage"}) == ["C2"]
    assert numbers({"cf_options": "motorisé"}) == ["C1", "C2"]
    assert numbers({"cf_pose": "oui"}) == ["C1"]
    assert numbers({"cf_pose": "non"}) == ["C2", "C3"]
    assert numbers({"cf_livraison_from": "2026-06-01"}) == ["C2"]
    assert numbers({"cf_livraison_to": "31/05/2026"}) == ["C1"]
    assert numbers({"cf_etage_min": "4"}) == ["C2"]
    assert numbers({"cf_etage_max": "3"}) == ["C1"]
    assert numbers({"cf_remise_min": "2,5", "cf_remise_max": "9,99"}) == ["C1"]
    assert numbers({"cf_gamme": "Premium", "cf_etage_min": "1"}) == ["C1"]


@pytest.mark.parametrize("query, bad", [
    ({"cf_etage_min": "trois"}, "trois"), ({"cf_livraison_from": "2026-13-01"}, "2026-13-01"),
    ({"cf_pose": "peut-être"}, "peut-être"), ({"cf_remise_max": "1,2,3"}, "1,2,3"),
])
def test_bad_custom_filter_values_get_a_message(admin_client, make_invoice, invoice_fields,
                                                query, bad):
    make_invoice(number="C1", custom={"etage": 3})
    response = admin_client.get("/alpha/invoices/", query_string=query)
    assert response.status_code == 200
    assert bad in text(response)
    assert "alert-warning" in response.data.decode()
    assert shown_links(response, "invoices") == ["C1"]


def test_custom_filters_and_columns_show_on_the_list(admin_client, make_invoice, invoice_fields):
    make_invoice(number="C1", custom={"promoteur": "Nexity Lyon", "remise": "2.5"})
    response = admin_client.get("/alpha/invoices/")
    shown = text(response)
    assert "Promoteur" in shown and "Nexity Lyon" in shown
    page = response.data.decode()
    for name in ("cf_promoteur", "cf_gamme", "cf_pose", "cf_livraison_from", "cf_etage_min"):
        assert f'name="{name}"' in page


def test_huge_numbers_in_custom_filters_are_harmless(admin_client, make_invoice, invoice_fields):
    make_invoice(number="C1", custom={"etage": 3})
    response = admin_client.get("/alpha/invoices/", query_string={"cf_etage_min": "9" * 400})
    assert response.status_code == 200


def test_export_link_keeps_the_filters(admin_client, make_invoice):
    make_invoice()
    page = admin_client.get("/alpha/invoices/?status=paid&q=F").data.decode()
    assert "/alpha/invoices/export.csv?" in page
    export = page[page.index("/alpha/invoices/export.csv?"):].split('"')[0]
    assert "status=paid" in export and "q=F" in export


def test_unknown_entity_is_404(admin_client):
    assert admin_client.get("/alpha/widgets/").status_code == 404
    assert admin_client.get("/alpha/widgets/export.csv").status_code == 404
    assert admin_client.get("/alpha/widgets/1").status_code == 404


def test_see_all_from_the_360_lists_the_customers_records(admin_client, make_account,
                                                          make_invoice):
    account = make_account()
    for _ in range(11):
        make_invoice(account=account.id)
    make_invoice()
    response = admin_client.get(f"/alpha/accounts/{account.id}/360")
    page = response.data.decode()
    assert f"/alpha/invoices/?account={account.id}" in page
    listing = admin_client.get(f"/alpha/invoices/?account={account.id}")
    assert result_count(listing) == "11"


def test_a_status_filter_takes_several_statuses(admin_client, make_invoice):
    issued, overdue, paid = (make_invoice(status=s) for s in ("issued", "overdue", "paid"))
    shown = text(admin_client.get("/alpha/invoices/?status=issued,overdue"))
    assert issued.number in shown and overdue.number in shown and paid.number not in shown
    refused = admin_client.get("/alpha/invoices/?status=issued,bogus")
    assert paid.number in text(refused)  # an unknown status filters nothing, and says so
    assert "issued,bogus" in text(refused)
