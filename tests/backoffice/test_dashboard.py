"""The dashboard: open quotes, orders to deliver, overdue invoices, invoiced amounts by month."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from tests.backoffice.conftest import en, text
from tests.conftest import days_ago, local_day


def _kpi(page: str, element_id: str) -> tuple[str, str]:
    """The figure of a dashboard card and the amount under it."""
    match = re.search(rf'id="{element_id}">([^<]*)</div>\s*<div[^>]*>([^<]*)<', page)
    assert match, element_id
    return tuple(g.strip().replace("\u202f", " ").replace("\xa0", " ") for g in match.groups())


def test_dashboard_counts_and_amounts(admin_client, make_quote, make_order, make_delivery,
                                      make_invoice):
    make_quote(status="sent")
    make_quote(status="sent")
    make_quote(status="draft")
    make_quote(status="accepted")
    make_order()
    delivered = make_order()
    make_delivery(order=delivered.id, account=delivered.account_id, status="delivered")
    make_order(status="cancelled")
    make_invoice(issued_on=days_ago(40), due_on=days_ago(10))
    make_invoice(issued_on=days_ago(40), due_on=days_ago(10), amount_paid=Decimal("481.47"))
    make_invoice(issued_on=days_ago(40), due_on=days_ago(10), status="paid")
    make_invoice(issued_on=days_ago(2), due_on=days_ago(-28))

    response = admin_client.get("/alpha/")
    assert response.status_code == 200
    page = response.data.decode()
    assert _kpi(page, "kpi-open-quotes") == ("2", "1 920,00 €")
    assert _kpi(page, "kpi-orders") == ("1", "1 080,00 €")
    assert _kpi(page, "kpi-overdue") == ("2", "2 481,47 €")


def test_dashboard_cards_lead_to_the_filtered_lists(admin_client):
    page = admin_client.get("/alpha/").data.decode().replace("&amp;", "&")
    assert "/alpha/quotes/?status=sent" in page
    assert "/alpha/invoices/?status=overdue" in page


def test_chart_of_invoiced_amounts_by_month(admin_client, make_invoice):
    first = local_day().replace(day=1)
    due = first + timedelta(days=30)  # the factory's due date may precede this month
    make_invoice(issued_on=first, due_on=due)
    make_invoice(issued_on=first, due_on=due, status="cancelled")
    make_invoice(issued_on=first, due_on=due, status="draft")
    page = admin_client.get("/alpha/").data.decode()
    start = page.index('<svg class="chart')
    svg = page[start:page.index("</svg>", start) + 6]
    bars = re.findall(r'<rect class="chart-bar"[^>]*height="([\d.]+)"', svg)
    assert len(bars) == 12
    heights = [float(h) for h in bars]
    assert heights[-1] == max(heights) > 0  # this month, the only invoiced one
    assert heights[:-1] == [0.0] * 11
    svg = svg.replace("\u202f", " ").replace("\xa0", " ")
    assert "1 481,47 €" in svg  # the bar's tooltip
    assert 'role="img"' in svg
    # Months named in the reader's language, the year under the first month and January, and
    # the amount written above its bar.
    assert _labels(svg)[:12] == [FR_MONTHS[(first.month + i) % 12] for i in range(12)]
    assert str(first.year) in _labels(svg)
    assert _values(svg) == ["1,5 k €"]
    assert f"{FR_FULL[first.month - 1]} {first.year} — 1 481,47 €" in svg
    english = en(admin_client).get("/alpha/").data.decode()
    english = english[english.index('<svg class="chart'):]
    english = english[:english.index("</svg>")]
    assert _labels(english)[:12] == [EN_MONTHS[(first.month + i) % 12] for i in range(12)]
    assert _values(english) == ["€1.5K"]


FR_MONTHS = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
             "nov.", "déc."]
FR_FULL = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"]
EN_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _labels(svg: str) -> list[str]:
    """The axis labels, months first (one per bar, by x), then the years."""
    found = re.findall(r'<text class="chart-label" x="(\d+)" y="(\d+)"[^>]*>([^<]*)<', svg)
    return [label for _, _, label in sorted(found, key=lambda f: (int(f[1]), int(f[0])))]


def _values(svg: str) -> list[str]:
    return [v.replace("\u202f", " ").replace("\xa0", " ")
            for v in re.findall(r'<text class="chart-value"[^>]*>([^<]*)<', svg)]


def test_chart_with_no_invoices_draws_empty_months(admin_client):
    page = admin_client.get("/alpha/").data.decode()
    assert page.count('class="chart-bar"') == 12


def test_dashboard_in_english(admin_client, make_invoice):
    make_invoice(issued_on=days_ago(40), due_on=days_ago(10))
    page = en(admin_client).get("/alpha/").data.decode()
    assert _kpi(page, "kpi-overdue") == ("1", "€1,481.47")
    assert "Dashboard" in text(type("R", (), {"data": page.encode()})())


def test_agent_dashboard_counts_only_his_partner(agent_client, make_account, make_invoice):
    own = make_account(partner=agent_client.partner.id)
    make_invoice(account=own.id, issued_on=days_ago(40), due_on=days_ago(10))
    make_invoice(issued_on=days_ago(40), due_on=days_ago(10))
    assert agent_client.get("/alpha/").status_code == 403  # the back office is for staff
    page = agent_client.get("/alpha/portal/").data.decode()
    assert _kpi(page, "kpi-overdue") == ("1", "1 481,47 €")


def test_sales_dashboard(sales_client, make_invoice):
    make_invoice(issued_on=days_ago(40), due_on=days_ago(10))
    page = sales_client.get("/alpha/").data.decode()
    assert _kpi(page, "kpi-overdue")[0] == "1"
