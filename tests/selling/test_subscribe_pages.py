"""The public subscription pages: details checked whole (errors beside their fields, nothing
typed lost), the contract reviewed with its mandate reference, the code from the mail, and the
fulfilment in one transaction — customer, contact, active contract with the sealed PDF,
online mandate, order and delivery — seen by the subscriber in his extranet."""
from __future__ import annotations

import html
import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app import esign
from app.extensions import db
from app.models import (
    Account,
    Attachment,
    AuditEvent,
    Contract,
    Delivery,
    Mandate,
    Order,
    Signature,
    Subscription,
    User,
    WebhookDelivery,
)
from app.services import subscriptions as service
from app.services.offers import update_offer
from app.services.webhooks import create_endpoint
from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context
from tests.backoffice.conftest import fr
from tests.conftest import page_text as _page_text
from tests.selling.subscribe_support import DETAILS, code_from, selling

URL = "/alpha/subscribe/badge"


def page_text(response) -> str:
    return html.unescape(_page_text(response))


def _submit_details(client, **over):
    return client.post(URL, data={**DETAILS, **over})


def _to_code(client, inbox, **over):
    assert _submit_details(client, **over).status_code == 302
    assert client.get(f"{URL}/review").status_code == 200
    consented = client.post(f"{URL}/review", data={"consent": "yes"})
    assert consented.status_code == 302, page_text(consented)
    return code_from(inbox)


def test_the_offers_page_lists_published_offers_only(tenant, client, in_tenant, other_tenant):
    offer = selling()
    text = page_text(client.get("/alpha/subscribe/"))
    assert "Badge mensuel" in text and "2,50" in text
    update_offer(offer, {"is_published": False})
    db.session.commit()
    assert "Badge mensuel" not in page_text(client.get("/alpha/subscribe/"))
    assert client.get(URL).status_code == 404
    assert client.get("/alpha/subscribe/nothing").status_code == 404
    assert client.get("/beta/subscribe/badge").status_code == 404  # another tenant's: none
    assert client.get("/nobody/subscribe/").status_code == 404


def test_every_detail_error_beside_its_field_and_nothing_typed_lost(tenant, client, inbox):
    selling()
    response = _submit_details(client, last_name="", town="", country="XX",
                               email="helene@", phone="12", iban="FR7630006000011234567890180",
                               **{"custom.plaque": ""})
    assert response.status_code == 422
    markup = response.get_data(as_text=True)
    for name in ("last_name", "town", "country", "email", "phone", "iban", "custom.plaque"):
        assert f'id="e-{name}"' in markup
    text = page_text(response)
    assert fr("This field is required.") in text
    assert fr("Enter a valid e-mail address.") in text
    assert fr("This IBAN's check digits are wrong: a character was probably mistyped.") in text
    assert fr("Enter a country code such as FR, BE or DE.") in text
    # What was typed is still there.
    assert 'value="Avenue des Châtaigniers"' in markup and 'value="helene@"' in markup
    assert db.session.scalar(select(Subscription.id)) is None and not inbox.messages


def test_a_bank_the_registry_does_not_know_needs_its_bic(tenant, client, inbox):
    selling()
    # A valid German IBAN whose bank code schwifty's registry does not hold.
    response = _submit_details(client, iban="DE23 9999 9999 0000 2020 51", country="DE")
    assert response.status_code == 422
    assert fr("We do not know this account's bank: enter its BIC (8 or 11 characters, on "
              "your bank details).") in page_text(response)
    assert 'value="DE23 9999 9999 0000 2020 51"' in response.get_data(as_text=True)
    wrong_country = _submit_details(client, iban="DE23999999990000202051", bic="AGRIFRPPXXX")
    assert wrong_country.status_code == 422
    ok = _submit_details(client, iban="DE23999999990000202051", bic="BYLADEM1001")
    assert ok.status_code == 302
    assert db.session.scalar(select(Subscription.bic)) == "BYLADEM1001"


def test_a_non_sepa_iban_is_refused(tenant, client, inbox):
    selling()
    response = _submit_details(client, iban="BR1800360305000010009795493C1")
    assert response.status_code == 422
    assert fr("Direct debits only go to accounts of the SEPA zone; this IBAN is from "
              "%(country)s.", country="BR") in page_text(response)


def test_the_whole_flow_signs_seals_and_fulfils(tenant, app, client, inbox, monkeypatch):
    offer = selling()
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    create_endpoint({"url": "http://127.0.0.1:9/in", "events": [
        "subscription.signed", "deliveries.created"]})
    db.session.commit()
    assert _submit_details(client).status_code == 302
    resume_mail = inbox.messages[-1]
    assert resume_mail["To"] == "helene@example.com"
    assert "/alpha/subscribe/badge/resume/" in resume_mail.get_body(("plain",)).get_content()
    review = client.get(f"{URL}/review")
    subscription = db.session.scalar(select(Subscription))
    assert subscription.step == "review" and subscription.mandate_reference
    assert subscription.mandate_reference in page_text(review)
    pdf = client.get(f"{URL}/contract.pdf")
    assert pdf.mimetype == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert subscription.mandate_reference in text and "8 semaines" in text
    refused = client.post(f"{URL}/review", data={})
    assert refused.status_code == 422
    assert fr("Tick this box to sign the contract and the mandate.") in page_text(refused)
    assert client.post(f"{URL}/review", data={"consent": "yes"}).status_code == 302
    code = code_from(inbox)
    page = client.get(f"{URL}/code")
    assert code not in page.get_data(as_text=True)
    wrong = client.post(f"{URL}/code", data={"code": "000000" if code != "000000" else "1"})
    assert wrong.status_code == 422
    assert fr("Wrong code: %(left)d tries left.", left=4) in page_text(wrong)
    signed = client.post(f"{URL}/code", data={"code": code})
    assert signed.status_code == 302 and signed.headers["Location"].endswith("/done")
    assert "Dupré" in page_text(client.get(f"{URL}/done"))

    db.session.expire_all()
    subscription = db.session.scalar(select(Subscription))
    assert subscription.status == "signed" and subscription.step == "done"
    assert all(getattr(subscription, f"{s}_at") for s in ("details", "review", "signature",
                                                          "done"))
    account = db.session.get(Account, subscription.account_id)
    assert account.name == "Hélène Dupré" and account.custom == {"plaque": "AB-123-CD"}
    contract = db.session.get(Contract, subscription.contract_id)
    assert contract.status == "active" and contract.signed_on is not None
    mandate = db.session.get(Mandate, subscription.mandate_id)
    assert mandate.channel == "online" and mandate.status == "active"
    assert mandate.reference == subscription.mandate_reference
    assert mandate.iban == "FR7630006000011234567890189" and mandate.bic == "AGRIFRPPXXX"
    order = db.session.get(Order, subscription.order_id)
    assert [(line.sku, line.quantity) for line in order.lines] == [("BADGE-V1", 1)]
    delivery = db.session.get(Delivery, subscription.delivery_id)
    assert delivery.order_id == order.id and delivery.status == "planned"
    attachment = db.session.scalar(select(Attachment).where(
        Attachment.record_type == "contracts", Attachment.record_id == contract.id))
    assert attachment.sha256 == subscription.sealed_sha256
    sealed = service.file_of(subscription).read_bytes()
    assert esign.check_seal(sealed).ok
    signature = db.session.get(Signature, subscription.signature_id)
    assert signature.status == "signed" and signature.sealed_sha256 == subscription.sealed_sha256
    assert [e["event"] for e in signature.events] == [
        "consented", "code_sent", "code_wrong", "signed", "sealed"]
    # Audited, announced, mailed.
    entities = {e.entity for e in db.session.scalars(select(AuditEvent))}
    assert {"accounts", "contacts", "contracts", "sepa_mandates", "orders", "deliveries",
            "subscriptions", "attachments"} <= entities
    events = {d.event for d in db.session.scalars(select(WebhookDelivery))}
    assert events == {"subscription.signed", "deliveries.created"}
    subjects = [m["Subject"] for m in inbox.messages]
    signed_mail = next(m for m in inbox.messages if "contrat signé" in m["Subject"])
    attached = [part.get_filename() for part in signed_mail.iter_attachments()]
    assert attached == [f"contrat-{subscription.mandate_reference}.pdf"], subjects
    user = db.session.scalar(select(User).where(User.email == "helene@example.com"))
    assert user.role == "subscriber" and user.account_id == account.id
    assert offer.id == subscription.offer_id


def test_a_failed_fulfilment_leaves_nothing_and_can_be_signed_again(
        tenant, client, inbox, monkeypatch):
    selling()
    code = _to_code(client, inbox)

    def broken(*args, **kwargs):
        raise RuntimeError("the delivery service is down")

    with monkeypatch.context() as patched:
        patched.setattr(service, "create_mandate", broken)
        failed = client.post(f"{URL}/code", data={"code": code})
    assert failed.status_code == 422
    assert fr("We could not record your subscription: nothing was signed or charged. Please "
              "enter your code again in a moment.") in page_text(failed)
    db.session.expire_all()
    assert db.session.scalar(select(Account.id)) is None
    assert db.session.scalar(select(Contract.id)) is None
    assert db.session.scalar(select(Attachment.id)) is None
    subscription = db.session.scalar(select(Subscription))
    assert subscription.status == "started" and subscription.account_id is None
    assert db.session.get(Signature, subscription.signature_id).status == "pending"
    assert client.post(f"{URL}/code", data={"code": code}).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(Subscription)).status == "signed"


def test_a_half_finished_subscription_resumes_from_its_link(tenant, app, client, inbox):
    selling()
    assert _submit_details(client).status_code == 302
    body = inbox.messages[-1].get_body(("plain",)).get_content()
    link = next(word for word in body.split() if "/resume/" in word)
    path = link[link.index("/alpha/"):]
    other_device = app.test_client()
    assert other_device.get(f"{URL}/review").status_code == 302  # nothing of his here
    resumed = other_device.get(path)
    assert resumed.status_code == 302 and resumed.headers["Location"].endswith("/review")
    assert "Dupré" in page_text(other_device.get(f"{URL}/review"))
    # Forged or unknown tokens lead nowhere.
    assert other_device.get(f"{URL}/resume/not-a-token").status_code == 410
    subscription = db.session.scalar(select(Subscription))
    assert subscription.resume_token_hash != path.rsplit("/", 1)[1]  # only its hash kept


def test_idle_subscriptions_are_abandoned(tenant, app, client, inbox):
    from datetime import UTC, datetime, timedelta

    selling()
    assert _submit_details(client).status_code == 302
    assert service.abandon_idle() == 0
    later = datetime.now(UTC) + timedelta(days=app.config["SUBSCRIPTION_IDLE_DAYS"], hours=1)
    assert service.abandon_idle(later) == 1
    db.session.commit()
    subscription = db.session.scalar(select(Subscription))
    assert subscription.status == "abandoned" and subscription.abandoned_at is not None
    # Its resume link is dead, and the browser starts a new subscription.
    body = inbox.messages[-1].get_body(("plain",)).get_content()
    link = next(word for word in body.split() if "/resume/" in word)
    assert client.get(link[link.index("/alpha/"):]).status_code == 410
    assert client.get(f"{URL}/review").status_code == 302
    assert _submit_details(client).status_code == 302
    assert [s.status for s in db.session.scalars(select(Subscription).order_by(
        Subscription.id))] == ["abandoned", "started"]


def test_posts_are_throttled_per_email_with_a_localized_page(tenant, app, client, inbox,
                                                             monkeypatch):
    selling()
    monkeypatch.setitem(app.config, "SUBSCRIBE_RATE_LIMIT_EMAIL", "2 per hour")
    for _n in range(2):
        _submit_details(client, iban="x")
    throttled = _submit_details(client, iban="x")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"]
    assert fr("Too many attempts") in page_text(throttled)
    # Another e-mail from the same address still goes through.
    assert _submit_details(client, email="marc@example.com", iban="x").status_code == 422


def test_the_subscriber_sees_his_contract_mandate_and_delivery(tenant, app, client, inbox):
    from tests.conftest import PASSWORD

    selling()
    code = _to_code(client, inbox)
    assert client.post(f"{URL}/code", data={"code": code}).status_code == 302
    db.session.expire_all()
    subscription = db.session.scalar(select(Subscription))
    user = db.session.scalar(select(User).where(User.email == "helene@example.com"))
    from app.services.tenants import update_user

    with tenant_context(tenant.id, SYSTEM):
        update_user(user, {"password": PASSWORD})
        db.session.commit()
    extranet = app.test_client()
    assert extranet.post("/alpha/portal/login", data={
        "email": "helene@example.com", "password": PASSWORD}).status_code == 302
    contracts = page_text(extranet.get("/alpha/portal/contracts/"))
    assert subscription.mandate_reference in contracts
    detail = extranet.get(f"/alpha/portal/contracts/{subscription.contract_id}")
    assert detail.status_code == 200
    assert f"contrat-{subscription.mandate_reference}.pdf" in page_text(detail)
    deliveries = page_text(extranet.get("/alpha/portal/deliveries/"))
    assert subscription.mandate_reference in deliveries


def test_the_code_goes_by_sms_when_a_phone_is_given_and_chosen(tenant, app, client, inbox,
                                                               monkeypatch):
    from tests.selling.subscribe_support import RecordingSms, texts_sent

    selling()
    monkeypatch.setitem(app.config, "ESIGN_SMS_SENDER",
                        "tests.selling.subscribe_support:RecordingSms")
    RecordingSms.sent.clear()
    assert _submit_details(client, phone="06 12 34 56 78").status_code == 302
    review = client.get(f"{URL}/review")
    assert "+33612345678" in page_text(review)
    mails = len(inbox.messages)
    assert client.post(f"{URL}/review", data={"consent": "yes", "channel": "sms"}
                       ).status_code == 302
    assert len(inbox.messages) == mails  # no code by mail
    (phone, text), = texts_sent(inbox)
    code = re.search(r"\b(\d{6})\b", text).group(1)
    assert phone == "+33612345678" and code not in client.get(f"{URL}/code").get_data(
        as_text=True)
    assert client.post(f"{URL}/code", data={"code": code}).status_code == 302
    signature = db.session.get(Signature, db.session.scalar(select(Subscription)).signature_id)
    assert [e.get("channel") for e in signature.events if e["event"] == "code_sent"] == ["sms"]


def test_posts_are_throttled_per_ip_address(tenant, app, client, inbox, monkeypatch):
    selling()
    monkeypatch.setitem(app.config, "SUBSCRIBE_RATE_LIMIT_IP", "3 per hour")
    for n in range(3):
        assert _submit_details(client, email=f"c{n}@example.com", iban="x").status_code == 422
    assert _submit_details(client, email="c9@example.com", iban="x").status_code == 429
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert other.post(URL, data={**DETAILS, "iban": "x"}).status_code == 422


def test_the_pages_and_the_contract_follow_the_language_chosen(tenant, client, inbox):
    selling()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert "Continue to the contract" in page_text(client.get(URL))
    assert _submit_details(client).status_code == 302
    assert "Read the contract and the mandate (PDF)" in page_text(client.get(f"{URL}/review"))
    pdf = client.get(f"{URL}/contract.pdf")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "8 weeks" in text and "13 months" in text
    assert db.session.scalar(select(Subscription.language)) == "en"


def test_the_job_abandons_idle_subscriptions_of_every_tenant(app, tenant, other_tenant, client,
                                                             inbox):
    from datetime import UTC, datetime, timedelta

    from app.jobs import REGISTRY, function

    selling()
    assert _submit_details(client).status_code == 302
    with tenant_context(other_tenant.id, SYSTEM):
        selling()
    beta = app.test_client()
    assert beta.post("/beta/subscribe/badge", data=DETAILS).status_code == 302
    db.session.commit()
    with all_tenants_unsafe("tests"):
        db.session.execute(Subscription.__table__.update().values(
            updated_at=datetime.now(UTC) - timedelta(days=8)))
        db.session.commit()
    assert function(REGISTRY["abandon_subscriptions"])() == 2
    # Each tenant's customer got his resume link (the two mails leave in either order);
    # one tenant's link does not open the other's subscription.
    links = [word for message in inbox.messages
             for word in message.get_body(("plain",)).get_content().split() if "/resume/" in word]
    assert sorted(link.split("/")[3] for link in links) == ["alpha", "beta"]
    token = next(link for link in links if "/beta/" in link).rsplit("/", 1)[1]
    assert client.get(f"{URL}/resume/{token}").status_code == 410


def test_a_published_offer_collects_the_required_custom_fields(tenant):
    from app.errors import ValidationError

    offer = selling()
    with pytest.raises(ValidationError) as refused:
        update_offer(offer, {"collected_fields": []})
    assert refused.value.errors["collected_fields"] == fr(
        "Customers' required custom fields must be collected by a published offer: "
        "%(keys)s.", keys="plaque")
    db.session.rollback()
    update_offer(offer, {"collected_fields": [], "is_published": False})  # a draft may


def test_refusals_are_said_on_the_public_pages(tenant, app, client, inbox):
    from app.services.offers import delete_offer

    offer = selling()
    missing = client.get("/alpha/subscribe/nothing")
    assert missing.status_code == 404
    assert fr("This offer does not exist or is no longer open to subscription.") in \
        page_text(missing)
    assert "/alpha/portal/login" not in missing.get_data(as_text=True).split("<main")[1]
    _to_code(client, inbox)
    for _n in range(4):  # five codes in all: the limit
        assert client.post(f"{URL}/code", data={"action": "resend"}).status_code == 200
    refused = client.post(f"{URL}/code", data={"action": "resend"})
    assert refused.status_code == 403
    assert fr("Too many codes were sent: start again from the beginning.") in \
        page_text(refused)
    # Starting again from the contract gives a new signature and codes. (The earlier codes'
    # mails delivered first: the job engine's threads may hand two mails over in any order.)
    inbox.messages  # noqa: B018
    assert client.post(f"{URL}/review", data={"consent": "yes"}).status_code == 302
    assert client.post(f"{URL}/code", data={"code": code_from(inbox)}).status_code == 302
    # The offer deleted afterwards: the subscription and its evidence stay.
    delete_offer(offer)
    db.session.commit()
    subscription = db.session.scalar(select(Subscription))
    assert subscription.offer_id is None and subscription.offer_code == "badge"
    assert subscription.status == "signed"


def test_details_changed_after_consent_need_a_new_consent(tenant, client, inbox):
    selling()
    old_code = _to_code(client, inbox)
    assert client.post(URL, data={**DETAILS, "town": "Villeurbanne",
                                  "postal_code": "69100"}).status_code == 302
    assert client.get(f"{URL}/code").status_code == 302  # back to the contract
    client.post(f"{URL}/code", data={"code": old_code})
    db.session.expire_all()
    assert db.session.scalar(select(Subscription)).status == "started"
    assert client.post(f"{URL}/review", data={"consent": "yes"}).status_code == 302
    assert client.post(f"{URL}/code", data={"code": code_from(inbox)}).status_code == 302
    db.session.expire_all()
    subscription = db.session.scalar(select(Subscription))
    assert subscription.status == "signed"
    assert db.session.get(Account, subscription.account_id).city == "Villeurbanne"


def test_a_try_that_ends_in_an_error_still_counts_and_the_sixth_is_refused(
        tenant, client, inbox, monkeypatch):
    selling()
    code = _to_code(client, inbox)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        assert client.post(f"{URL}/code", data={"code": wrong}).status_code == 422

    def broken(*args, **kwargs):
        raise RuntimeError("the delivery service is down")

    with monkeypatch.context() as patched:  # the fifth try, right, fails after the code
        patched.setattr(service, "create_mandate", broken)
        assert client.post(f"{URL}/code", data={"code": code}).status_code == 422
    sixth = client.post(f"{URL}/code", data={"code": code})
    assert sixth.status_code == 422
    assert fr("Wrong code, 5 times: ask for a new one.") in page_text(sixth)
    db.session.expire_all()
    subscription = db.session.scalar(select(Subscription))
    assert subscription.status == "started" and subscription.account_id is None
    assert db.session.get(Signature, subscription.signature_id).attempts == 5


def test_too_many_codes_lock_the_signature_for_good(tenant, client, inbox):
    selling()
    _to_code(client, inbox)  # the first code
    for _ in range(4):
        assert client.post(f"{URL}/code", data={"action": "resend"}).status_code == 200
    refused = client.post(f"{URL}/code", data={"action": "resend"})
    assert refused.status_code == 403
    assert fr("Too many codes were sent: start again from the beginning.") in page_text(refused)
    db.session.expire_all()
    subscription = db.session.scalar(select(Subscription))
    signature = db.session.get(Signature, subscription.signature_id)
    assert signature.status == "locked" and signature.events[-1]["event"] == "locked"


def _outbox(**where):
    from app.models import OutgoingMail

    with all_tenants_unsafe("test"):
        found = list(db.session.scalars(select(OutgoingMail).filter_by(**where)
                                        .order_by(OutgoingMail.id)))
    db.session.rollback()
    return found


def test_a_sale_that_does_not_commit_mails_nothing(tenant, client, inbox, monkeypatch):
    selling()
    code = _to_code(client, inbox)
    mails = len(inbox.messages)
    real = service.invite_user

    def invite_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("the database went away before the commit")

    with monkeypatch.context() as patched:
        patched.setattr(service, "invite_user", invite_then_fail)
        failed = client.post(f"{URL}/code", data={"code": code})
    assert failed.status_code == 422
    # Neither the signed contract nor the invitation of a sale that does not exist.
    assert len(inbox.messages) == mails
    assert not _outbox(purpose="subscription_contract") and not _outbox(purpose="invitation")
    assert db.session.scalar(select(Account.id)) is None


def test_an_smtp_outage_at_the_signature_keeps_the_sale_and_its_mails_go_later(
        tenant, app, client, inbox, monkeypatch):
    from app.jobs import REGISTRY, function

    selling()
    code = _to_code(client, inbox)
    mails = len(inbox.messages)
    working = app.config["SMTP_URL"]
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:1")  # the server is down
    monkeypatch.setitem(app.config, "MAIL_RETRY_DELAYS", "0,0")
    signed = client.post(f"{URL}/code", data={"code": code})
    assert signed.status_code == 302 and signed.headers["Location"].endswith("/done")
    db.session.expire_all()
    assert db.session.scalar(select(Subscription)).status == "signed"
    assert len(inbox.messages) == mails
    waiting = _outbox(status="pending")
    assert [m.purpose for m in waiting] == ["subscription_contract", "invitation"]
    assert all(m.attempts == 1 and m.message_sealed for m in waiting)
    assert "helene" not in waiting[0].message_sealed  # kept encrypted
    monkeypatch.setitem(app.config, "SMTP_URL", working)  # back: the periodic job sends them
    assert function(REGISTRY["send_mails"])() == 2
    subjects = [m["Subject"] for m in inbox.messages[mails:]]
    assert any("contrat signé" in s for s in subjects) and len(subjects) == 2
    sent = _outbox(status="sent")
    assert {m.purpose for m in sent} >= {"subscription_contract", "invitation"}
    assert all(m.message_sealed is None for m in sent)  # forgotten once sent


def test_erasing_the_subscriber_erases_his_selling_traces_but_keeps_signed_evidence(
        tenant, app, client, inbox, admin_client, make_quote):
    from app.models import AuditEvent, OutgoingMail, QuoteSigningLink
    from app.services.erasure import anonymise_subscriber

    selling()
    code = _to_code(client, inbox)
    assert client.post(f"{URL}/code", data={"code": code}).status_code == 302
    db.session.expire_all()
    signed = db.session.scalar(select(Subscription))
    user = db.session.scalar(select(User).where(User.email == "helene@example.com"))
    # He started again on another device and stopped at the code.
    again = app.test_client()
    again.environ_base["REMOTE_ADDR"] = "198.51.100.23"
    _to_code(again, inbox)
    # And a quote of his was sent to him to sign by link; he asked for a code.
    quote = make_quote(account=signed.account_id, status="draft")
    assert admin_client.post(f"/alpha/quotes/{quote.id}/signing-link", data={
        "email": "helene@example.com", "days": "14", "language": "fr"}).status_code == 302
    body = inbox.messages[-1].get_body(("plain",)).get_content()
    path = re.search(r"https?://[^/\s]+(/alpha/q/[A-Za-z0-9_-]+)", body).group(1)
    assert app.test_client().post(path, data={"name": "Hélène Dupré",
                                              "consent": "y"}).status_code == 302
    inbox.messages  # noqa: B018  (every mail sent before the erasure)

    db.session.expire_all()
    files = anonymise_subscriber(db.session.get(User, user.id))
    db.session.commit()
    db.session.expire_all()
    signed_evidence = db.session.get(Signature, signed.signature_id)
    assert signed_evidence.signer_email == "helene@example.com"  # kept: it proves the contract
    assert signed_evidence.events[0]["ip"]
    others = db.session.scalars(select(Signature).where(Signature.id != signed.signature_id))
    others = list(others)
    assert len(others) == 2
    for signature in others:  # signed nothing: nothing of him left
        assert signature.signer_email == "" and signature.signer_name == "anonymised"
        assert all(e["ip"] == "" and e["user_agent"] == "" for e in signature.events)
    for subscription in db.session.scalars(select(Subscription)):
        assert subscription.email == "" and subscription.last_name == "anonymised"
        assert subscription.ip == "" and subscription.iban == ""
    assert db.session.scalar(select(QuoteSigningLink)).recipient_email == "anonymised"
    with all_tenants_unsafe("test"):
        recipients = {m.recipient for m in db.session.scalars(select(OutgoingMail))}
    assert "helene@example.com" not in recipients
    history = " ".join(str((e.before, e.after)) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity.in_(("subscriptions", "quotes")))))
    assert "helene@example.com" not in history and "Dupré" not in history
    assert files  # the contract he reviewed without signing it
