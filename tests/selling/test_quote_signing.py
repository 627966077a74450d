"""Quotes signed by link: staff send a quote as a link; the customer reviews it without an
account, gives his mandate when asked, signs with a code from his mail; the quote is accepted
with the evidence, sealed and attached, the mandate registered. A link works once, until it
expires or is revoked, and only under its own tenant."""
from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app import esign
from app.entities import ENTITIES
from app.extensions import db
from app.models import Attachment, AuditEvent, Mandate, Quote, QuoteSigningLink, Signature
from app.services.attachments import storage_path
from app.services.offers import set_creditor
from app.services.records import create_record
from tests.backoffice.conftest import fr
from tests.conftest import login
from tests.conftest import page_text as _page_text
from tests.pdf_support import pyhanko_validation
from tests.selling.test_offers_api import CREDITOR

UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)"
DEBTOR = {"name": "Hélène Dupré", "street": "Avenue des Châtaigniers",
          "building_number": "4 bis", "postal_code": "69003", "town": "Lyon", "country": "FR",
          "iban": "FR76 3000 6000 0112 3456 7890 189", "consent": "y"}


def page_text(response) -> str:
    return html.unescape(_page_text(response))


@pytest.fixture(autouse=True)
def sealing(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "ESIGN_CERT_FILE", str(tmp_path / "seal" / "cert.pem"))
    monkeypatch.setitem(app.config, "ESIGN_KEY_FILE", str(tmp_path / "seal" / "key.pem"))


def _path(inbox) -> str:
    # The outbox's job threads may send the link and another mail in either order.
    found = [re.search(r"https?://[^/\s]+(/alpha/q/[A-Za-z0-9_-]+)",
                       message.get_body(("plain",)).get_content()) for message in inbox.messages]
    return [match for match in found if match][-1].group(1)


def _code(inbox) -> str:
    body = inbox.messages[-1].get_body(("plain",)).get_content()
    return re.search(r"\b(\d{6})\b", body).group(1)


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def _send(client, quote, **form) -> None:
    data = {"email": "helene@example.com", "days": "14", "language": "fr", **form}
    response = client.post(f"/alpha/quotes/{quote.id}/signing-link", data=data)
    assert response.status_code == 302, response.data[:300]


def _link(quote_id: int) -> QuoteSigningLink:
    db.session.expire_all()
    return db.session.scalars(select(QuoteSigningLink).where(
        QuoteSigningLink.quote_id == quote_id).order_by(QuoteSigningLink.id.desc())).first()


def test_a_customer_signs_the_quote_and_gives_his_mandate(app, admin, admin_client, make_quote,
                                                          inbox):
    set_creditor({**CREDITOR, "name": "Telepeage Services"})
    db.session.commit()
    quote = make_quote(status="draft", number="D-2026-042")
    _send(admin_client, quote, asks_mandate="y")
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "sent"  # through the audited write
    assert inbox.messages[-1]["To"] == "helene@example.com"
    path = _path(inbox)
    customer = app.test_client()
    customer.environ_base["HTTP_USER_AGENT"] = UA

    page = customer.get(path)
    assert page.status_code == 200
    text = page_text(page)
    assert "D-2026-042" in text and "960,00 €" in text and "Store banne" in text
    assert "Telepeage Services" in text and "8 semaines" in text  # the EPC mandate wording
    assert _link(quote.id).opened_at is not None
    assert customer.get(f"{path}/quote.pdf").mimetype == "application/pdf"

    wrong = customer.post(path, data={**DEBTOR, "name": "", "iban": "FR76 3000 6000 0112",
                                      "postal_code": "", "consent": ""})
    assert wrong.status_code == 422
    text = page_text(wrong)
    assert fr("Enter your first and last name.") in text
    assert fr("Tick the box to say you accept the quote.") in text
    assert "Avenue des Châtaigniers" in wrong.data.decode()  # nothing typed is lost
    assert len(inbox.messages) == 1  # no code for a wrong form

    started = customer.post(path, data=DEBTOR)
    assert started.status_code == 302 and started.location.endswith(f"{path}/code")
    code = _code(inbox)
    assert inbox.messages[-1]["To"] == "helene@example.com"
    assert code not in customer.get(f"{path}/code").data.decode()  # never in a page
    tried = customer.post(f"{path}/code", data={"code": _wrong(code)})
    assert tried.status_code == 422
    assert fr("Wrong code: %(left)d tries left.", left=4) in page_text(tried)

    signed = customer.post(f"{path}/code", data={"code": code})
    assert signed.status_code == 302
    done = customer.get(path)
    assert done.status_code == 200 and fr("The quote is signed") in page_text(done)

    db.session.expire_all()
    quote = db.session.get(Quote, quote.id)
    link = _link(quote.id)
    assert quote.status == "accepted" and quote.answered_by_id is None
    assert quote.answered_by_label.startswith("Hélène Dupré <helene@example.com>")
    signature = db.session.get(Signature, link.signature_id)
    assert signature.subject_type == "quote" and signature.subject_id == quote.id
    assert signature.status == "signed" and signature.sealed_sha256
    assert [e["event"] for e in signature.events] == [
        "consented", "code_sent", "code_wrong", "signed", "sealed"]
    assert signature.events[0]["user_agent"] == UA
    accepted = db.session.scalar(select(AuditEvent).where(
        AuditEvent.entity == "quotes", AuditEvent.record_id == quote.id,
        AuditEvent.action == "update", AuditEvent.actor_kind == "link"))
    assert accepted.before["status"] == "sent" and accepted.after["status"] == "accepted"
    assert accepted.after["answered_by_label"] == quote.answered_by_label
    assert accepted.actor_label == quote.answered_by_label
    mandate = db.session.get(Mandate, link.mandate_id)
    assert mandate.channel == "online" and mandate.account_id == quote.account_id
    assert mandate.iban == "FR7630006000011234567890189" and mandate.bic == "AGRIFRPPXXX"
    assert mandate.debtor_name == "Hélène Dupré" and mandate.building_number == "4 bis"

    attachment = db.session.get(Attachment, link.attachment_id)
    assert attachment.record_type == "quotes" and attachment.record_id == quote.id
    sealed = storage_path(quote.tenant_id, attachment.sha256).read_bytes()
    assert signature.sealed_sha256 == attachment.sha256
    check = esign.check_seal(sealed)
    assert check is not None and check.ok
    pages = "".join(page.extract_text() for page in PdfReader(io.BytesIO(sealed)).pages)
    assert "D-2026-042" in pages and mandate.reference in pages and "Hélène Dupré" in pages
    assert signature.document_sha256 in "".join(pages.split())  # the evidence page
    status = pyhanko_validation(sealed)
    assert status.intact and status.valid and status.trusted
    tampered = bytearray(sealed)
    tampered[len(tampered) // 3] ^= 0x01  # one bit, inside the signed range
    check = esign.check_seal(bytes(tampered))
    assert check is None or not check.ok

    # The customer's copy and the salesperson's notice, sent in either order.
    last = {message["To"]: message for message in inbox.messages[-2:]}
    assert sorted(last) == sorted(["helene@example.com", admin.email])
    files = [part for part in last["helene@example.com"].iter_attachments()]
    assert files and files[0].get_content() == sealed
    assert "Hélène Dupré" in last[admin.email]["Subject"]

    # Single use: the link opens nothing more than the "signed" page, and signs nothing.
    assert customer.post(path, data=DEBTOR).status_code == 200
    assert db.session.query(Signature).count() == 1


def test_the_bic_is_asked_when_the_iban_does_not_give_it(app, admin_client, make_quote,
                                                         inbox):
    set_creditor({**CREDITOR, "name": "Telepeage Services"})
    db.session.commit()
    _send(admin_client, make_quote(), asks_mandate="y")
    path = _path(inbox)
    customer = app.test_client()
    unknown_bank = "FR7699999000000000000000033"
    page = customer.post(path, data={**DEBTOR, "iban": unknown_bank})
    assert page.status_code == 422
    assert fr("Your bank's BIC cannot be found from this IBAN: enter it (it is on your bank "
              "details).") in page_text(page)
    wrong_country = customer.post(path, data={**DEBTOR, "iban": unknown_bank,
                                              "bic": "DEUTDEFF"})
    assert wrong_country.status_code == 422 and "DE" in page_text(wrong_country)
    outside = customer.post(path, data={**DEBTOR, "iban": "US12 3456 7890"})
    assert outside.status_code == 422
    country = customer.post(path, data={**DEBTOR, "country": "France"})
    assert fr("Enter the two-letter code of the country (e.g. FR).") in page_text(country)
    assert customer.post(path, data={**DEBTOR, "iban": unknown_bank, "bic": "BNPAFRPP"}) \
        .status_code == 302


def test_five_wrong_codes_end_the_code_and_a_new_one_can_be_asked(app, admin_client,
                                                                  make_quote, inbox):
    _send(admin_client, make_quote())
    path = _path(inbox)
    customer = app.test_client()
    assert customer.post(path, data={"name": "Paul Martin", "consent": "y"}).status_code == 302
    code = _code(inbox)
    for _ in range(4):
        customer.post(f"{path}/code", data={"code": _wrong(code)})
    fifth = customer.post(f"{path}/code", data={"code": _wrong(code)})
    assert fr("Wrong code, 5 times: ask for a new one.") in page_text(fifth)
    assert customer.post(f"{path}/code", data={"code": code}).status_code == 422
    assert customer.post(f"{path}/code/new", data={}).status_code == 302
    fresh = _code(inbox)
    assert customer.post(f"{path}/code", data={"code": fresh}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Quote, _link_quote(path)).status == "accepted"


def _link_quote(path: str) -> int:
    from app.services.quote_links import token_hash

    return db.session.scalar(select(QuoteSigningLink.quote_id).where(
        QuoteSigningLink.token_hash == token_hash(path.rsplit("/", 1)[1])))


def test_expired_revoked_replaced_and_closed_links_say_so(app, admin_client, make_quote,
                                                          inbox):
    quote = make_quote()
    _send(admin_client, quote)
    first = _path(inbox)
    _send(admin_client, quote, days="3")
    second = _path(inbox)
    customer = app.test_client()
    replaced = customer.get(first)
    assert replaced.status_code == 410
    assert fr("This link was withdrawn") in page_text(replaced)
    assert quote.number not in page_text(replaced)  # nothing of the quote
    assert customer.get(second).status_code == 200

    link = _link(quote.id)
    link.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    db.session.commit()
    expired = customer.get(second)
    assert expired.status_code == 410 and fr("This link has expired") in page_text(expired)
    assert customer.get(f"{second}/quote.pdf").status_code == 410

    _send(admin_client, quote)
    third = _path(inbox)
    link = _link(quote.id)
    page = admin_client.get(f"/alpha/quotes/{quote.id}")
    assert page_text(page).count(fr("revoked")) >= 1 and fr("expired") in page_text(page)
    assert admin_client.post(f"/alpha/quotes/{quote.id}/signing-links/{link.id}/revoke") \
        .status_code == 302
    assert customer.get(third).status_code == 410

    _send(admin_client, quote)
    fourth = _path(inbox)
    db.session.get(Quote, quote.id).status = "refused"
    db.session.commit()
    closed = customer.get(fourth)
    assert closed.status_code == 410
    assert fr("This quote can no longer be signed") in page_text(closed)
    assert customer.get("/alpha/q/not-a-token").status_code == 404


def test_a_link_only_opens_under_its_own_tenant(app, admin_client, make_quote, other_tenant,
                                                inbox):
    _send(admin_client, make_quote())
    path = _path(inbox)
    elsewhere = app.test_client().get(path.replace("/alpha/", "/beta/"))
    assert elsewhere.status_code == 404
    assert fr("This link is not valid") in page_text(elsewhere)
    assert app.test_client().get(path.replace("/alpha/", "/nowhere/")).status_code == 404


def test_only_staff_who_may_edit_send_a_link(app, make_user, make_quote, make_partner, inbox,
                                             other_tenant, in_tenant):
    partner = make_partner()
    quote = make_quote(partner=partner.id)
    agent = login(app.test_client(), make_user("agent", partner_id=partner.id))
    refused = agent.post(f"/alpha/quotes/{quote.id}/signing-link",
                         data={"email": "x@example.com", "days": "14", "language": "fr"})
    assert refused.status_code == 403
    assert db.session.query(QuoteSigningLink).count() == 0 and not inbox.messages
    sales = login(app.test_client(), make_user("sales"))
    detail = sales.get(f"/alpha/quotes/{quote.id}")
    assert fr("Send for signature") in page_text(detail)
    assert "asks_mandate" not in detail.data.decode()  # no SEPA creditor set up
    _send(sales, quote)
    assert db.session.query(QuoteSigningLink).count() == 1
    def beta():
        account = create_record(ENTITIES["accounts"], {"name": "Volets B", "kind": "company"})
        return create_record(ENTITIES["quotes"], {"number": "B1", "account": account.id,
                                                  "status": "sent"})

    beta_quote = in_tenant(other_tenant, beta)
    response = sales.post(f"/alpha/quotes/{beta_quote.id}/signing-link",
                          data={"email": "x@example.com", "days": "14", "language": "fr"})
    assert response.status_code == 404
    too_long = sales.post(f"/alpha/quotes/{quote.id}/signing-link",
                          data={"email": "x@example.com", "days": "91", "language": "fr"})
    assert too_long.status_code == 302 and db.session.query(QuoteSigningLink).count() == 1


def test_the_link_pages_are_throttled_per_link(app, admin_client, make_quote, inbox,
                                               monkeypatch):
    monkeypatch.setitem(app.config, "QUOTE_SIGNING_RATE_LIMIT_LINK", "3 per hour")
    _send(admin_client, make_quote())
    path = _path(inbox)
    statuses = [app.test_client().post(path, data={"name": ""}).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]
    assert app.test_client().get(path).status_code == 200  # reading is not a try


def test_the_page_speaks_english(app, admin_client, make_quote, inbox):
    _send(admin_client, make_quote(), language="en")
    assert "Review and sign the quote" in inbox.messages[-1].get_body(("plain",)).get_content()
    customer = app.test_client()
    customer.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = customer.get(_path(inbox))
    assert "Receive my signature code" in page_text(page)


def test_a_code_mail_caught_in_an_smtp_outage_is_retried_and_the_page_says_nothing(
        app, admin_client, make_quote, inbox, monkeypatch):
    from app.jobs import REGISTRY, function
    from app.models import OutgoingMail
    from app.tenancy import all_tenants_unsafe

    _send(admin_client, make_quote())
    path = _path(inbox)
    mails = len(inbox.messages)
    working = app.config["SMTP_URL"]
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:1")  # the server is down
    monkeypatch.setitem(app.config, "MAIL_RETRY_DELAYS", "0,0")
    customer = app.test_client()
    page = customer.post(path, data={"name": "Paul Martin", "consent": "y"})
    assert page.status_code == 302  # the same answer whether the mail left or not
    assert len(inbox.messages) == mails
    assert db.session.query(Signature).count() == 1
    with all_tenants_unsafe("test"):
        waiting = db.session.scalars(select(OutgoingMail).where(
            OutgoingMail.purpose == "signature_code")).one()
        assert waiting.status == "pending" and waiting.attempts == 1 and waiting.last_error
    db.session.rollback()
    monkeypatch.setitem(app.config, "SMTP_URL", working)  # back: the periodic job sends it
    assert function(REGISTRY["send_mails"])() == 1
    assert len(inbox.messages) == mails + 1
    assert customer.post(f"{path}/code", data={"code": _code(inbox)}).status_code == 302


def test_pages_are_throttled_per_ip_and_forms_need_their_csrf_token(app, admin_client,
                                                                    make_quote, inbox,
                                                                    monkeypatch):
    _send(admin_client, make_quote())
    path = _path(inbox)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    forged = app.test_client().post(path, data={"name": "Paul Martin", "consent": "y"})
    assert forged.status_code == 400 and not db.session.query(Signature).count()
    monkeypatch.setitem(app.config, "QUOTE_SIGNING_RATE_LIMIT_IP", "3 per minute")
    customer = app.test_client()
    assert [customer.get(f"{path}/quote.pdf").status_code for _ in range(3)] == [200, 200, 200]
    assert customer.get(path).status_code == 429


def test_the_quote_page_shows_the_signed_link_and_its_sealed_file(app, admin_client,
                                                                  make_quote, inbox):
    quote = make_quote(number="D-2026-051")
    _send(admin_client, quote)
    path = _path(inbox)
    customer = app.test_client()
    customer.post(path, data={"name": "Paul Martin", "consent": "y"})
    assert customer.post(f"{path}/code", data={"code": _code(inbox)}).status_code == 302
    page = admin_client.get(f"/alpha/quotes/{quote.id}")
    text = page_text(page)
    assert 'data-state="signed"' in page.data.decode()
    assert "signe.pdf" in text and "Paul Martin" in text
    assert fr("Only a draft or sent quote can be sent for signature.") in text


def test_a_try_that_ends_in_an_error_still_counts_and_the_sixth_is_refused(
        app, admin_client, make_quote, inbox, monkeypatch):
    from app.services import quote_signature

    _send(admin_client, make_quote())
    path = _path(inbox)
    customer = app.test_client()
    assert customer.post(path, data={"name": "Paul Martin", "consent": "y"}).status_code == 302
    code = _code(inbox)
    for _ in range(4):
        assert customer.post(f"{path}/code", data={"code": _wrong(code)}).status_code == 422

    def broken(*args, **kwargs):
        raise RuntimeError("the seal is out of reach")

    with monkeypatch.context() as patched:  # the fifth try, right, fails after the code
        patched.setattr(quote_signature.esign, "seal_pdf", broken)
        with pytest.raises(RuntimeError):
            customer.post(f"{path}/code", data={"code": code})
    sixth = customer.post(f"{path}/code", data={"code": code})
    assert sixth.status_code == 422
    assert fr("Wrong code, 5 times: ask for a new one.") in page_text(sixth)
    db.session.expire_all()
    assert db.session.get(Quote, _link_quote(path)).status == "sent"


def test_the_code_goes_by_sms_when_the_recipient_has_a_phone_and_chooses_it(
        app, admin_client, make_account, make_quote, inbox, monkeypatch):
    from tests.selling.subscribe_support import RecordingSms, texts_sent

    RecordingSms.sent.clear()
    monkeypatch.setitem(app.config, "ESIGN_SMS_SENDER",
                        "tests.selling.subscribe_support:RecordingSms")
    without = make_quote()  # a customer without a phone: e-mail only, as before
    _send(admin_client, without)
    assert 'name="channel"' not in app.test_client().get(_path(inbox)).data.decode()
    account = make_account(email="helene@example.com", phone="06 12 34 56 78")
    _send(admin_client, make_quote(account=account.id))
    path = _path(inbox)
    customer = app.test_client()
    page = customer.get(path)
    assert fr("by SMS to %(phone)s", phone="•• 5678") in page_text(page)
    assert "+33612345678" not in page.data.decode()  # the link does not give the number away
    mails = len(inbox.messages)
    asked = customer.post(path, data={"name": "Hélène Dupré", "consent": "y",
                                      "channel": "sms"})
    assert asked.status_code == 302
    [(phone, text)] = texts_sent(inbox)
    assert phone == "+33612345678" and len(inbox.messages) == mails  # no code by mail
    code_page = customer.get(f"{path}/code")
    assert fr("We sent a 6-digit code by SMS to %(phone)s. It is valid for 10 minutes.",
              phone="•• 5678") in page_text(code_page)
    assert customer.post(f"{path}/code/new", data={"channel": "sms"}).status_code == 302
    assert len(texts_sent(inbox)) == 2 and len(inbox.messages) == mails
    code = re.search(r"\b(\d{6})\b", RecordingSms.sent[-1][1]).group(1)
    assert customer.post(f"{path}/code", data={"code": code}).status_code == 302
    db.session.expire_all()
    signature = db.session.get(Signature, _link(_link_quote(path)).signature_id)
    assert signature.status == "signed" and signature.signer_phone == "+33612345678"
    assert [e.get("channel") for e in signature.events if e["event"] == "code_sent"] == \
        ["sms", "sms"]


def test_staff_type_the_signers_mobile_for_a_code_by_sms(app, admin_client, make_account,
                                                          make_quote, inbox, monkeypatch):
    """A customer the tenant has no mobile for (or another one): staff type it beside the
    address; the link page then offers the code by SMS to it."""
    from tests.selling.subscribe_support import RecordingSms, texts_sent

    RecordingSms.sent.clear()
    monkeypatch.setitem(app.config, "ESIGN_SMS_SENDER",
                        "tests.selling.subscribe_support:RecordingSms")
    quote = make_quote(account=make_account(email="helene@example.com", phone=None).id)
    detail = page_text(admin_client.get(f"/alpha/quotes/{quote.id}"))
    assert fr("Recipient's mobile (optional)") in detail
    refused = admin_client.post(f"/alpha/quotes/{quote.id}/signing-link", data={
        "email": "helene@example.com", "phone": "not a phone", "days": "14", "language": "fr"},
        follow_redirects=True)
    assert fr("Enter a phone number, such as +33 6 12 34 56 78.") in page_text(refused)
    assert db.session.query(QuoteSigningLink).count() == 0
    _send(admin_client, quote, phone="06 98 76 54 32")
    link = _link(quote.id)
    assert link.recipient_phone == "+33698765432"
    assert "+33698765432" in page_text(admin_client.get(f"/alpha/quotes/{quote.id}"))
    path = _path(inbox)
    customer = app.test_client()
    assert fr("by SMS to %(phone)s", phone="•• 5432") in page_text(customer.get(path))
    assert customer.post(path, data={"name": "Hélène Dupré", "consent": "y",
                                     "channel": "sms"}).status_code == 302
    [(phone, _text)] = texts_sent(inbox)
    assert phone == "+33698765432"
    # Left empty, the phone the tenant knows for the address, as before.
    _send(admin_client, make_quote(account=make_account(email="paul@example.com",
                                                        phone="06 12 34 56 78").id),
          email="paul@example.com")
    assert db.session.query(QuoteSigningLink).order_by(QuoteSigningLink.id.desc()).first() \
        .recipient_phone == "+33612345678"
