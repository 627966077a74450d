"""On a phone: numbers dial from anywhere (E.164 `tel:` links, read in the record's country),
and each input brings up the right keyboard (type=tel, type=email)."""
from __future__ import annotations

import re

from app.models import Role
from tests.portal.conftest import portal_login


def _input_type(html: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    assert tag is not None, name
    return re.search(r'\btype="([^"]+)"', tag.group(0)).group(1)


def test_phone_links_dial_in_e164_in_the_account_country(admin_client, make_account,
                                                        make_contact, make_partner):
    french = make_account(name="Stores Morel", phone="06 12 34 56 78", country="FR")
    belgian = make_account(name="Volets Peeters", phone="02 123 45 67", country="BE")
    contact = make_contact(account=belgian.id, phone="0470 12 34 56")
    partner = make_partner(phone="01 02 03 04 05")

    page = admin_client.get(f"/alpha/accounts/{french.id}/360").data.decode()
    assert 'href="tel:+33612345678"' in page and "06 12 34 56 78" in page
    page = admin_client.get(f"/alpha/accounts/{belgian.id}/360").data.decode()
    assert 'href="tel:+3221234567"' in page
    assert 'href="tel:+32470123456"' in page  # the contact, in his account's country
    page = admin_client.get(f"/alpha/contacts/{contact.id}").data.decode()
    assert 'href="tel:+32470123456"' in page
    page = admin_client.get(f"/alpha/partners/{partner.id}").data.decode()
    assert 'href="tel:+33102030405"' in page  # no country of his own: France
    page = admin_client.get("/alpha/contacts/").data.decode()
    assert 'href="tel:+32470123456"' in page


def test_back_office_forms_ask_phones_and_emails_with_their_keyboards(admin_client,
                                                                      make_field):
    make_field("accounts", "mail_compta", type="email")
    make_field("accounts", "site", type="url")
    for name in ("accounts", "contacts", "partners"):
        page = admin_client.get(f"/alpha/{name}/new").data.decode()
        assert _input_type(page, "phone") == "tel", name
        assert _input_type(page, "email") == "email", name
    page = admin_client.get("/alpha/accounts/new").data.decode()
    assert _input_type(page, "cf_mail_compta") == "email"
    assert _input_type(page, "cf_site") == "url"


def test_login_and_profile_forms_use_the_email_and_phone_keyboards(app, client, make_user,
                                                                  make_account):
    for path in ("/alpha/login", "/alpha/portal/login", "/alpha/portal/password/forgot"):
        assert _input_type(client.get(path).data.decode(), "email") == "email", path
    account = make_account(name="Famille Morel")
    subscriber = portal_login(app.test_client(),
                              make_user(Role.SUBSCRIBER.value, account_id=account.id))
    page = subscriber.get("/alpha/portal/profile").data.decode()
    assert _input_type(page, "contact-phone") == "tel"
    assert _input_type(page, "contact-email") == "email"
