"""In a real browser, on a desktop and on a phone: the header's search box is in sight without
opening the menu, and a search typed without accents finds the customer with them."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.models import Role, Tenant
from tests.browser.conftest import PageProblems, screenshot
from tests.browser.test_account_custom_field import assert_fits_width, log_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_header_search_finds_a_customer_typed_without_accents(
        viewport: str, tenant: Tenant, make_user: Callable[..., Any],
        make_account: Callable[..., Any], make_contact: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], backend: str) -> None:
    admin = make_user(Role.ADMIN.value)
    lac = make_account(name="Hôtel du Lac", city="Annecy")
    make_contact(account=lac.id, first_name="Hélène", last_name="Lefèvre")
    make_account(name="Garage Martin")
    page, problems = open_page(viewport)
    log_in(page, admin.email)
    box = page.locator("nav.navbar form[role=search] input[name=q]")
    assert box.is_visible()  # on a phone too: not behind the menu button
    box.fill("HOTEL du lac")
    box.press("Enter")
    page.wait_for_url("**/alpha/search?q=*")
    accounts = page.locator("#results-accounts")
    assert accounts.get_by_text("Hôtel du Lac").is_visible()
    assert page.get_by_text("Garage Martin").count() == 0
    assert_fits_width(page, viewport)
    screenshot(page, f"header-search-{viewport}-{backend}")
    page.locator("#search-q").fill("helene lefevre")
    page.locator("#search-q").press("Enter")
    page.wait_for_url("**q=helene*")
    assert page.locator("#results-contacts").get_by_text("Lefèvre").is_visible()
    problems.assert_none()
