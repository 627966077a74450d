"""The extranet's records: lists, exports, detail pages, files and answers to quotes."""
from __future__ import annotations

import base64
import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Quote
from app.models.base import utcnow
from app.services.attachments import add_attachment
from tests.backoffice.conftest import (
    audit_events,
    count_statements,
    fr,
    result_count,
    shown_links,
    text,
)
from tests.conftest import login

AGENT_MENU = ["accounts", "deals", "contracts", "quotes", "orders", "deliveries", "invoices"]
SUBSCRIBER_MENU = ["contracts", "quotes", "orders", "deliveries", "invoices"]


def _menu(response) -> list[str]:
    page = response.data.decode()
    nav = page[page.index('id="nav"'):page.index("</ul>", page.index('id="nav"'))]
    return [href.split("/")[3] for href in re.findall(r'href="(/alpha/portal/[a-z]+/)"', nav)]


def _csv(response) -> list[list[str]]:
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))


def _archive(record) -> None:
    record.archived_at = utcnow()
    db.session.commit()


@pytest.fixture
def quote_fields(make_field):
    """A custom field shown in the extranet and one kept for staff."""
    return (make_field("quotes", "chantier", is_portal_visible=True, label_fr="Chantier"),
            make_field("quotes", "marge", label_fr="Marge interne"))


# -- menus and lists -------------------------------------------------------------------------------

def test_each_role_has_its_lists_in_menu_order(portal_agent, portal_subscriber):
    assert _menu(portal_agent.get("/alpha/portal/quotes/")) == AGENT_MENU
    assert _menu(portal_subscriber.get("/alpha/portal/quotes/")) == SUBSCRIBER_MENU
    for name in AGENT_MENU:
        assert portal_agent.get(f"/alpha/portal/{name}/").status_code == 200
    for name in ("accounts", "deals", "contacts", "partners", "attachments", "users"):
        assert portal_subscriber.get(f"/alpha/portal/{name}/").status_code == 404
        assert portal_subscriber.get(f"/alpha/portal/{name}/export.csv").status_code == 404
    for name in ("contacts", "partners", "attachments"):
        assert portal_agent.get(f"/alpha/portal/{name}/").status_code == 404


def test_an_agent_lists_his_partners_records_only(portal_agent, make_quote, make_partner,
                                                  make_account):
    mine = make_quote(account=portal_agent.account.id)
    other = make_account(name="Client du Sud", partner=make_partner(name="Agence du Sud").id)
    theirs = make_quote(account=other.id)
    response = portal_agent.get("/alpha/portal/quotes/")
    assert shown_links(response, "portal/quotes") == [mine.number]
    assert result_count(response) == "1"
    assert theirs.number not in text(response) and "Client du Sud" not in text(response)
    accounts = portal_agent.get("/alpha/portal/accounts/")
    assert shown_links(accounts, "portal/accounts") == ["Client du Nord"]


def test_search_by_number_and_customer_name(portal_agent, make_invoice, make_account):
    other = make_account(name="Boulangerie Marchal", partner=portal_agent.partner.id)
    first = make_invoice(account=portal_agent.account.id, number="F-2026-0042")
    second = make_invoice(account=other.id, number="F-2026-0077")

    def found(q: str) -> list[str]:
        return shown_links(portal_agent.get("/alpha/portal/invoices/", query_string={"q": q}),
                           "portal/invoices")

    assert found("0042") == [first.number]
    assert found("marchal") == [second.number]
    assert sorted(found("F-2026")) == [first.number, second.number]
    assert found("100%") == []


def test_filters_by_status_dates_and_portal_custom_fields(portal_agent, make_quote, quote_fields):
    account = portal_agent.account.id
    june = make_quote(account=account, status="sent", issued_on=date(2026, 6, 3),
                      custom={"chantier": "Villa Pins", "marge": "35 %"})
    make_quote(account=account, status="accepted", issued_on=date(2026, 6, 20))
    make_quote(account=account, status="sent", issued_on=date(2026, 9, 1),
               custom={"chantier": "Hangar", "marge": "12 %"})

    def found(**args) -> list[str]:
        response = portal_agent.get("/alpha/portal/quotes/", query_string=args)
        assert response.status_code == 200
        return shown_links(response, "portal/quotes")

    assert found(status="sent", issued_on_from="2026-06-01", issued_on_to="2026-06-30") == [
        june.number]
    assert found(cf_chantier="villa") == [june.number]
    # A staff-only field is no filter in the extranet (nor a way to guess its values).
    assert len(found(cf_marge="35")) == 3
    page = text(portal_agent.get("/alpha/portal/quotes/"))
    assert "Chantier" in page and "Villa Pins" in page
    assert "Marge interne" not in page and "35 %" not in page


def test_sort_and_keyset_pages_walk_every_record_once(app, monkeypatch, portal_agent,
                                                      make_invoice):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 4)
    numbers = [make_invoice(account=portal_agent.account.id, number=f"F-{i:03d}",
                            total=Decimal(100 + i)).number for i in range(10)]
    seen, url = [], "/alpha/portal/invoices/?sort=-total"
    while url:
        response = portal_agent.get(url)
        assert result_count(response) == "10"
        seen += shown_links(response, "portal/invoices")
        page = response.data.decode()
        marker = 'rel="next" href="'
        url = page[page.index(marker) + len(marker):].split('"')[0].replace("&amp;", "&") \
            if marker in page else None
        if url:
            assert url.startswith("/alpha/portal/invoices/?") and "sort=-total" in url
    assert seen == list(reversed(numbers))
    ascending = portal_agent.get("/alpha/portal/invoices/?sort=number")
    assert shown_links(ascending, "portal/invoices") == numbers[:4]


@pytest.mark.parametrize("params", [
    {"after": base64.urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).decode()},
    {"after": base64.urlsafe_b64encode(b'["0001-01-01T00:00:00+14:00",1]').decode(),
     "sort": "created_at"},
])
def test_a_cursor_the_list_never_gave_shows_the_first_page_and_says_so(
        portal_agent, make_invoice, params):
    number = make_invoice(account=portal_agent.account.id).number
    response = portal_agent.get("/alpha/portal/invoices/", query_string=params)
    assert response.status_code == 200
    assert number in text(response)
    assert fr("This link to a page of the list is no longer valid: here is the first page.") \
        in text(response)


def test_mobile_cards_and_no_staff_buttons(portal_agent, make_order):
    order = make_order(account=portal_agent.account.id)
    page = portal_agent.get("/alpha/portal/orders/").data.decode()
    assert 'id="record-cards"' in page
    assert f'href="/alpha/portal/orders/{order.id}"' in page
    assert 'href="/alpha/portal/orders/export.csv?sort=-ordered_on"' in page
    assert "/alpha/orders/" not in page and fr("New") not in text(portal_agent.get(
        "/alpha/portal/orders/"))


def test_archived_records_and_internal_filters_are_ignored(portal_agent, make_account,
                                                           make_user, make_invoice):
    seller = make_user("sales", email="vendeur.secret@alpha.example", full_name="Vendeur Secret")
    owned = make_account(name="Client suivi", partner=portal_agent.partner.id, owner=seller.id,
                         external_ref="ERP-CLI-9")
    archived = make_invoice(account=portal_agent.account.id)
    _archive(archived)
    for args in ({}, {"archived": "1"}):
        response = portal_agent.get("/alpha/portal/invoices/", query_string=args)
        assert archived.number not in text(response)
        assert result_count(response) == "0"
    # Filtering or sorting on the owner or the external reference does nothing.
    listed = shown_links(portal_agent.get("/alpha/portal/accounts/", query_string={
        "owner": str(seller.id + 1), "external_ref": "nothing", "sort": "-external_ref"}),
        "portal/accounts")
    assert listed == ["Client du Nord", "Client suivi"]
    page = text(portal_agent.get(f"/alpha/portal/accounts/{owned.id}"))
    assert "Vendeur Secret" not in page and "vendeur.secret" not in page
    assert "ERP-CLI-9" not in page


def test_a_subscriber_cannot_filter_on_the_partner(portal_subscriber, make_invoice):
    number = make_invoice(account=portal_subscriber.account.id).number
    response = portal_subscriber.get("/alpha/portal/invoices/", query_string={
        "partner": str(portal_subscriber.partner.id + 1), "sort": "partner"})
    assert shown_links(response, "portal/invoices") == [number]


def test_list_queries_do_not_grow_with_the_rows(app, portal_agent, make_invoice):
    def queries() -> int:
        with count_statements(app) as statements:
            assert portal_agent.get("/alpha/portal/invoices/").status_code == 200
        return len(statements)

    make_invoice(account=portal_agent.account.id)
    few = queries()
    for _ in range(6):
        make_invoice(account=portal_agent.account.id)
    assert queries() == few


# -- exports ---------------------------------------------------------------------------------------

def test_export_is_the_filtered_list_without_internal_data(portal_agent, make_quote, make_account,
                                                           make_partner, quote_fields):
    shown = make_quote(account=portal_agent.account.id, status="sent", external_ref="ERP-D-1",
                       custom={"chantier": "Villa Pins", "marge": "35 %"})
    make_quote(account=portal_agent.account.id, status="refused")
    archived = make_quote(account=portal_agent.account.id, status="sent")
    _archive(archived)
    theirs = make_quote(account=make_account(partner=make_partner().id).id, status="sent")
    # The export's batches clear the session: keep what the test compares.
    number, secrets = shown.number, ("35 %", "ERP-D-1", archived.number, theirs.number)
    response = portal_agent.get("/alpha/portal/quotes/export.csv?status=sent&archived=1")
    assert response.status_code == 200
    assert 'filename="quotes-' in response.headers["Content-Disposition"]
    rows = _csv(response)
    header = rows[0]
    assert "Chantier" in header and "Marge interne" not in header
    assert fr("External reference") not in header
    assert header[0] == "Numéro" and "id" not in header  # no internal id, the number first
    assert [row[0] for row in rows[1:]] == [number]
    body = response.data.decode("utf-8-sig")
    assert "Villa Pins" in body
    for secret in secrets:
        assert secret not in body


def test_a_subscriber_has_no_csv_export_an_agent_has_his(portal_agent, portal_subscriber,
                                                          make_invoice):
    """The export is the agents' working tool; a customer following his own files has none:
    no button, and the address answers 404."""
    make_invoice(account=portal_subscriber.account.id)
    make_invoice(account=portal_agent.account.id)
    for name in SUBSCRIBER_MENU:
        page = portal_subscriber.get(f"/alpha/portal/{name}/").data.decode()
        assert "export.csv" not in page and fr("Export CSV") not in page, name
        assert portal_subscriber.get(f"/alpha/portal/{name}/export.csv").status_code == 404
    page = portal_agent.get("/alpha/portal/invoices/").data.decode()
    assert 'id="export-csv"' in page and "/alpha/portal/invoices/export.csv" in page
    assert portal_agent.get("/alpha/portal/invoices/export.csv").status_code == 200


def test_a_subscriber_sees_none_of_the_back_office_fields(portal_subscriber, make_invoice,
                                                          make_quote, make_user, make_field):
    """No owner, external reference, partner, staff-only custom field, draft status, nor a
    column repeating his own account's name on every row."""
    make_field("invoices", "marge", label_fr="Marge interne")
    make_field("invoices", "chantier", is_portal_visible=True, label_fr="Chantier")
    invoice = make_invoice(account=portal_subscriber.account.id, external_ref="ERP-SECRET-42",
                           custom={"marge": "35 %", "chantier": "Villa Pins"})
    quote = make_quote(account=portal_subscriber.account.id, external_ref="ERP-SECRET-43")
    for url in ("/alpha/portal/invoices/", f"/alpha/portal/invoices/{invoice.id}",
                "/alpha/portal/quotes/", f"/alpha/portal/quotes/{quote.id}"):
        page = text(portal_subscriber.get(url))
        for internal in ("ERP-SECRET", fr("External reference"), fr("Owner"), fr("Partner"),
                         "Agence du Sud", "Marge interne", "35 %", fr("Customer"),
                         fr("Draft")):
            assert internal not in page, (url, internal)
        assert invoice.number in page or quote.number in page
    page = text(portal_subscriber.get(f"/alpha/portal/invoices/{invoice.id}"))
    assert "Villa Pins" in page and fr("Total") in page


def test_an_agent_keeps_the_customer_column(portal_agent, make_invoice):
    make_invoice(account=portal_agent.account.id)
    page = text(portal_agent.get("/alpha/portal/invoices/"))
    assert fr("Customer") in page and "Client du Nord" in page
    rows = _csv(portal_agent.get("/alpha/portal/invoices/export.csv"))
    assert fr("Customer") in rows[0] and "Client du Nord" in rows[1]


def test_export_neutralises_formulas(portal_agent, make_invoice):
    make_invoice(account=portal_agent.account.id, number="=HYPERLINK(\"http://x.example\")")
    rows = _csv(portal_agent.get("/alpha/portal/invoices/export.csv"))
    assert rows[1][0] == "'=HYPERLINK(\"http://x.example\")"


# -- detail pages and files ------------------------------------------------------------------------

def test_detail_shows_the_record_lines_custom_fields_related_records_and_files(
        portal_agent, make_quote, make_order, make_invoice, make_delivery, quote_fields):
    account = portal_agent.account.id
    quote = make_quote(account=account, custom={"chantier": "Villa Pins", "marge": "35 %"})
    order = make_order(account=account, quote=quote.id)
    invoice = make_invoice(account=account, order=order.id)
    delivery = make_delivery(account=account, order=order.id)
    add_attachment(order, "plan de pose.txt", io.BytesIO(b"plan"))
    db.session.commit()

    page = portal_agent.get(f"/alpha/portal/orders/{order.id}").data.decode()
    assert "Volet roulant" in page  # a line
    assert f'href="/alpha/portal/quotes/{quote.id}"' in page
    assert f'href="/alpha/portal/accounts/{account}"' in page
    assert f'href="/alpha/portal/invoices/{invoice.id}"' in page
    assert f'href="/alpha/portal/deliveries/{delivery.id}"' in page
    assert "/alpha/portal/attachments/" in page and "plan_de_pose.txt" in page
    quote_page = text(portal_agent.get(f"/alpha/portal/quotes/{quote.id}"))
    assert "Villa Pins" in quote_page and "Chantier" in quote_page
    assert "35 %" not in quote_page and "Marge interne" not in quote_page
    assert order.number in quote_page  # the quote's order, among related records


def test_detail_has_no_history_no_edit_and_no_internal_field(portal_agent, make_invoice,
                                                             make_user, make_account):
    seller = make_user("sales", email="vendeur.secret@alpha.example", full_name="Vendeur Secret")
    account = make_account(name="Client suivi", partner=portal_agent.partner.id,
                           owner=seller.id)
    invoice = make_invoice(account=account.id, external_ref="ERP-F-77")
    for url in (f"/alpha/portal/invoices/{invoice.id}", f"/alpha/portal/accounts/{account.id}"):
        response = portal_agent.get(url)
        assert response.status_code == 200
        page = text(response)
        for absent in (fr("History"), fr("Edit"), fr("Delete"), fr("Attach"), fr("Owner"),
                       "Vendeur Secret", "vendeur.secret", "ERP-F-77", "admin"):
            assert absent not in page, absent
        assert 'id="audit"' not in response.data.decode()
        assert 'action="/alpha/' not in response.data.decode().replace(
            'action="/alpha/portal/logout"', "")


def test_detail_is_404_when_not_visible_archived_or_not_an_extranet_list(
        portal_agent, portal_subscriber, make_invoice, make_deal, make_contact):
    theirs = make_invoice(account=portal_subscriber.account.id)
    archived = make_invoice(account=portal_agent.account.id)
    _archive(archived)
    own_deal = make_deal(account=portal_subscriber.account.id)
    contact = make_contact(account=portal_agent.account.id)
    assert portal_agent.get(f"/alpha/portal/invoices/{theirs.id}").status_code == 404
    assert portal_agent.get(f"/alpha/portal/invoices/{archived.id}").status_code == 404
    assert portal_agent.get(f"/alpha/portal/contacts/{contact.id}").status_code == 404
    assert portal_agent.get("/alpha/portal/invoices/99999999999").status_code == 404
    assert portal_subscriber.get(f"/alpha/portal/invoices/{theirs.id}").status_code == 200
    assert portal_subscriber.get(f"/alpha/portal/deals/{own_deal.id}").status_code == 404
    account = portal_subscriber.account.id
    assert portal_subscriber.get(f"/alpha/portal/accounts/{account}").status_code == 404


def test_related_records_the_user_may_not_see_stay_hidden(portal_subscriber, make_account,
                                                          make_order, make_invoice):
    neighbour = make_account(name="Voisin Lefort", partner=portal_subscriber.partner.id)
    order = make_order(account=portal_subscriber.account.id)
    # Another customer's invoice wrongly tied to this order, and an invoice on a foreign order.
    foreign_invoice = make_invoice(account=neighbour.id, order=order.id)
    foreign_order = make_order(account=neighbour.id)
    mine = make_invoice(account=portal_subscriber.account.id, order=foreign_order.id)
    page = text(portal_subscriber.get(f"/alpha/portal/orders/{order.id}"))
    assert foreign_invoice.number not in page and "Voisin Lefort" not in page
    page = text(portal_subscriber.get(f"/alpha/portal/invoices/{mine.id}"))
    assert foreign_order.number not in page
    number, foreign_number = mine.number, foreign_order.number
    listed = text(portal_subscriber.get("/alpha/portal/invoices/"))
    assert number in listed and foreign_number not in listed


def test_attachment_download_through_visibility(portal_agent, portal_subscriber, make_invoice):
    mine = make_invoice(account=portal_agent.account.id)
    theirs = make_invoice(account=portal_subscriber.account.id)
    own_file = add_attachment(mine, "bon.txt", io.BytesIO(b"bon pour accord"))
    their_file = add_attachment(theirs, "rib.txt", io.BytesIO(b"FR76 secret"))
    db.session.commit()
    download = portal_agent.get(f"/alpha/portal/attachments/{own_file.id}/download")
    assert download.status_code == 200 and download.data == b"bon pour accord"
    assert "attachment;" in download.headers["Content-Disposition"]
    assert portal_agent.get(f"/alpha/portal/attachments/{their_file.id}/download"
                            ).status_code == 404
    assert portal_subscriber.get(f"/alpha/portal/attachments/{their_file.id}/download"
                                 ).data == b"FR76 secret"


# -- answers to quotes -----------------------------------------------------------------------------

def _answer(client, quote_id: int, **data):
    return client.post(f"/alpha/portal/quotes/{quote_id}/answer", data=data)


def test_an_agent_accepts_a_quote_and_the_back_office_sees_who_and_when(
        app, portal_agent, make_quote, make_user):
    quote = make_quote(account=portal_agent.account.id, status="sent")
    page = text(portal_agent.get(f"/alpha/portal/quotes/{quote.id}"))
    assert fr("Accept") in page and fr("Refuse") in page
    response = _answer(portal_agent, quote.id, decision="accept", comment="Bon pour accord.")
    assert response.status_code == 302
    assert response.location == f"/alpha/portal/quotes/{quote.id}"
    page = text(portal_agent.get(response.location))
    assert fr("Quote accepted.") in page and "Bon pour accord." in page
    assert fr("This quote awaits your answer") not in page

    db.session.expire_all()
    quote = db.session.get(Quote, quote.id)
    agent = quote.answered_by
    assert (quote.status, quote.answer_comment) == ("accepted", "Bon pour accord.")
    assert agent.role == "agent" and quote.answered_at is not None
    event = audit_events("quotes", quote.id)[-1]
    assert (event.action, event.actor_kind, event.actor_id, event.ip) == (
        "update", "user", agent.id, "127.0.0.1")
    assert event.before["status"] == "sent" and event.after["status"] == "accepted"
    assert event.after["answer_comment"] == "Bon pour accord."
    assert event.after["answered_by_id"] == agent.id

    staff = login(app.test_client(), make_user("sales"))
    back_office = text(staff.get(f"/alpha/quotes/{quote.id}"))
    assert fr("Answer to the quote") in back_office
    assert agent.display_name in back_office and "Bon pour accord." in back_office


def test_a_subscriber_refuses_his_quote(portal_subscriber, make_quote):
    quote = make_quote(account=portal_subscriber.account.id, status="sent")
    response = _answer(portal_subscriber, quote.id, decision="refuse",
                       comment="Trop cher.\nMerci.")
    assert response.status_code == 302
    page = text(portal_subscriber.get(response.location))
    assert fr("Quote refused.") in page and "Trop cher." in page
    db.session.expire_all()
    quote = db.session.get(Quote, quote.id)
    assert quote.status == "refused"
    assert quote.answered_by_id == portal_subscriber.user.id


@pytest.mark.parametrize("status", ["accepted", "refused", "expired"])
def test_only_a_sent_quote_can_be_answered(portal_agent, make_quote, status):
    quote = make_quote(account=portal_agent.account.id, status=status)
    assert fr("This quote awaits your answer") not in text(
        portal_agent.get(f"/alpha/portal/quotes/{quote.id}"))
    response = _answer(portal_agent, quote.id, decision="accept")
    page = text(portal_agent.get(response.location))
    assert fr("This quote is not awaiting an answer any more.") in page
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == status
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "update")) is None


def test_drafts_stay_with_the_tenant(portal_agent, portal_subscriber, make_quote, make_invoice):
    """A draft is the tenant's work in progress: no agent or subscriber sees it, answers it
    or counts it, until it is sent (quotes) or issued (invoices)."""
    accounts = [portal_agent.account.id, portal_subscriber.account.id]
    for client, account in zip((portal_agent, portal_subscriber), accounts, strict=True):
        quote_id = make_quote(account=account, status="draft", number=f"DRAFT-Q-{account}").id
        invoice_id = make_invoice(account=account, status="draft",
                                  number=f"DRAFT-F-{account}").id
        for page in ("/alpha/portal/", "/alpha/portal/quotes/", "/alpha/portal/invoices/",
                     "/alpha/portal/invoices/export.csv"):
            answer = client.get(page)
            assert answer.status_code in (200, 404) and "DRAFT-" not in answer.data.decode(
                "utf-8-sig"), page
        assert client.get(f"/alpha/portal/quotes/{quote_id}").status_code == 404
        assert client.get(f"/alpha/portal/invoices/{invoice_id}").status_code == 404
        assert _answer(client, quote_id, decision="accept").status_code == 404
        db.session.get(Quote, quote_id).status = "sent"
        db.session.commit()
        assert client.get(f"/alpha/portal/quotes/{quote_id}").status_code == 200


@pytest.mark.parametrize("data, message", [
    ({}, "Choose to accept or refuse."),
    ({"decision": "maybe"}, None),
    ({"decision": "accept", "comment": "x" * 2001},
     "Enter a comment of at most %(max)d characters."),
])
def test_an_answer_needs_a_decision_and_a_short_comment(portal_agent, make_quote, data, message):
    quote = make_quote(account=portal_agent.account.id, status="sent")
    response = _answer(portal_agent, quote.id, **data)
    assert response.status_code == 302
    page = portal_agent.get(response.location)
    assert "alert-danger" in page.data.decode()
    if message:
        assert fr(message, max=2000) in text(page)
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "sent"


def test_a_comment_of_2000_characters_is_kept(portal_agent, make_quote):
    quote = make_quote(account=portal_agent.account.id, status="sent")
    _answer(portal_agent, quote.id, decision="refuse", comment="é" * 2000)
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).answer_comment == "é" * 2000


def test_answering_a_quote_one_may_not_see_is_404(portal_agent, portal_subscriber, make_quote):
    theirs = make_quote(account=portal_subscriber.account.id, status="sent")
    archived = make_quote(account=portal_agent.account.id, status="sent")
    _archive(archived)
    for quote in (theirs, archived):
        assert _answer(portal_agent, quote.id, decision="accept").status_code == 404
    db.session.expire_all()
    assert db.session.get(Quote, theirs.id).status == "sent"


def test_answering_needs_a_csrf_token(portal_agent, make_quote, csrf_on):
    quote = make_quote(account=portal_agent.account.id, status="sent")
    assert _answer(portal_agent, quote.id, decision="accept").status_code == 400
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "sent"
