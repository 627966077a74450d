"""A salesperson's home on a phone: his own activities, his customers' overdue invoices and his
customers, not the company's figures (those stay on a wide screen and for admins)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.models import Role
from app.queries import my_book
from tests.conftest import local_day, login


def _block(page: str, block_id: str) -> str:
    start = page.index(f'id="{block_id}"')
    return page[start:page.index("</section>", start)]


@pytest.mark.parametrize("few_customers", [1000, 0], ids=["by-customer", "by-due-date"])
def test_the_phone_home_lists_my_customers_and_their_overdue_invoices_only(
        app, make_user, make_account, make_invoice, monkeypatch, few_customers):
    monkeypatch.setattr(my_book, "FEW_CUSTOMERS", few_customers)  # both ways of reading them
    me = make_user(Role.SALES.value, full_name="Claire Vendeuse")
    colleague = make_user(Role.SALES.value)
    mine = make_account(name="Hôtel du Lac", owner=me.id, phone="04 78 00 00 00")
    theirs = make_account(name="Atelier André", owner=colleague.id)
    yesterday = local_day() - timedelta(days=3)
    make_invoice(number="F-MINE", account=mine.id, due_on=yesterday)
    make_invoice(number="F-MINE-OK", account=mine.id, due_on=local_day() + timedelta(days=5))
    make_invoice(number="F-THEIRS", account=theirs.id, due_on=yesterday)
    page = login(app.test_client(), me).get("/alpha/").data.decode()

    overdue = _block(page, "my-overdue")
    assert "F-MINE" in overdue and "3 jours de retard" in overdue
    assert "F-MINE-OK" not in overdue and "F-THEIRS" not in overdue
    assert "(1)" in overdue
    total = re.search(r'small text-danger money">([^<]*)<', overdue).group(1)
    assert total.replace("\u202f", " ").replace("\xa0", " ") == "1 481,47 €"  # F-MINE's due
    customers = _block(page, "my-customers")
    assert "Hôtel du Lac" in customers and "Atelier André" not in customers
    assert 'href="tel:+33478000000"' in customers
    assert f"/alpha/accounts/?owner={me.id}" in customers.replace("&amp;", "&")
    # The company's figures (two overdue invoices) are for a wide screen.
    assert 'class="d-none d-md-block" id="company-dashboard"' in page


def test_an_admin_keeps_the_company_dashboard_on_a_phone(admin_client):
    page = admin_client.get("/alpha/").data.decode()
    assert 'class="" id="company-dashboard"' in page
    assert "Aucun élément." in _block(page, "my-overdue")
