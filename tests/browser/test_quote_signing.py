"""A quote signed by link on a phone (390 px): the customer reviews it, gives his SEPA mandate,
asks for his code, reads it in his mail and signs; the page never shows the code, and CSRF
checks are on as in production."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from app.extensions import db
from app.models import Mandate, Quote
from app.services.offers import set_creditor
from app.services.quote_links import create_link
from tests.browser.conftest import PageProblems, screenshot
from tests.browser.test_account_custom_field import assert_fits_width
from tests.selling.test_offers_api import CREDITOR
from tests.webhooks.conftest import inbox  # noqa: F401  (fixture, asked for by name)

pytestmark = pytest.mark.browser


def test_a_customer_signs_a_quote_with_a_mandate_on_a_phone(
        app: Any, tenant: Any, make_quote: Callable[..., Any], live_server: str,
        open_page: Callable[..., tuple[Any, PageProblems]], backend: str,
        request: pytest.FixtureRequest, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    mails = request.getfixturevalue("inbox")
    monkeypatch.setitem(app.config, "ESIGN_CERT_FILE", str(tmp_path / "seal" / "cert.pem"))
    monkeypatch.setitem(app.config, "ESIGN_KEY_FILE", str(tmp_path / "seal" / "key.pem"))
    set_creditor({**CREDITOR, "name": "Telepeage Services"})
    quote = make_quote(number="D-2026-777")
    with app.test_request_context(base_url=live_server):
        issued = create_link(quote, email="helene@example.com", asks_mandate=True)
    db.session.commit()
    path = issued.url.removeprefix(live_server)

    page, problems = open_page("phone")
    page.goto(path)
    assert page.locator("#quote-summary").get_by_text("D-2026-777").first.is_visible()
    assert page.locator("#mandate-text").is_visible()
    assert_fits_width(page, "phone")
    page.locator("#name").fill("Hélène Dupré")
    page.locator("#street").fill("Avenue des Châtaigniers")
    page.locator("#building_number").fill("4 bis")
    page.locator("#postal_code").fill("69003")
    page.locator("#town").fill("Lyon")
    page.locator("#iban").fill("FR76 3000 6000 0112 3456 7890 189")
    page.locator("#consent").check()
    screenshot(page, f"quote-signing-phone-{backend}")
    page.locator("#ask-code").click()
    page.wait_for_url(f"**{path}/code")
    body = mails.messages[-1].get_body(("plain",)).get_content()
    code = re.search(r"\b(\d{6})\b", body).group(1)
    assert code not in page.content()
    assert_fits_width(page, "phone")
    page.locator("#code").fill(code)
    page.locator("#sign").click()
    page.wait_for_selector("#link-closed[data-reason=signed]")
    assert_fits_width(page, "phone")
    screenshot(page, f"quote-signed-phone-{backend}")
    problems.assert_none()

    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "accepted"
    mandate = db.session.query(Mandate).one()
    assert mandate.channel == "online" and mandate.debtor_name == "Hélène Dupré"
    assert len(mails.messages) == 3  # the link, the code, the signed copy
    assert mails.messages[-1]["To"] == "helene@example.com"
    assert any(part.get_filename() for part in mails.messages[-1].iter_attachments())
