"""The extranet in a real browser on a phone: an agent finds an invoice and downloads its
attachment; a subscriber changes his phone number. Selectors use ids, hrefs and roles: the
browser asks for French."""
from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from app.extensions import db
from app.models import Account, AuditEvent
from app.services.attachments import add_attachment
from tests.browser.conftest import PageProblems, screenshot
from tests.browser.test_account_custom_field import assert_fits_width
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def log_in_portal(page: Any, email: str, wanted: str) -> None:
    page.goto(wanted)  # sent to the extranet's login page, then back
    assert "/alpha/portal/login" in page.url
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"**{wanted}")


def test_an_agent_on_a_phone_filters_invoices_and_downloads_an_attachment(
        tenant: Any, make_user: Callable[..., Any], make_partner: Callable[..., Any],
        make_account: Callable[..., Any], make_invoice: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], backend: str) -> None:
    partner = make_partner(name="Agence du Nord")
    customer = make_account(name="Stores Lefebvre", partner=partner.id)
    paid = make_invoice(account=customer.id, status="paid", issued_on=date(2026, 9, 1))
    issued = make_invoice(account=customer.id, status="issued", issued_on=date(2026, 10, 1))
    foreign = make_invoice(status="issued")  # another partner's customer
    add_attachment(paid, "facture-payee.pdf", io.BytesIO(b"%PDF-1.4 facture payee"))
    db.session.commit()
    agent = make_user("agent", partner_id=partner.id)

    page, problems = open_page("phone")
    log_in_portal(page, agent.email, "/alpha/portal/invoices/")
    cards = page.locator("#record-cards")
    assert cards.get_by_text(paid.number).is_visible()
    assert cards.get_by_text(issued.number).is_visible()
    assert page.get_by_text(foreign.number).count() == 0

    page.locator("#toggle-filters").click()
    page.locator("#status").select_option("paid")
    page.locator("#filters button[type=submit]").click()
    page.wait_for_url("**status=paid**")
    assert cards.get_by_text(issued.number).count() == 0
    assert_fits_width(page, "phone")
    screenshot(page, f"portal-invoices-phone-{backend}")

    cards.get_by_text(paid.number).click()
    page.wait_for_url(f"**/alpha/portal/invoices/{paid.id}")
    assert_fits_width(page, "phone")
    screenshot(page, f"portal-invoice-phone-{backend}")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="facture-payee.pdf").click()
    download = download_info.value
    assert download.suggested_filename == "facture-payee.pdf"
    with open(download.path(), "rb") as saved:
        assert saved.read() == b"%PDF-1.4 facture payee"
    problems.assert_none()


def test_a_subscriber_on_a_phone_changes_his_phone_number(
        tenant: Any, make_user: Callable[..., Any], make_account: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], backend: str) -> None:
    account = make_account(name="Famille Morel", phone="01 02 03 04 05")
    subscriber = make_user("subscriber", account_id=account.id)

    page, problems = open_page("phone")
    log_in_portal(page, subscriber.email, "/alpha/portal/")
    nav = page.locator("nav.navbar")
    nav.locator(".navbar-toggler").click()
    # Bootstrap animates the menu open ("collapsing"): click once it is open ("show").
    page.locator("#nav.collapse.show").wait_for()
    nav.locator("a.nav-link[href='/alpha/portal/profile']").click()
    page.wait_for_url("**/alpha/portal/profile")
    phone = page.locator("#contact-phone")
    assert phone.input_value() == "01 02 03 04 05"
    phone.fill("06 11 22 33 44")
    page.locator("#contact-form [type=submit]").click()
    page.wait_for_url("**/alpha/portal/profile")
    assert page.locator(".alert-success").is_visible()
    assert page.locator("#contact-phone").input_value() == "06 11 22 33 44"
    assert_fits_width(page, "phone")
    screenshot(page, f"portal-profile-phone-{backend}")
    problems.assert_none()

    db.session.expire_all()
    assert db.session.get(Account, account.id).phone == "06 11 22 33 44"
    event = db.session.query(AuditEvent).filter_by(entity="accounts", action="update").one()
    assert event.actor_id == subscriber.id


def test_an_agent_sees_the_quote_to_answer_as_a_document_on_a_phone_and_a_desktop(
        tenant: Any, make_user: Callable[..., Any], make_partner: Callable[..., Any],
        make_account: Callable[..., Any], make_quote: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], backend: str) -> None:
    from tests.pdf_support import pdf_text

    partner = make_partner(name="Agence du Nord")
    customer = make_account(name="Stores Lefebvre", partner=partner.id)
    quote = make_quote(account=customer.id, valid_until=date(2026, 12, 31))
    agent = make_user("agent", partner_id=partner.id)
    detail = f"/alpha/portal/quotes/{quote.id}"

    page, problems = open_page("phone")
    log_in_portal(page, agent.email, detail)
    summary = page.locator("#quote-summary")
    assert "960,00" in summary.inner_text() and "31/12/2026" in summary.inner_text()
    assert not page.locator("#quote-preview").is_visible()  # a phone gets links instead
    assert_fits_width(page, "phone")
    screenshot(page, f"portal-quote-phone-{backend}")
    with page.expect_download() as download_info:
        page.locator("#answer-quote").get_by_role("link", name="Télécharger le PDF").click()
    download = download_info.value
    assert download.suggested_filename == f"devis-{quote.number.lower()}.pdf"
    with open(download.path(), "rb") as saved:
        assert quote.number in pdf_text(saved.read())
    problems.assert_none()

    page, problems = open_page("desktop")
    log_in_portal(page, agent.email, detail)
    preview = page.locator("#quote-preview")
    assert preview.is_visible() and preview.bounding_box()["height"] > 300
    screenshot(page, f"portal-quote-desktop-{backend}")
    problems.assert_none()  # framing the PDF breaks no Content-Security-Policy
