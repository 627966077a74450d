"""Subscribing online in a real browser, on a 390 px phone and on a desktop: details (a
mistake answered beside its field, nothing typed lost), the contract, the code read from the
mail a real SMTP server received, the thanks. The sealed PDF then passes pyHanko's validation,
a tampered copy fails it, and the evidence names every step."""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models import Signature, Subscription
from app.services import subscriptions as service
from tests.browser.conftest import PageProblems, screenshot
from tests.browser.test_account_custom_field import assert_fits_width
from tests.pdf_support import pyhanko_validation
from tests.selling.subscribe_support import code_from, selling
from tests.webhooks.conftest import inbox  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def _fill_details(page: Any, iban: str) -> None:
    page.locator("#f-first_name").fill("Hélène")
    page.locator("#f-last_name").fill("Dupré")
    page.locator("#f-email").fill("helene@example.com")
    page.locator("#f-building_number").fill("4")
    page.locator("#f-street").fill("Avenue des Châtaigniers")
    page.locator("#f-postal_code").fill("69003")
    page.locator("#f-town").fill("Lyon")
    page.locator('[name="custom.plaque"]').fill("AB-123-CD")
    page.locator("#f-iban").fill(iban)


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_a_customer_subscribes_signs_and_gets_a_sealed_contract(
        viewport: str, tenant: Any, inbox: Any, app: Any, backend: str,  # noqa: F811
        open_page: Callable[..., tuple[Any, PageProblems]]) -> None:
    selling()
    page, problems = open_page(viewport)
    page.goto("/alpha/subscribe/")
    page.get_by_role("link", name="Souscrire").click()
    page.wait_for_url("**/alpha/subscribe/badge")
    assert_fits_width(page, viewport)

    _fill_details(page, "FR76 3000 6000 0112 3456 7890 180")  # one digit wrong
    page.get_by_role("button", name="Continuer vers le contrat").click()
    assert page.locator("#e-iban").is_visible()
    assert "clé" in page.locator("#e-iban").inner_text() or \
        "chiffres" in page.locator("#e-iban").inner_text()
    assert page.locator("#f-town").input_value() == "Lyon"  # nothing typed lost
    assert page.locator('[name="custom.plaque"]').input_value() == "AB-123-CD"
    screenshot(page, f"subscribe-details-error-{viewport}-{backend}")
    page.locator("#f-iban").fill("FR76 3000 6000 0112 3456 7890 189")
    page.get_by_role("button", name="Continuer vers le contrat").click()

    page.wait_for_url("**/alpha/subscribe/badge/review")
    reference = page.locator("#umr").inner_text().strip()
    assert reference.startswith("M")
    assert_fits_width(page, viewport)
    contract = page.context.request.get(page.locator("#contract-link").get_attribute("href"))
    assert contract.headers["content-type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(contract.body())).pages)
    assert reference in " ".join(text.split()) and "Hélène Dupré" in text
    screenshot(page, f"subscribe-review-{viewport}-{backend}")
    page.locator("#f-consent").check()
    page.get_by_role("button", name="Signer : m’envoyer un code").click()

    page.wait_for_url("**/alpha/subscribe/badge/code")
    code = code_from(inbox)
    assert code not in page.content()
    page.locator("#f-code").fill(code)
    assert_fits_width(page, viewport)
    page.get_by_role("button", name="Signer", exact=True).click()
    page.wait_for_url("**/alpha/subscribe/badge/done")
    assert page.get_by_text("Votre abonnement à Badge mensuel est signé.").is_visible()
    assert reference in page.inner_text("main")
    assert_fits_width(page, viewport)
    screenshot(page, f"subscribe-done-{viewport}-{backend}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger mon contrat signé").click()
    sealed = open(download.value.path(), "rb").read()
    # The one 422 expected: the details with the wrong IBAN.
    expected = [m for m in problems.console_errors + problems.failed_responses
                if "422" in m and "/alpha/subscribe/badge" in m and "/review" not in m]
    assert len(expected) == 2, problems
    problems.console_errors = [m for m in problems.console_errors if m not in expected]
    problems.failed_responses = [m for m in problems.failed_responses if m not in expected]
    problems.assert_none()

    status = pyhanko_validation(sealed)
    assert status.intact and status.valid and status.trusted and status.bottom_line
    # A copy with one byte of the contract changed fails the same validation.
    start = sealed.index(b"stream", 200) + 20
    tampered = sealed[:start] + bytes([sealed[start] ^ 0x01]) + sealed[start + 1:]
    assert not pyhanko_validation(tampered).intact

    db.session.expire_all()
    subscription = db.session.scalar(select(Subscription))
    assert subscription.status == "signed" and subscription.mandate_reference == reference
    assert service.file_of(subscription).read_bytes() == sealed
    signature = db.session.get(Signature, subscription.signature_id)
    events = signature.events
    assert [e["event"] for e in events] == ["consented", "code_sent", "signed", "sealed"]
    assert all(e["ip"] == "127.0.0.1" and "Chrome" in e["user_agent"] for e in events[:3])
    trail = PdfReader(io.BytesIO(sealed)).pages[-1].extract_text()
    flat = " ".join(trail.split())
    assert "helene@example.com" in flat and signature.document_sha256[:16] in flat
    assert "127.0.0.1" in flat
