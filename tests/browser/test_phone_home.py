"""A salesperson's home in a real browser: on a 390 px phone his own day (activities, his
customers' overdue invoices, his customers) without the company's figures; on a desktop the
company's dashboard."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from app.models import Role, Tenant
from tests.browser.conftest import PageProblems, screenshot
from tests.browser.test_account_custom_field import assert_fits_width
from tests.conftest import PASSWORD, local_day

pytestmark = pytest.mark.browser


def test_a_salesperson_phone_home_is_his_own_day(
        tenant: Tenant, make_user: Callable[..., Any], make_account: Callable[..., Any],
        make_invoice: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], backend: str) -> None:
    sales = make_user(Role.SALES.value)
    other = make_user(Role.SALES.value)
    mine = make_account(name="Hôtel du Lac", owner=sales.id, phone="04 78 00 00 00")
    theirs = make_account(name="Atelier André", owner=other.id)
    make_invoice(number="F-MINE", account=mine.id, due_on=local_day() - timedelta(days=8))
    make_invoice(number="F-THEIRS", account=theirs.id, due_on=local_day() - timedelta(days=8))

    for viewport in ("phone", "desktop"):
        page, problems = open_page(viewport)
        page.goto("/alpha/")
        page.locator("input[name=email]").fill(sales.email)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url("**/alpha/")
        overdue, company = page.locator("#my-overdue"), page.locator("#company-dashboard")
        if viewport == "phone":
            assert overdue.is_visible() and not company.is_visible()
            assert overdue.get_by_text("F-MINE").is_visible()
            assert overdue.get_by_text("F-THEIRS").count() == 0
            assert page.locator("#my-customers").get_by_text("Hôtel du Lac").is_visible()
            assert_fits_width(page, "phone")
        else:
            assert company.is_visible() and not overdue.is_visible()
        screenshot(page, f"phone-home-{viewport}-{backend}")
        problems.assert_none()
