"""A document e-mailed to its customer from the back office, its PDF attached."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.extensions import db
from app.models import Quote
from tests.backoffice.conftest import audit_events, fr, text
from tests.pdf_support import pdf_text
from tests.portal.test_passwords import Inbox, _start, body


@pytest.fixture
def inbox(app, monkeypatch) -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1 (as for invitations); the app sends its mail there."""
    received = Inbox()
    controller = _start(received)
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{controller.port}")
    monkeypatch.setitem(app.config, "MAIL_FROM", "Relais <no-reply@relais.example>")
    yield received
    controller.stop()


def _attachments(message):
    return [(part.get_filename(), part.get_content_type(), part.get_content())
            for part in message.iter_attachments()]


def test_an_invoice_is_mailed_to_its_customer_with_its_pdf(admin_client, inbox, make_account,
                                                           make_invoice):
    account = make_account(name="Client Mail", email="compta@client.example")
    invoice = make_invoice(account=account.id)
    page = text(admin_client.get(f"/alpha/invoices/{invoice.id}"))
    assert fr("Send by e-mail") in page
    answer = admin_client.post(f"/alpha/invoices/{invoice.id}/send",
                               data={"to": "", "language": "fr"}, follow_redirects=True)
    assert fr("%(entity)s sent to %(email)s.", entity="Facture",
              email="compta@client.example") in text(answer)
    message = inbox.wait()[0]
    assert message["To"] == "compta@client.example"
    assert message["Subject"] == f"Facture {invoice.number} — Alpha Stores"
    assert "1 481,47 €" in body(message).replace("\xa0", " ").replace("\u202f", " ")
    [(name, media_type, content)] = _attachments(message)
    assert name == f"facture-{invoice.number.lower()}.pdf" and media_type == "application/pdf"
    assert invoice.number in pdf_text(content) and "Client Mail" in pdf_text(content)
    [event] = audit_events("invoices", invoice.id)[-1:]
    assert event.action == "document_sent" and event.after["to"] == "compta@client.example"


def test_a_draft_quote_sent_in_english_becomes_sent(admin_client, inbox, make_quote):
    quote = make_quote(status="draft")
    admin_client.post(f"/alpha/quotes/{quote.id}/send",
                      data={"to": "buyer@client.example", "language": "en"})
    message = inbox.wait()[0]
    assert message["Subject"].startswith(f"Quote {quote.number}")
    [(_name, _type, content)] = _attachments(message)
    assert "Quote" in pdf_text(content) and "€960.00" in pdf_text(content)
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "sent"


def test_no_address_no_mail_and_nothing_changes(admin_client, inbox, make_quote):
    quote = make_quote(status="draft")
    answer = admin_client.post(f"/alpha/quotes/{quote.id}/send",
                               data={"to": "", "language": "fr"}, follow_redirects=True)
    assert fr("The customer has no e-mail address: enter one.") in text(answer)
    answer = admin_client.post(f"/alpha/quotes/{quote.id}/send",
                               data={"to": "pas-un-mail", "language": "fr"},
                               follow_redirects=True)
    assert fr("Enter a valid e-mail address.") in text(answer)
    assert inbox.messages == []
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "draft"


def test_an_unreachable_mail_server_is_a_message_not_a_500(admin_client, app, monkeypatch,
                                                           make_invoice):
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:9")
    invoice = make_invoice()
    answer = admin_client.post(f"/alpha/invoices/{invoice.id}/send",
                               data={"to": "a@client.example", "language": "fr"},
                               follow_redirects=True)
    assert answer.status_code == 200
    assert fr("the mail server cannot be reached") in text(answer)
    assert [e.action for e in audit_events("invoices", invoice.id)] == ["create"]


def test_only_editors_send_and_only_documents(agent_client, admin_client, inbox, make_account,
                                              make_invoice, make_record):
    assert admin_client.post(f"/alpha/accounts/{make_record('accounts').id}/send",
                             data={"to": "a@b.example", "language": "fr"}).status_code == 404
    own = make_invoice(account=make_account(partner=agent_client.partner.id).id)
    refused = agent_client.post(f"/alpha/invoices/{own.id}/send",
                                data={"to": "a@b.example", "language": "fr"})
    assert refused.status_code == 403
    assert inbox.messages == []
