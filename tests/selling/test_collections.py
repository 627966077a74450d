"""SEPA collections: the open invoices of customers with an active mandate become one
pain.008.001.08 file, valid against its XSD, with sequence types, amendments and names in the
SEPA character set; settled, the invoices are paid; a returned debit opens its invoice again."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import AuditEvent, Debit
from app.services import collection_builds, collections, mandates, pain008
from tests.backoffice.conftest import count_statements, fr
from tests.conftest import local_day
from tests.selling.conftest import active_mandate
from tests.selling.test_mandates import NEW_IBAN

SAME_BANK_IBAN = "FR7630006000019876543210173"  # same bank (30006), another account

NS = {"p": pain008.NS}


def _file(collection) -> ET.Element:
    return ET.fromstring(collections.collection_file(collection).read_bytes())


def test_a_collection_debits_open_invoices_under_active_mandates(
        creditor, make_account, make_invoice):
    when = local_day() + timedelta(days=20)
    helene = make_account(name="Hélène & Fils")
    active_mandate(helene, debtor_name="Hélène Dupré & Fils")
    first = make_invoice(account=helene, number="F-001", due_on=when - timedelta(days=3))
    make_invoice(account=helene, number="F-002", due_on=when - timedelta(days=2))
    make_invoice(account=helene, number="F-LATER", due_on=when + timedelta(days=10))
    paid = make_invoice(account=helene, number="F-PAID", due_on=when, status="paid")
    nobody = make_account(name="Sans mandat")
    make_invoice(account=nobody, number="F-NOMANDATE", due_on=when)

    collection = collections.build_collection(when)
    db.session.commit()
    # A first debit under a mandate takes one invoice; the other waits for RCUR.
    assert [(d.invoice_id, d.sequence_type, d.amount) for d in collection.debits] == \
        [(first.id, "FRST", first.total)]
    root = _file(collection)
    assert root.find(".//p:GrpHdr/p:NbOfTxs", NS).text == "1"
    assert Decimal(root.find(".//p:GrpHdr/p:CtrlSum", NS).text) == first.total
    assert root.find(".//p:PmtTpInf/p:SeqTp", NS).text == "FRST"
    assert root.find(".//p:ReqdColltnDt", NS).text == when.isoformat()
    assert root.find(".//p:CdtrSchmeId//p:Othr/p:Id", NS).text == "FR72ZZZ123456"
    assert root.find(".//p:DrctDbtTxInf/p:Dbtr/p:Nm", NS).text == "Helene Dupre + Fils"
    assert root.find(".//p:DrctDbtTxInf//p:Ustrd", NS).text == "F-001"
    assert paid.id not in [d.invoice_id for d in collection.debits]

    collections.settle_collection(collection)
    db.session.commit()
    db.session.refresh(first)
    assert first.status == "paid" and first.amount_paid == first.total
    assert collection.debits[0].mandate.next_sequence == "RCUR"

    later = collections.build_collection(when)
    db.session.commit()
    assert {(d.sequence_type, d.amount) for d in later.debits} == {("RCUR", Decimal("1481.47"))}


def test_an_amended_mandate_is_reported_once_then_forgotten(creditor, make_account,
                                                            make_invoice):
    when = local_day() + timedelta(days=15)
    account = make_account()
    mandate = active_mandate(account)
    mandate.last_used_on = date(2026, 6, 1)  # collected before: RCUR
    mandates.amend_mandate(mandate, {"iban": NEW_IBAN})
    db.session.commit()
    make_invoice(account=account, due_on=when)
    collection = collections.build_collection(when)
    db.session.commit()
    assert collection.debits[0].amendment == "SMNDA"  # another bank
    info = _file(collection).find(".//p:MndtRltdInf", NS)
    assert [child.tag.split("}")[1] for child in info] == \
        ["MndtId", "DtOfSgntr", "AmdmntInd", "AmdmntInfDtls"]
    assert info.find("p:AmdmntInfDtls/p:OrgnlDbtrAgt/p:FinInstnId/p:Othr/p:Id", NS).text == \
        "SMNDA"
    collections.settle_collection(collection)
    db.session.commit()
    assert not mandate.is_amended


def test_a_move_within_the_same_bank_names_the_original_account(creditor, make_account,
                                                                make_invoice):
    when = local_day() + timedelta(days=15)
    account = make_account()
    mandate = active_mandate(account)
    mandates.amend_mandate(mandate, {"iban": SAME_BANK_IBAN})
    db.session.commit()
    make_invoice(account=account, due_on=when)
    collection = collections.build_collection(when)
    db.session.commit()
    assert collection.debits[0].amendment == "account"
    details = _file(collection).find(".//p:AmdmntInfDtls", NS)
    assert details.find("p:OrgnlDbtrAcct/p:Id/p:IBAN", NS).text == \
        "FR7630006000011234567890189"


def test_a_one_off_mandate_debits_once(creditor, make_account, make_invoice):
    when = local_day() + timedelta(days=15)
    account = make_account()
    active_mandate(account, is_recurrent=False)
    make_invoice(account=account, due_on=when)
    make_invoice(account=account, due_on=when)
    collection = collections.build_collection(when)
    assert [d.sequence_type for d in collection.debits] == ["OOFF"]
    assert _file(collection).find(".//p:SeqTp", NS).text == "OOFF"


def test_customers_are_told_before_the_debit(creditor, make_account, make_invoice):
    with pytest.raises(ValidationError) as refused:
        collections.build_collection(local_day() + timedelta(days=13))
    assert "collection_date" in refused.value.errors
    with pytest.raises(ValidationError):  # nothing to debit
        collections.build_collection(local_day() + timedelta(days=14))


def test_a_returned_debit_opens_its_invoice_again(creditor, make_account, make_invoice):
    when = local_day() + timedelta(days=15)
    account = make_account()
    active_mandate(account)
    invoice = make_invoice(account=account, due_on=when)
    collection = collections.build_collection(when)
    collections.settle_collection(collection)
    db.session.commit()
    debit = db.session.get(Debit, collection.debits[0].id)
    with pytest.raises(ValidationError):
        collections.return_debit(debit, "XX99")
    collections.return_debit(debit, "am04", date(2026, 12, 20))
    db.session.commit()
    db.session.refresh(invoice)
    assert invoice.status == "issued" and invoice.amount_paid == 0
    assert (debit.status, debit.return_reason) == ("returned", "AM04")
    again = collections.build_collection(when)  # debited again next time
    assert [d.invoice_id for d in again.debits] == [invoice.id]


def test_collections_through_the_api(app, make_token, creditor, make_account, make_invoice,
                                     other_tenant, monkeypatch, inbox):
    from app import jobs
    from app.services.tokens import create_token
    from app.tenancy import SYSTEM, tenant_context
    from tests.api.conftest import bearer, problem

    when = local_day() + timedelta(days=15)
    account = make_account(email="helene.dupre@example.com")
    active_mandate(account)
    invoice = make_invoice(account=account, due_on=when)
    client = bearer(app, make_token("read,admin")[1])
    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda name, *args, **_kw: queued.append((name, args)))
    too_soon = problem(client.post("/api/v1/collections", json={
        "collection_date": str(local_day() + timedelta(days=3))}), 422)
    assert "collection_date" in too_soon["errors"]
    created = client.post("/api/v1/collections", json={"collection_date": str(when)})
    # Accepted at once: a job builds it.
    assert created.status_code == 202, created.data
    assert created.get_json()["status"] == "building"
    url = created.headers["Location"]
    assert client.get(url).get_json()["status"] == "building"
    problem(client.get(f"{url}/pain.008.xml"), 404)  # no file yet
    [(name, args)] = queued
    assert name == "build_collection"
    assert collection_builds.run_build(*args) == "built"
    body = client.get(url).get_json()
    assert body["status"] == "built" and body["message"] is None
    assert body["count"] == 1 and body["control_sum"] == str(invoice.total)
    # Each customer is told of his debit by e-mail, on a worker, once it is built.
    assert queued[1:] == [("send_prenotifications", (invoice.tenant_id, body["id"]))]
    queued[:] = queued[1:]
    assert collections.send_prenotifications(*queued[0][1]) == 1
    [notice] = inbox.messages
    assert notice["To"] == account.email
    assert fr("It pays invoice %(number)s.", number=invoice.number) in \
        notice.get_body(("plain",)).get_content()
    assert collections.send_prenotifications(*queued[0][1]) == 0  # told once
    xml = client.get(f"{url}/pain.008.xml")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert b"<SeqTp>FRST</SeqTp>" in xml.data
    import hashlib

    assert hashlib.sha256(xml.data).hexdigest() == body["file_sha256"]
    debits = client.get(f"{url}/debits").get_json()
    assert [(d["invoice_id"], d["sequence_type"], d["status"]) for d in debits] == \
        [(invoice.id, "FRST", "pending")]
    settling = client.post(f"{url}/settle")
    assert settling.status_code == 202 and settling.get_json()["status"] == "settling"
    problem(client.post(f"{url}/settle"), 403)  # asked already
    [(name, args)] = queued[-1:]
    assert name == "settle_collection"
    assert collection_builds.run_settlement(*args) == "settled"
    assert client.get(url).get_json()["status"] == "settled"
    problem(client.post(f"{url}/settle"), 403)
    returned = client.post(f"/api/v1/debits/{debits[0]['id']}/return", json={"reason": "MD06"})
    assert returned.status_code == 200, returned.data
    assert returned.get_json()["return_reason"] == "MD06"
    db.session.expire_all()
    assert db.session.get(type(invoice), invoice.id).status == "issued"

    with tenant_context(other_tenant.id, SYSTEM):
        _token, secret = create_token("Beta admin", "read,admin")
        db.session.commit()
    other = bearer(app, secret)
    assert other.get("/api/v1/collections").get_json() == []
    problem(other.get(f"{url}/pain.008.xml"), 404)
    problem(other.post(f"/api/v1/debits/{debits[0]['id']}/return", json={"reason": "AM04"}),
            404)
    problem(bearer(app, make_token("read,write")[1]).get("/api/v1/collections"), 403)


def test_the_customer_page_shows_his_mandates_and_returned_debits(
        app, admin_client, creditor, make_account, make_invoice, make_user):
    from tests.backoffice.conftest import text
    from tests.conftest import login

    when = local_day() + timedelta(days=15)
    account = make_account()
    mandate = active_mandate(account)
    invoice = make_invoice(account=account, due_on=when)
    collection = collections.build_collection(when)
    collections.settle_collection(collection)
    collections.return_debit(collection.debits[0], "AM04", date(2026, 12, 20))
    db.session.commit()
    page = admin_client.get(f"/alpha/accounts/{account.id}/360")
    assert page.status_code == 200
    shown = text(page)
    assert mandate.reference in shown
    assert fr("account ending in %(last)s", last="0189") in shown
    assert fr("Insufficient funds") in shown and "AM04" in shown
    assert f"/alpha/invoices/{invoice.id}" in page.text
    nothing = make_account(name="Sans prélèvement")
    assert fr("Direct debit") not in text(admin_client.get(f"/alpha/accounts/{nothing.id}/360"))
    agent_free = login(app.test_client(), make_user("sales"))
    assert mandate.reference in text(agent_free.get(f"/alpha/accounts/{account.id}/360"))


def test_a_file_the_xsd_refuses_is_never_kept(creditor, make_account, make_invoice):
    when = local_day() + timedelta(days=15)
    account = make_account()
    active_mandate(account)
    make_invoice(account=account, due_on=when)
    collection = collections.build_collection(when)
    content = collections.collection_file(collection).read_bytes()
    rows = (collection.count, collection.control_sum)
    pain008.check_file(content, *rows)  # the file as built passes
    for broken in (content.replace(b"<SeqTp>FRST</SeqTp>", b"<SeqTp>NEXT</SeqTp>"),
                   content.replace(b"<Nm>Telepeage Services</Nm>", b"<Nm>T\xc3\xa9l\xc3\xa9</Nm>")):
        with pytest.raises(pain008.CollectionFileError):
            pain008.check_file(broken, *rows)


@pytest.mark.parametrize("chunk", [900, 1], ids=["one-chunk", "a-debit-per-chunk"])
def test_settling_audits_the_invoices_paid_and_the_mandates_used(
        creditor, make_account, make_invoice, monkeypatch, chunk):
    # Settled a chunk of debits at a time: the mandate of two chunks is audited once.
    monkeypatch.setattr(collections, "IN_LIST", chunk)
    when = local_day() + timedelta(days=15)
    account = make_account()
    mandate = active_mandate(account)
    mandate.last_used_on = date(2026, 6, 1)
    mandates.amend_mandate(mandate, {"iban": NEW_IBAN})
    first = make_invoice(account=account, due_on=when)
    second = make_invoice(account=account, due_on=when)
    collection = collections.build_collection(when)
    db.session.commit()
    assert len(collection.debits) == 2  # RCUR: both invoices under the one mandate
    collections.settle_collection(collection)
    db.session.commit()

    def events(entity):
        return db.session.scalars(select(AuditEvent).where(
            AuditEvent.entity == entity, AuditEvent.action == "update")
            .order_by(AuditEvent.id)).all()

    *_amended, used = events("sepa_mandates")  # after the amendment's own event
    assert used.record_id == mandate.id
    assert (used.before["last_used_on"], used.before["original_iban"]) == \
        ("2026-06-01", "FR7630006000011234567890189")
    assert (used.after["last_used_on"], used.after["original_iban"]) == \
        (when.isoformat(), None)
    paid = {e.record_id: (e.before, e.after) for e in events("invoices")}
    for invoice in (first, second):
        before, after = paid[invoice.id]
        assert (Decimal(before["amount_paid"]), before["status"]) == (0, "issued")
        assert (Decimal(after["amount_paid"]), after["status"]) == (invoice.total, "paid")
    db.session.refresh(mandate)
    assert (mandate.last_used_on, mandate.original_iban) == (when, None)


def test_settling_and_telling_cost_the_same_statements_for_one_debit_or_many(
        app, creditor, make_account, make_invoice, inbox):
    when = local_day() + timedelta(days=15)

    def statements(customers):
        for n in range(customers):
            account = make_account(email=f"client{n}@example.com")
            active_mandate(account)
            make_invoice(account=account, due_on=when)
        collection = collections.build_collection(when)
        db.session.commit()
        with count_statements(app) as settling:
            collections.settle_collection(collection)
        db.session.commit()
        with count_statements(app) as telling:
            told = collections.send_prenotifications(collection.tenant_id, collection.id)
        assert told == customers
        # Each debit is marked told, and committed, on its own (a job run again after a
        # crash tells the others only): those statements are the debits', not reads.
        return len(settling), len([s for s in telling if s.lstrip().upper()
                                   .startswith("SELECT")])

    assert statements(1) == statements(5)
