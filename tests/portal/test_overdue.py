"""Overdue in the extranet: the agent's home and the subscriber's invoices use the back
office's rule (app/models/document.py) and show the days late."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

from app.clock import local_today
from tests.backoffice.conftest import result_count, shown_links, text

TOTAL = Decimal("1481.47")


def _make(make_invoice, account_id: int) -> None:
    today = local_today()
    yesterday = today - timedelta(days=1)
    make_invoice(number="F-LATE", account=account_id, due_on=yesterday)
    make_invoice(number="F-FULL", account=account_id, due_on=yesterday, amount_paid=TOTAL)
    make_invoice(number="F-TODAY", account=account_id, due_on=today)


def test_the_agent_home_counts_and_lists_the_overdue_invoices(portal_agent, make_invoice):
    _make(make_invoice, portal_agent.account.id)
    page = portal_agent.get("/alpha/portal/").data.decode().replace("&amp;", "&")
    match = re.search(r'href="([^"]*)"[^>]*>(?:(?!</a>).)*id="kpi-overdue">\s*([^<]*?)\s*<',
                      page, re.S)
    assert match
    link, count = match.groups()
    assert (link, count) == ("/alpha/portal/invoices/?status=overdue", "1")
    listed = portal_agent.get(link)
    assert shown_links(listed, "portal/invoices") == ["F-LATE"]
    assert result_count(listed) == count
    block = page[page.index('id="overdue-invoices"'):page.index("</table>")]
    assert "F-LATE" in block and "1 jour de retard" in block
    assert "F-FULL" not in block and "F-TODAY" not in block


def test_the_subscriber_sees_his_late_invoice_as_overdue(portal_subscriber, make_invoice):
    _make(make_invoice, portal_subscriber.account.id)
    listed = text(portal_subscriber.get("/alpha/portal/invoices/"))
    assert "En retard 1 jour de retard" in listed
    issued = portal_subscriber.get("/alpha/portal/invoices/?status=issued")
    assert sorted(shown_links(issued, "portal/invoices")) == ["F-FULL", "F-TODAY"]


def test_the_agent_export_gives_the_days_late(portal_agent, make_invoice):
    _make(make_invoice, portal_agent.account.id)
    body = portal_agent.get("/alpha/portal/invoices/export.csv").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    late = {row[0]: row[-1] for row in rows[1:]}
    assert rows[0][-1] == "Jours de retard"
    assert late == {"F-LATE": "1", "F-FULL": "", "F-TODAY": ""}
