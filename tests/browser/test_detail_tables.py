"""Detail pages on a phone (390 px): no table is cut at the screen's edge (each stacks into
cards, as the lists do), no amount wraps onto two lines; on a desktop the same tables are
tables. Back office and extranet, the pages with the most columns."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.browser.conftest import VIEWPORTS, PageProblems, screenshot
from tests.browser.test_account_custom_field import assert_fits_width
from tests.conftest import PASSWORD, local_day

pytestmark = pytest.mark.browser

LINES = [{"sku": "STORE-BANNE-MOTORISEE-4M", "label": "Store banne motorisé 4 m, toile acrylique "
          "rayée, télécommande", "quantity": Decimal("12"), "unit_price": Decimal("123456.78"),
          "tax_rate": Decimal("20")},
         {"label": "Pose", "quantity": Decimal("1.5"), "unit_price": Decimal("0"),
          "tax_rate": Decimal("5.5")}]

# What a table and the amounts of the page look like, as the browser laid them out.
MEASURE = """() => ({
  tables: Array.from(document.querySelectorAll('main table')).filter(t => t.offsetParent)
    .map(t => ({where: t.id || (t.closest('[id]') || {}).id || '?', width: t.scrollWidth,
                room: t.parentElement.clientWidth, right: t.getBoundingClientRect().right,
                display: getComputedStyle(t).display,
                head: t.tHead ? getComputedStyle(t.tHead).display : 'none'})),
  amounts: Array.from(document.querySelectorAll('main .money')).filter(m => m.offsetParent)
    .map(m => ({text: m.textContent.trim(), lines: m.getClientRects().length,
                right: m.getBoundingClientRect().right})),
})"""


def _log_in(page: Any, login_path: str, email: str, wanted: str) -> None:
    page.goto(wanted)
    assert login_path in page.url
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"**{wanted}")


@pytest.fixture
def documents(make_user, make_partner, make_account, make_invoice, make_quote, make_order,
              make_contract, make_delivery):
    partner = make_partner(name="Agence du Nord")
    account = make_account(name="Établissements Lefebvre-Dupont et Fils, Menuiseries",
                           partner=partner.id, phone="06 12 34 56 78")
    a = account.id
    quote = make_quote(account=a, lines=LINES)
    order = make_order(account=a, quote=quote.id, lines=LINES)
    invoice = make_invoice(account=a, order=order.id, lines=LINES,
                           issued_on=local_day() - timedelta(days=60),
                           due_on=local_day() - timedelta(days=30))
    contract = make_contract(account=a, recurring_amount=Decimal("1234567.89"),
                             title="Maintenance annuelle des fermetures et automatismes")
    delivery = make_delivery(account=a, order=order.id,
                             carrier="Transports Frigorifiques Européens du Grand Ouest",
                             tracking_number="FR-1234567890-ABCDEFGHIJKLMNOP-2026")
    return {
        "sales": make_user("sales"), "agent": make_user("agent", partner_id=partner.id),
        "subscriber": make_user("subscriber", account_id=a),
        "backoffice": [f"/alpha/invoices/{invoice.id}", f"/alpha/quotes/{quote.id}",
                       f"/alpha/orders/{order.id}", f"/alpha/contracts/{contract.id}",
                       f"/alpha/deliveries/{delivery.id}", f"/alpha/accounts/{a}/360"],
        "portal": [f"/alpha/portal/invoices/{invoice.id}", f"/alpha/portal/quotes/{quote.id}",
                   f"/alpha/portal/orders/{order.id}", f"/alpha/portal/deliveries/{delivery.id}",
                   f"/alpha/portal/contracts/{contract.id}", "/alpha/portal/"],
    }


def _check_phone(page: Any, url: str) -> dict[str, Any]:
    page.goto(url)
    assert_fits_width(page, "phone")
    seen = page.evaluate(MEASURE)
    width = VIEWPORTS["phone"]["width"]
    for table in seen["tables"]:
        assert table["width"] <= table["room"] + 1, f"{url}: table {table} is cut"
        assert table["right"] <= width + 1, f"{url}: table {table} leaves the screen"
        assert table["head"] == "none", f"{url}: table {table} is not stacked"
    for amount in seen["amounts"]:
        assert amount["lines"] == 1, f"{url}: {amount} wraps"
        assert amount["right"] <= width + 1, f"{url}: {amount} leaves the screen"
    return seen


@pytest.mark.parametrize("face", ["backoffice", "portal"])
def test_detail_tables_fit_a_phone_and_amounts_stay_on_one_line(
        face: str, documents: dict[str, Any], open_page: Callable[..., tuple[Any, PageProblems]],
        backend: str) -> None:
    users = ["sales"] if face == "backoffice" else ["agent", "subscriber"]
    for role in users:
        page, problems = open_page("phone")
        login_path = "/alpha/login" if face == "backoffice" else "/alpha/portal/login"
        _log_in(page, login_path, documents[role].email, documents[face][0])
        tables = amounts = 0
        for url in documents[face]:
            seen = _check_phone(page, url)
            tables += len(seen["tables"])
            amounts += len(seen["amounts"])
        # The checks ran on real tables and amounts.
        assert tables >= (6 if face == "backoffice" else 4) and amounts >= 20
        screenshot(page, f"{face}-{role}-detail-phone-{backend}")
        page.goto(documents[face][0])
        screenshot(page, f"{face}-{role}-invoice-phone-{backend}")
        problems.assert_none()


@pytest.mark.parametrize("face", ["backoffice", "portal"])
def test_on_a_desktop_detail_tables_are_tables(
        face: str, documents: dict[str, Any],
        open_page: Callable[..., tuple[Any, PageProblems]]) -> None:
    page, problems = open_page("desktop")
    role, login_path = ("sales", "/alpha/login") if face == "backoffice" \
        else ("agent", "/alpha/portal/login")
    _log_in(page, login_path, documents[role].email, documents[face][0])
    for url in (documents[face][0], documents[face][-1]):
        page.goto(url)
        seen = page.evaluate(MEASURE)
        assert seen["tables"], url
        for table in seen["tables"]:
            assert table["display"] == "table" and table["head"] != "none", f"{url}: {table}"
        for amount in seen["amounts"]:
            assert amount["lines"] == 1, f"{url}: {amount} wraps"
    problems.assert_none()
