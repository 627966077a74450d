"""What feeds leave on records: the import that last changed a record, and records a full-sync
feed archived, hidden from lists, exports, the dashboard and the 360 page unless asked for."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from sqlalchemy import select

from app.extensions import db
from app.models import Invoice
from app.services import feeds
from tests.backoffice.conftest import fr, result_count, shown_links, text
from tests.backoffice.test_feeds.conftest import GOOD, HEADER, INVOICE_PROFILE
from tests.conftest import days_ago


def test_records_changed_by_an_import_link_to_its_run(admin_client, invoice_profile,
                                                      start_run):
    run = start_run(invoice_profile, HEADER, GOOD)
    invoice = _invoice_numbered("F001")
    page = admin_client.get(f"/alpha/invoices/{invoice.id}").data.decode()
    assert re.search(rf'{fr("Updated by import")}\s*<a href="/alpha/feeds/runs/{run.id}">'
                     rf'#{run.id}</a>', page.replace("\xa0", " ").replace("&#39;", "’"))
    accounts = feeds.create_profile({"name": "clients", "entity": "accounts",
                                       "columns": {"Code": "external_ref", "Ville": "city"}})
    db.session.commit()
    again = start_run(accounts, "Code;Ville", "C001;Nantes")
    account_page = admin_client.get(f"/alpha/accounts/{invoice.account_id}/360")
    assert f'href="/alpha/feeds/runs/{again.id}"' in account_page.data.decode()
    assert "Nantes" in text(account_page)


def _invoice_numbered(number: str) -> Invoice:
    db.session.expire_all()
    return db.session.scalar(select(Invoice).where(Invoice.number == number))


def test_a_full_sync_archives_what_the_file_no_longer_holds(admin_client, invoice_profile,
                                                            start_run):
    feeds.update_profile(invoice_profile, {**INVOICE_PROFILE, "full_sync": True})
    db.session.commit()
    start_run(invoice_profile, HEADER, GOOD, "F003;C001;31/12/2025;5,00;")
    run = start_run(invoice_profile, HEADER, "F003;C001;31/12/2025;5,00;")
    assert run.archived == 1 and _invoice_numbered("F001").archived_at is not None
    page = admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode()
    assert 'href="/alpha/invoices/?archived=1"' in page
    listed = admin_client.get("/alpha/invoices/")
    assert shown_links(listed, "invoices") == ["F003"]
    archived = admin_client.get("/alpha/invoices/?archived=1")
    assert shown_links(archived, "invoices") == ["F001"] and result_count(archived) == "1"
    detail = text(admin_client.get(f"/alpha/invoices/{_invoice_numbered('F001').id}"))
    assert fr("Archived") in detail  # still reachable, and says so


def _archive(record) -> None:
    record.archived_at = datetime.now(UTC)  # as a full-sync run does
    db.session.commit()


def _exported_numbers(client, query: str = "") -> list[str]:
    body = client.get(f"/alpha/invoices/export.csv{query}").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    return sorted(row[0] for row in rows[1:])


def test_archived_records_leave_lists_and_exports_unless_asked_for(sales_client, make_invoice):
    make_invoice(number="F-LIVE")
    _archive(make_invoice(number="F-GONE"))
    assert shown_links(sales_client.get("/alpha/invoices/"), "invoices") == ["F-LIVE"]
    assert shown_links(sales_client.get("/alpha/invoices/?archived=1"), "invoices") == ["F-GONE"]
    assert _exported_numbers(sales_client) == ["F-LIVE"]
    assert _exported_numbers(sales_client, "?archived=1") == ["F-GONE"]
    searched = sales_client.get("/alpha/invoices/?q=F-GONE")
    assert shown_links(searched, "invoices") == []


def test_the_dashboard_and_the_360_page_ignore_archived_records(admin_client, make_account,
                                                                make_invoice, make_quote):
    account = make_account(name="Client Suivi")
    live = make_invoice(account=account.id, issued_on=days_ago(40), due_on=days_ago(10))
    gone = make_invoice(account=account.id, issued_on=days_ago(40), due_on=days_ago(10))
    _archive(gone)
    _archive(make_quote(account=account.id, status="sent"))
    dashboard = admin_client.get("/alpha/").data.decode()
    assert re.search(r'id="kpi-overdue">\s*1\s*<', dashboard)
    assert re.search(r'id="kpi-open-quotes">\s*0\s*<', dashboard)
    page = admin_client.get(f"/alpha/accounts/{account.id}/360").data.decode()
    assert live.number in page and gone.number not in page
    assert "(1)" in re.search(r'id="section-invoices">.*?</span>', page, re.S).group(0)
