"""Red is for money to chase: a zero is never shown in red, an overdue amount is; amounts
never wrap (class "money", white-space: nowrap)."""
from __future__ import annotations

import re
from decimal import Decimal

from tests.conftest import days_ago
from tests.portal.conftest import portal_login


def _classes(html: str, element_id: str) -> str:
    match = re.search(rf'<[^>]*\bid="{element_id}"[^>]*>', html)
    assert match is not None, element_id
    return re.search(r'class="([^"]*)"', match.group(0)).group(1)


def _overdue(make_invoice, account_id):
    return make_invoice(account=account_id, status="issued", issued_on=days_ago(60),
                        due_on=days_ago(30))


def test_account_360_shows_a_zero_overdue_amount_without_red(admin_client, make_account,
                                                             make_invoice):
    calm = make_account(name="Client à jour")
    make_invoice(account=calm.id, status="paid", amount_paid=Decimal("1481.47"))
    late = make_account(name="Client en retard")
    _overdue(make_invoice, late.id)
    page = admin_client.get(f"/alpha/accounts/{calm.id}/360").data.decode()
    assert "text-danger" not in _classes(page, "overdue-amount")
    assert "money" in _classes(page, "open-amount")
    page = admin_client.get(f"/alpha/accounts/{late.id}/360").data.decode()
    assert "text-danger" in _classes(page, "overdue-amount")


def test_dashboards_show_no_overdue_in_red_only_when_there_is_none(
        app, admin_client, make_account, make_invoice, make_user, make_partner):
    page = admin_client.get("/alpha/").data.decode()
    assert "text-danger" not in _classes(page, "kpi-overdue")
    partner = make_partner()
    account = make_account(partner=partner.id)
    agent = portal_login(app.test_client(), make_user("agent", partner_id=partner.id))
    page = agent.get("/alpha/portal/").data.decode()
    assert "text-danger" not in _classes(page, "kpi-overdue")

    _overdue(make_invoice, account.id)
    page = admin_client.get("/alpha/").data.decode()
    assert "text-danger" in _classes(page, "kpi-overdue")
    page = agent.get("/alpha/portal/").data.decode()
    assert "text-danger" in _classes(page, "kpi-overdue")


def test_amounts_of_a_document_are_kept_on_one_line(admin_client, make_invoice):
    invoice = make_invoice()
    page = admin_client.get(f"/alpha/invoices/{invoice.id}").data.decode()
    lines = page[page.index('id="lines"'):page.index("</table>", page.index('id="lines"'))]
    # unit price, line amount, then the three totals
    assert lines.count('<span class="money">') == 5
    fields = page[page.index('id="fields"'):page.index("</dl>", page.index('id="fields"'))]
    assert fields.count('<span class="money">') == 5  # totals, amount paid, open amount
