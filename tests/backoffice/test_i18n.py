"""French or English: the user's setting, else the browser's; dates and amounts per locale."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models import User
from tests.backoffice.conftest import en, fr, text
from tests.conftest import login


def _lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.data.decode()).group(1)


def test_french_by_default(admin_client, make_invoice):
    invoice = make_invoice()
    response = admin_client.get(f"/alpha/invoices/{invoice.id}")
    assert _lang(response) == "fr"
    page = text(response)
    assert "1 481,47 €" in page and "10/10/2026" in page
    assert fr("Dashboard") in page


def test_english_from_the_browser(admin_client, make_invoice):
    invoice = make_invoice()
    response = en(admin_client).get(f"/alpha/invoices/{invoice.id}")
    assert _lang(response) == "en"
    page = text(response)
    assert "€1,481.47" in page and "Dashboard" in page
    # Four-digit year, day first: "10/10/26" could be read as 2010 or as another day.
    assert "10 Oct 2026" in page and "10/10/26" not in page


def test_browser_preferences_are_weighed(admin_client, make_invoice):
    make_invoice()
    admin_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de-DE,de;q=0.9,en;q=0.8,fr;q=0.5"
    assert _lang(admin_client.get("/alpha/invoices/")) == "en"
    admin_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de-DE"
    assert _lang(admin_client.get("/alpha/invoices/")) == "fr"  # the tenant's language


def test_profile_setting_beats_the_browser(admin_client, admin_user, make_invoice):
    invoice = make_invoice()
    assert admin_client.get("/alpha/profile").status_code == 200
    response = admin_client.post("/alpha/profile", data={"locale": "en"})
    assert response.status_code == 302
    assert db.session.scalar(select(User.locale).where(User.id == admin_user.id)) == "en"
    admin_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr-FR,fr"
    page = text(admin_client.get(f"/alpha/invoices/{invoice.id}"))
    assert "€1,481.47" in page and "Your settings are saved." in text(
        admin_client.post("/alpha/profile", data={"locale": "en"}, follow_redirects=True))
    # Back to the browser's language.
    admin_client.post("/alpha/profile", data={"locale": ""})
    assert db.session.scalar(select(User.locale).where(User.id == admin_user.id)) is None
    assert "1 481,47 €" in text(admin_client.get(f"/alpha/invoices/{invoice.id}"))


def test_profile_refuses_an_unknown_language(admin_client, admin_user):
    response = admin_client.post("/alpha/profile", data={"locale": "de"})
    assert response.status_code == 200
    assert "is-invalid" in response.data.decode()
    assert db.session.scalar(select(User.locale).where(User.id == admin_user.id)) is None


def test_language_links_on_the_login_page(client, tenant):
    page = client.get("/alpha/login").data.decode()
    assert "/alpha/language/en" in page and "/alpha/language/fr" in page
    response = client.get("/alpha/language/en?next=/alpha/login")
    assert response.status_code == 302
    assert _lang(client.get("/alpha/login")) == "en"
    client.get("/alpha/language/xx?next=/alpha/login")
    assert _lang(client.get("/alpha/login")) == "en"
    client.get("/alpha/language/fr")
    assert _lang(client.get("/alpha/login")) == "fr"


def test_a_users_language_follows_him_at_login(app, make_user, make_invoice):
    user = make_user("sales", locale="en")
    invoice = make_invoice()
    client = login(app.test_client(), user)
    assert "€1,481.47" in text(client.get(f"/alpha/invoices/{invoice.id}"))


def test_french_amounts_and_dates_in_lists(admin_client, make_invoice):
    make_invoice()
    page = text(admin_client.get("/alpha/invoices/"))
    assert "1 481,47 €" in page and "10/11/2026" in page


def test_typed_amounts_are_read_in_both_styles(admin_client, make_deal):
    deal = make_deal()
    for typed, stored in (("1 234,56", "1234.56"), ("1,234.56", "1234.56"), ("1234.5", "1234.50"),
                          ("1.234,56", "1234.56"), ("12 500 €", "12500.00")):
        response = admin_client.post(f"/alpha/deals/{deal.id}/edit", data={
            "title": deal.title, "account": f"#{deal.account_id}", "stage": "proposal",
            "amount": typed})
        assert response.status_code == 302, typed
        db.session.expire_all()
        assert str(deal.amount) == stored, typed


def test_error_pages_are_translated(admin_client):
    response = admin_client.get("/alpha/invoices/999999")
    assert response.status_code == 404
    assert fr("Page not found") in text(response)
    assert "Page not found" in text(en(admin_client).get("/alpha/invoices/999999"))


def test_a_new_language_setting_answers_in_that_language(admin_client):
    admin_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    response = admin_client.post("/alpha/profile", data={"locale": "en"}, follow_redirects=True)
    assert "Your settings are saved." in text(response)


def _language_switch(page: str) -> dict[str, str]:
    form = page[page.index('id="language-switch"'):]
    form = form[:form.index("</form>")]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def test_the_menu_switches_language_and_stays_on_the_page(admin_client, admin_user,
                                                          make_invoice):
    invoice = make_invoice()
    url = f"/alpha/invoices/{invoice.id}"
    page = admin_client.get(url).data.decode()
    assert ">English</span>" in page
    switch = _language_switch(page)
    assert switch["locale"] == "en" and switch["next"] == url
    response = admin_client.post("/alpha/profile", data=switch)
    assert response.status_code == 302 and response.headers["Location"] == url
    page = admin_client.get(url).data.decode()
    assert _lang(admin_client.get(url)) == "en" and "€1,481.47" in page
    assert ">Français</span>" in page  # and back
    response = admin_client.post("/alpha/profile", data=_language_switch(page))
    assert "1 481,47 €" in text(admin_client.get(response.headers["Location"]))
    assert db.session.scalar(select(User.locale).where(User.id == admin_user.id)) == "fr"
