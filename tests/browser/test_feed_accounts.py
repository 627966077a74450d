"""In a real browser: an admin creates an SFTP account for a feed, sees its login and how to
send a file, on a desktop and on a phone, under the CSP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.models import Role, Tenant
from app.services import feeds
from tests.browser.conftest import PageProblems, screenshot
from tests.browser.test_account_custom_field import assert_fits_width, log_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_create_an_sftp_account(
    viewport: str,
    tenant: Tenant,
    make_user: Callable[..., Any],
    open_page: Callable[..., tuple[Any, PageProblems]],
    backend: str,
) -> None:
    from app.extensions import db

    admin = make_user(Role.ADMIN.value)
    feeds.create_profile(
        {
            "name": "clients-nuit",
            "entity": "accounts",
            "columns": {"Code": "external_ref", "Nom": "name"},
        }
    )
    db.session.commit()
    page, problems = open_page(viewport)
    log_in(page, admin.email)

    page.goto("/alpha/feeds/accounts")
    page.get_by_role("link", name="Nouveau compte").click()
    page.locator("#name").fill("erp-nuit")
    page.locator("#password").fill("un-mot-de-passe-long")
    page.locator("#routes").fill("clients/*.csv=clients-nuit")
    page.locator("#quota_mb").fill("100")
    assert_fits_width(page, viewport)
    screenshot(page, f"feed-account-form-{viewport}-{backend}")
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/alpha/feeds/accounts/*")
    assert "alpha.erp-nuit" in page.locator("h1").inner_text()
    assert "rename clients.csv.part clients.csv" in page.locator("main pre").inner_text()
    assert_fits_width(page, viewport)
    screenshot(page, f"feed-account-{viewport}-{backend}")

    page.goto("/alpha/feeds/accounts")
    assert "clients/*.csv=clients-nuit" in page.locator("#feed-accounts").inner_text()
    screenshot(page, f"feed-accounts-{viewport}-{backend}")
    problems.assert_none()
