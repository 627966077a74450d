"""In a real browser, on a desktop and on a phone: log in, create a customer with a custom-field
value, find it again with the list's filter. Selectors use ids and roles, not wording: the
browser asks for French, and the interface's words are translated."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from app.extensions import db
from app.models import Role, Tenant
from app.services.custom_field_defs import create_field
from tests.browser.conftest import VIEWPORTS, PageProblems, screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def log_in(page: Any, email: str) -> None:
    page.goto("/alpha/accounts/")  # redirected to the login page, then back here
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/alpha/accounts/")


def assert_fits_width(page: Any, viewport: str) -> None:
    """No sideways scrolling: the page is no wider than the screen."""
    width = VIEWPORTS[viewport]["width"]
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width + 1, f"{page.url} is {scroll_width}px wide at {width}px"


def assert_menu_on_one_line(page: Any) -> None:
    """On a desktop the menu is one row of unbroken labels (French ones are long)."""
    height = page.locator("nav.navbar").bounding_box()["height"]
    assert height < 64, f"the menu wraps onto several lines ({height}px high)"


def create_segment_field_in_admin(page: Any) -> None:
    page.goto("/alpha/admin/custom-fields/new")
    page.locator("#entity").select_option("accounts")
    page.locator("#key").fill("segment")
    page.locator("#label_fr").fill("Segment")
    page.locator("#label_en").fill("Segment")
    page.locator("#type").select_option("choice")
    page.locator("#choices").fill("Artisan\nGrand compte")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/alpha/admin/custom-fields")
    assert page.locator("#custom-fields").get_by_text("segment", exact=True).is_visible()


def open_accounts_list(page: Any, viewport: str) -> None:
    """Through the navigation bar, as a user would (on a phone, behind the menu button)."""
    nav = page.locator("nav.navbar")
    if viewport == "phone":
        nav.locator(".navbar-toggler").click()
        # Bootstrap animates the menu open ("collapsing"): click once it is open ("show").
        page.locator("#nav.collapse.show").wait_for()
    nav.locator("a.nav-link[href='/alpha/accounts/']").click()
    page.wait_for_url("**/alpha/accounts/")


CASES = {
    # viewport: (custom field, how it is made, new account's value, other's value, filter typed)
    "desktop": ("segment", "admin UI", "Grand compte", "Artisan", "Grand compte"),
    "phone": ("promoteur", "service", "Bouygues Immobilier", "Nexity", "bouygues"),
}


@pytest.mark.parametrize("viewport", list(CASES))
def test_create_account_with_custom_field_and_filter(
        viewport: str, tenant: Tenant, make_user: Callable[..., Any],
        make_account: Callable[..., Any], open_page: Callable[..., tuple[Any, PageProblems]],
        backend: str) -> None:
    key, made_by, value, other_value, typed = CASES[viewport]
    admin = make_user(Role.ADMIN.value)
    if made_by == "service":
        create_field({"entity": "accounts", "key": key, "label_fr": "Promoteur",
                      "label_en": "Developer", "type": "text"})
        db.session.commit()
        make_account(name="Menuiserie Dubois", custom={key: other_value})
    page, problems = open_page(viewport)

    log_in(page, admin.email)
    if made_by == "admin UI":
        create_segment_field_in_admin(page)
        make_account(name="Menuiserie Dubois", custom={key: other_value})

    page.goto("/alpha/accounts/new")
    form = page.locator("#record-form")
    form.locator("#name").fill("Stores Lumière SAS")
    form.locator("#kind").select_option("company")
    form.locator("#country").fill("FR")
    form.locator("#city").fill("Villeurbanne")
    custom_input = form.locator(f"#cf_{key}")
    if made_by == "admin UI":
        custom_input.select_option(value)
    else:
        custom_input.fill(value)
    assert_fits_width(page, viewport)
    screenshot(page, f"account-form-{viewport}-{backend}")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/alpha/accounts/*/360")
    assert page.locator("h1").inner_text() == "Stores Lumière SAS"
    assert page.get_by_text(value, exact=True).first.is_visible()
    assert_fits_width(page, viewport)
    screenshot(page, f"account-360-{viewport}-{backend}")

    open_accounts_list(page, viewport)
    # A user sees the table on a desktop and the cards on a phone, never both.
    shown, hidden = (("#records", "#record-cards") if viewport == "desktop"
                     else ("#record-cards", "#records"))
    results = page.locator(shown)
    assert results.get_by_text("Menuiserie Dubois").is_visible()  # before filtering, both
    assert results.get_by_text("Stores Lumière SAS").is_visible()
    filters = page.locator("#filters")
    filter_input = filters.locator(f"#cf_{key}")
    if not filter_input.is_visible():  # on a phone, the filters beyond search fold away
        filters.locator("[data-bs-toggle=collapse]").click()
        filter_input.wait_for(state="visible")
    if made_by == "admin UI":
        filter_input.select_option(value)
    else:
        filter_input.fill(typed)
    filters.locator("button[type=submit]").click()
    page.wait_for_url(f"**/alpha/accounts/?*cf_{key}=*")

    assert page.locator(shown).is_visible()
    assert page.locator(hidden).is_hidden()
    assert results.get_by_text("Stores Lumière SAS").is_visible()
    assert results.get_by_text(value).is_visible()
    assert results.get_by_text("Menuiserie Dubois").count() == 0
    assert re.match(r"\s*1\D", page.locator("#result-count").inner_text())

    assert_fits_width(page, viewport)
    if viewport == "desktop":
        assert_menu_on_one_line(page)
    screenshot(page, f"accounts-filtered-{viewport}-{backend}")
    problems.assert_none()
