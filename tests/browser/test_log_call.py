"""On a phone (390 px), in a real browser: a salesperson calls a customer from its page and
logs the call with one tap, then adds a note; the call shows in the customer's timeline."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Activity, Role, Tenant
from tests.browser.conftest import PageProblems, screenshot
from tests.browser.test_account_custom_field import assert_fits_width
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_a_call_is_logged_in_one_tap_from_a_customer_page_on_a_phone(
        tenant: Tenant, make_user: Callable[..., Any], make_account: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], backend: str) -> None:
    sales = make_user(Role.SALES.value)
    account = make_account(name="Stores Lumière SAS", phone="04 78 00 00 00")
    page, problems = open_page("phone")
    page.goto(f"/alpha/accounts/{account.id}/360")
    page.locator("input[name=email]").fill(sales.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"**/alpha/accounts/{account.id}/360")

    phone_link = page.locator("a[href='tel:+33478000000']").first
    assert phone_link.is_visible()
    log_call = page.locator("button.log-call").first
    assert log_call.is_visible()
    box = log_call.bounding_box()
    assert box["width"] <= 390 and box["height"] >= 30  # a target a thumb can hit
    assert_fits_width(page, "phone")
    screenshot(page, f"log-call-360-phone-{backend}")

    log_call.tap()  # the one tap
    page.wait_for_url(re.compile(r".*/alpha/activities/\d+/note\?next=.*"))
    db.session.expire_all()
    call = db.session.scalars(select(Activity).where(Activity.account_id == account.id)).one()
    assert (call.kind, call.owner_id) == ("call", sales.id) and call.done_at is not None

    page.locator("#body").fill("Rappeler lundi pour le devis")
    assert_fits_width(page, "phone")
    page.locator("#note-form button[type=submit]").tap()
    page.wait_for_url(re.compile(rf".*/alpha/accounts/{account.id}/360(#timeline)?$"))
    timeline = page.locator("#timeline-items")
    assert timeline.get_by_text("Rappeler lundi pour le devis").is_visible()
    assert_fits_width(page, "phone")
    screenshot(page, f"log-call-timeline-phone-{backend}")
    problems.assert_none()
