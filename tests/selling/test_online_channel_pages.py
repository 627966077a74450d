"""The online channel's back office (More → Online channel): mandates listed, filtered and
opened; a paper mandate registered from a customer's page, amended, revoked with its proof;
collections built, downloaded, pre-notified, settled, a debit returned with its reason code.
Admins write, sales read (the IBAN masked), agents and subscribers are refused, another
tenant's mandate or collection is not found."""
from __future__ import annotations

import io
import re
from datetime import date, timedelta

from flask_babel import force_locale
from sqlalchemy import select

from app.entities import ENTITIES
from app.extensions import db
from app.i18n import day
from app.models import Attachment, AuditEvent, Collection, Debit, Invoice, Mandate, Role
from app.services import collection_builds, collections, mandates
from app.services.offers import set_creditor
from app.services.records import create_record
from app.tenancy import SYSTEM, tenant_context
from tests.backoffice.conftest import SPACES, fr, text
from tests.conftest import local_day, login
from tests.selling.conftest import active_mandate
from tests.selling.test_mandates import DEBTOR, NEW_IBAN
from tests.selling.test_offers_api import CREDITOR

IBAN = "FR7630006000011234567890189"


def _collection(account, make_invoice):
    when = local_day() + timedelta(days=20)
    invoice = make_invoice(account=account, number="F-DEBIT-1", due_on=when)
    collection = collections.build_collection(when)
    db.session.commit()
    return collection, invoice


def test_the_mandate_list_filters_searches_and_pages(admin_client, creditor, make_account,
                                                     app):
    durand = make_account(name="Famille Durand")
    active_mandate(durand, debtor_name="Paul Durand", reference="SHOP-DURAND")
    martin = active_mandate(make_account(name="Martin SA"), debtor_name="Claire Martin")
    revoked = active_mandate(make_account(name="Ancien client"), debtor_name="Jean Ancien")
    mandates.revoke_mandate(revoked, "Lettre du 2 décembre")
    db.session.commit()

    listing = admin_client.get("/alpha/mandates/")
    assert listing.status_code == 200
    shown = text(listing)
    assert "SHOP-DURAND" in shown and martin.reference in shown and revoked.reference in shown
    assert IBAN in shown  # an admin reads the IBAN whole, as the API gives it
    by_name = text(admin_client.get("/alpha/mandates/?q=durand"))
    assert "SHOP-DURAND" in by_name and martin.reference not in by_name
    by_umr = text(admin_client.get(f"/alpha/mandates/?q={martin.reference[-6:]}"))
    assert martin.reference in by_umr and "SHOP-DURAND" not in by_umr
    only_revoked = text(admin_client.get("/alpha/mandates/?status=revoked"))
    assert revoked.reference in only_revoked and martin.reference not in only_revoked
    assert "SHOP-DURAND" not in text(admin_client.get("/alpha/mandates/?channel=online"))
    nothing = admin_client.get("/alpha/mandates/?status=nonsense&channel=x&q=zzzz")
    assert nothing.status_code == 200
    assert fr("No mandate matches these filters.") in text(nothing)

    app.config["PAGE_SIZE"] = 2
    try:
        first = admin_client.get("/alpha/mandates/")
        assert first.data.decode().count('id="mandate-') == 2
        after = re.search(r'rel="next" href="([^"]+)"', first.data.decode()).group(1)
        second = admin_client.get(after.replace("&amp;", "&"))
        assert second.data.decode().count('id="mandate-') == 1
        assert "SHOP-DURAND" in text(second)  # the oldest, last
        stale = admin_client.get("/alpha/mandates/?after=garbage")
        assert stale.status_code == 200 and stale.data.decode().count('id="mandate-') == 2
    finally:
        app.config["PAGE_SIZE"] = 25


def test_an_admin_registers_a_paper_mandate_from_the_customers_page(admin_client, creditor,
                                                                    make_account):
    account = make_account(name="Hélène Dupré", address_line="4 avenue des Châtaigniers",
                           postal_code="69003", city="Lyon")
    page = admin_client.get(f"/alpha/accounts/{account.id}/360")
    assert f"/alpha/accounts/{account.id}/mandates/new" in page.text
    form = admin_client.get(f"/alpha/accounts/{account.id}/mandates/new")
    assert form.status_code == 200
    assert 'value="Hélène Dupré"' in form.text and 'value="69003"' in form.text

    data = {"reference": "réf 1", "debtor_name": "Hélène Dupré", "street": "",
            "building_number": "4", "postal_code": "69003", "town": "Lyon", "country": "FR",
            "iban": "FR76 3000 6000 0112 3456 7890 188", "bic": "",
            "signed_on": str(local_day() + timedelta(days=3)), "is_recurrent": "y"}
    wrong = admin_client.post(f"/alpha/accounts/{account.id}/mandates/new", data=data)
    assert wrong.status_code == 422
    shown = text(wrong)
    assert fr("This field is required.") in shown
    assert fr("A mandate cannot be signed in the future.") in shown
    assert fr("This IBAN's check digits are wrong: a character was probably mistyped.") in shown
    assert fr("A mandate reference has at most 35 letters without accents, digits and "
              "/ - ? : ( ) . , ' + (no space).") in shown
    assert 'value="FR76 3000 6000 0112 3456 7890 188"' in wrong.text  # nothing typed is lost
    assert db.session.scalar(select(Mandate)) is None

    saved = admin_client.post(f"/alpha/accounts/{account.id}/mandates/new", data={
        **data, "reference": "shop-0042", "street": "Avenue des Châtaigniers",
        "iban": "FR76 3000 6000 0112 3456 7890 189", "signed_on": str(local_day())})
    assert saved.status_code == 302
    mandate = db.session.scalar(select(Mandate))
    assert saved.headers["Location"].endswith(f"/alpha/mandates/{mandate.id}")
    assert (mandate.reference, mandate.channel, mandate.iban, mandate.bic) == \
        ("SHOP-0042", "paper", IBAN, "AGRIFRPPXXX")
    detail = text(admin_client.get(f"/alpha/mandates/{mandate.id}"))
    assert "SHOP-0042" in detail and "FR72ZZZ123456" in detail and "FRST" in detail
    assert fr("Created") in detail  # its history
    assert "SHOP-0042" in text(admin_client.get(f"/alpha/accounts/{account.id}/360"))


def test_a_paper_mandate_needs_the_creditor_first(admin_client, make_account):
    account = make_account()
    refused = admin_client.post(f"/alpha/accounts/{account.id}/mandates/new", data={
        **DEBTOR, "signed_on": str(local_day())})
    assert refused.status_code == 422
    assert fr("Enter the SEPA creditor settings first: a mandate is given to a creditor.") \
        in text(refused)


def test_an_amendment_is_shown_pending_then_reported_as_smnda(admin_client, creditor,
                                                             make_account, make_invoice,
                                                             queued):
    account = make_account()
    mandate = active_mandate(account)
    form = admin_client.get(f"/alpha/mandates/{mandate.id}/amend")
    assert form.status_code == 200 and 'value="Lyon"' in form.text
    wrong = admin_client.post(f"/alpha/mandates/{mandate.id}/amend", data={
        **DEBTOR, "town": "", "iban": "DE00 1234"})
    assert wrong.status_code == 422
    assert fr("This field is required.") in text(wrong) and 'value="DE00 1234"' in wrong.text
    db.session.refresh(mandate)
    assert mandate.iban == IBAN and not mandate.is_amended

    done = admin_client.post(f"/alpha/mandates/{mandate.id}/amend", data={
        **DEBTOR, "iban": NEW_IBAN, "bic": ""})
    assert done.status_code == 302
    db.session.refresh(mandate)
    assert mandate.iban == NEW_IBAN and mandate.original_iban == IBAN
    detail = text(admin_client.get(f"/alpha/mandates/{mandate.id}"))
    assert fr("Amendment pending") in detail and IBAN in detail and NEW_IBAN in detail
    assert fr("IBAN before the amendment") in detail  # the history names the change

    collection, _invoice = _collection(account, make_invoice)
    page = text(admin_client.get(f"/alpha/collections/{collection.id}"))
    assert fr("SMNDA: new bank") in page


def test_an_admin_revokes_a_mandate_with_its_proof(admin_client, creditor, make_account):
    mandate = active_mandate(make_account(), reference="SHOP/0042(A)")
    form = admin_client.get(f"/alpha/mandates/{mandate.id}/revoke")
    assert form.status_code == 200
    empty = admin_client.post(f"/alpha/mandates/{mandate.id}/revoke", data={
        "reason": " ", "ended_on": "2026-12-01"})
    assert empty.status_code == 422
    assert fr("Say how the customer revoked it (his letter, e-mail, his bank…): it is the "
              "proof kept.") in text(empty)
    assert 'value="2026-12-01"' in empty.text
    no_date = admin_client.post(f"/alpha/mandates/{mandate.id}/revoke", data={
        "reason": "Lettre recommandée", "ended_on": ""})
    assert no_date.status_code == 422 and "Lettre recommandée" in text(no_date)
    db.session.refresh(mandate)
    assert mandate.status == "active"

    done = admin_client.post(f"/alpha/mandates/{mandate.id}/revoke", data={
        "reason": "Lettre recommandée du 28 novembre", "ended_on": "2026-12-01",
        "proof": (io.BytesIO(b"%PDF-1.4 lettre"), "lettre.pdf")},
        content_type="multipart/form-data")
    assert done.status_code == 302
    db.session.expire_all()
    mandate = db.session.get(Mandate, mandate.id)
    assert (mandate.status, mandate.ended_on) == ("revoked", date(2026, 12, 1))
    proof = db.session.scalar(select(Attachment))
    assert proof.record_type == "accounts" and proof.record_id == mandate.account_id
    assert proof.file_name == "revocation-SHOP_0042A-lettre.pdf"
    detail = admin_client.get(f"/alpha/mandates/{mandate.id}")
    shown = text(detail)
    assert "Lettre recommandée du 28 novembre" in shown and proof.file_name in shown
    assert f"/alpha/attachments/{proof.id}/download" in detail.text
    assert f"/alpha/mandates/{mandate.id}/amend" not in detail.text
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.entity == "sepa_mandates", AuditEvent.action == "update")) is not None
    again = admin_client.post(f"/alpha/mandates/{mandate.id}/revoke", data={
        "reason": "Encore", "ended_on": "2026-12-02"})
    assert again.status_code == 302
    assert fr("This mandate is %(status)s: it can no longer change.", status=fr("revoked")) \
        in text(admin_client.get(again.headers["Location"]))


def test_a_collection_is_built_downloaded_notified_settled_and_a_debit_returned(
        admin_client, creditor, make_account, make_invoice, queued):
    account = make_account(name="Hélène Dupré", email="helene@example.com")
    active_mandate(account)
    when = local_day() + timedelta(days=20)
    invoice = make_invoice(account=account, number="F-DEBIT-1", due_on=when)
    assert fr("No collection yet.") in text(admin_client.get("/alpha/collections/"))
    form = admin_client.get("/alpha/collections/new")
    assert form.status_code == 200
    default = str(local_day() + timedelta(days=14))
    assert f'value="{default}"' in form.text
    too_soon = admin_client.post("/alpha/collections/new", data={
        "collection_date": str(local_day() + timedelta(days=2))})
    assert too_soon.status_code == 422
    with force_locale("fr"):
        earliest = day(local_day() + timedelta(days=14))
    assert fr("Customers are told %(days)d days before a debit: choose %(date)s or later.",
              days=14, date=earliest).translate(SPACES) in text(too_soon)
    nothing_due = admin_client.post("/alpha/collections/new", data={
        "collection_date": str(local_day() + timedelta(days=15))})
    assert nothing_due.status_code == 422
    assert fr("No open invoice of a customer with an active mandate is due by this date.") \
        in text(nothing_due)
    not_a_date = admin_client.post("/alpha/collections/new", data={"collection_date": "bientôt"})
    assert not_a_date.status_code == 422 and db.session.scalar(select(Collection)) is None

    built = admin_client.post("/alpha/collections/new", data={"collection_date": str(when)})
    assert built.status_code == 302
    collection = db.session.scalar(select(Collection))
    # The request only queues the build: the page says so, and refreshes until it is done.
    assert queued == [("build_collection", (collection.tenant_id, collection.id))]
    building = admin_client.get(built.headers["Location"])
    assert fr("This collection is being built: its debits and its pain.008 file appear here "
              "when it is done.") in text(building)
    assert 'http-equiv="refresh"' in building.text and 'id="download"' not in building.text
    assert admin_client.get(f"/alpha/collections/{collection.id}/pain.008.xml") \
        .status_code == 404
    assert collection_builds.run_build(*queued.pop()[1]) == "built"
    assert queued == [("send_prenotifications", (collection.tenant_id, collection.id))]
    db.session.expire_all()
    collection = db.session.get(Collection, collection.id)
    page = admin_client.get(f"/alpha/collections/{collection.id}")
    assert 'http-equiv="refresh"' not in page.text
    shown = text(page)
    assert "F-DEBIT-1" in shown and "FRST" in shown and collection.message_id in shown
    assert fr("%(told)d customer(s) told, %(left)d not yet", told=0, left=1) in shown
    assert collection.message_id in text(admin_client.get("/alpha/collections/"))

    xml = admin_client.get(f"/alpha/collections/{collection.id}/pain.008.xml")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert b"<SeqTp>FRST</SeqTp>" in xml.data and "attachment" in xml.headers[
        "Content-Disposition"]

    assert admin_client.post(f"/alpha/collections/{collection.id}/prenotify").status_code == 302
    assert queued[-1] == ("send_prenotifications", (collection.tenant_id, collection.id))

    settling = admin_client.post(f"/alpha/collections/{collection.id}/settle")
    assert settling.status_code == 302
    assert fr("This collection is being settled: its invoices are marked paid in a moment.") \
        in text(admin_client.get(settling.headers["Location"]))
    assert queued[-1] == ("settle_collection", (collection.tenant_id, collection.id))
    assert collection_builds.run_settlement(*queued[-1][1]) == "settled"
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == "paid"
    twice = admin_client.post(f"/alpha/collections/{collection.id}/settle")
    assert fr("This collection is settled already.") in text(
        admin_client.get(twice.headers["Location"]))

    debit = db.session.scalar(select(Debit))
    form = admin_client.get(f"/alpha/debits/{debit.id}/return")
    assert form.status_code == 200
    with_labels = text(form)
    assert "AM04 — " + fr("Insufficient funds") in with_labels
    assert "MD06 — " + fr("Refund asked by the customer") in with_labels
    no_reason = admin_client.post(f"/alpha/debits/{debit.id}/return", data={
        "reason": "", "returned_on": str(local_day())})
    assert no_reason.status_code == 422
    assert fr("Give the return's ISO reason code, e.g. AM04 (insufficient funds) or MD06 "
              "(refund asked).") in text(no_reason)
    returned = admin_client.post(f"/alpha/debits/{debit.id}/return", data={
        "reason": "AM04", "returned_on": str(local_day())})
    assert returned.status_code == 302
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == "issued"  # open again
    assert db.session.get(Debit, debit.id).return_reason == "AM04"
    shown = text(admin_client.get(f"/alpha/collections/{collection.id}"))
    assert "AM04" in shown and fr("Insufficient funds") in shown
    customer = text(admin_client.get(f"/alpha/accounts/{account.id}/360"))
    assert fr("Insufficient funds") in customer
    again = admin_client.post(f"/alpha/debits/{debit.id}/return", data={
        "reason": "MD06", "returned_on": str(local_day())})
    assert fr("This debit was returned already.") in text(
        admin_client.get(again.headers["Location"]))


def test_the_pages_speak_english_to_an_english_user(admin_client, creditor, make_account,
                                                   make_invoice, queued):
    from tests.backoffice.conftest import en

    account = make_account()
    active_mandate(account)
    assert "No collection yet." in text(en(admin_client).get("/alpha/collections/"))
    assert "Active" in text(admin_client.get("/alpha/mandates/"))
    _collection(account, make_invoice)
    debit = db.session.scalar(select(Debit))
    form = text(admin_client.get(f"/alpha/debits/{debit.id}/return"))
    assert "AM04 — Insufficient funds" in form and "MD06 — Refund asked by the customer" in form


def test_sales_read_with_the_iban_masked_and_never_write(sales_client, creditor, make_account,
                                                         make_invoice, queued):
    account = make_account()
    mandate = active_mandate(account)
    collection, _invoice = _collection(account, make_invoice)
    listing = sales_client.get("/alpha/mandates/")
    assert listing.status_code == 200 and mandate.reference in text(listing)
    assert IBAN not in listing.text and "FR76 •••• 0189" in text(listing)
    detail = sales_client.get(f"/alpha/mandates/{mandate.id}")
    assert detail.status_code == 200 and IBAN not in detail.text
    assert "/amend" not in detail.text
    assert sales_client.get(f"/alpha/collections/{collection.id}").status_code == 200
    assert "pain.008.xml" not in sales_client.get(f"/alpha/collections/{collection.id}").text
    debit = db.session.scalar(select(Debit))
    for url in (f"/alpha/mandates/{mandate.id}/amend", f"/alpha/mandates/{mandate.id}/revoke",
                f"/alpha/accounts/{account.id}/mandates/new", "/alpha/collections/new",
                f"/alpha/collections/{collection.id}/pain.008.xml",
                f"/alpha/debits/{debit.id}/return"):
        assert sales_client.get(url).status_code == 403, url
    for url in (f"/alpha/collections/{collection.id}/settle",
                f"/alpha/collections/{collection.id}/prenotify"):
        assert sales_client.post(url).status_code == 403, url
    db.session.expire_all()
    assert db.session.get(Collection, collection.id).status == "built"


def test_agents_and_subscribers_are_refused_in_the_back_office(
        app, agent_client, make_user, creditor, make_account, make_invoice, queued):
    account = make_account()
    mandate = active_mandate(account)
    collection, _invoice = _collection(account, make_invoice)
    subscriber = login(app.test_client(), make_user(Role.SUBSCRIBER.value,
                                                    account_id=account.id))
    for client in (agent_client, subscriber):
        for url in ("/alpha/mandates/", f"/alpha/mandates/{mandate.id}", "/alpha/collections/",
                    f"/alpha/collections/{collection.id}"):
            assert client.get(url).status_code == 403, url


def test_another_tenants_mandates_and_collections_are_not_found(
        admin_client, creditor, make_account, make_invoice, other_tenant, queued):
    with tenant_context(other_tenant.id, SYSTEM):
        set_creditor({**CREDITOR, "name": "Beta"})
        beta = create_record(ENTITIES["accounts"], {"name": "Beta client"})
        theirs = mandates.create_mandate(beta, {**DEBTOR, "signed_on": date(2026, 1, 5)})
        create_record(ENTITIES["invoices"], {
            "account": beta.id, "number": "B-1", "status": "issued",
            "due_on": local_day() + timedelta(days=20),
            "lines": [{"label": "x", "quantity": 1, "unit_price": 10, "tax_rate": 20}]})
        their_collection = collections.build_collection(local_day() + timedelta(days=20))
        db.session.commit()
        ids = (theirs.id, their_collection.id, their_collection.debits[0].id, beta.id,
               theirs.reference)
    mandate_id, collection_id, debit_id, account_id, reference = ids
    assert reference not in text(admin_client.get("/alpha/mandates/"))
    for url in (f"/alpha/mandates/{mandate_id}", f"/alpha/mandates/{mandate_id}/amend",
                f"/alpha/mandates/{mandate_id}/revoke", f"/alpha/collections/{collection_id}",
                f"/alpha/collections/{collection_id}/pain.008.xml",
                f"/alpha/debits/{debit_id}/return",
                f"/alpha/accounts/{account_id}/mandates/new"):
        assert admin_client.get(url).status_code == 404, url
    assert admin_client.post(f"/alpha/collections/{collection_id}/settle").status_code == 404


def test_forms_refuse_a_post_without_its_csrf_token(admin_client, creditor, make_account,
                                                    csrf_on, queued):
    mandate = active_mandate(make_account())
    refused = admin_client.post(f"/alpha/mandates/{mandate.id}/revoke", data={
        "reason": "Lettre", "ended_on": "2026-12-01"})
    assert refused.status_code in (400, 422)
    db.session.refresh(mandate)
    assert mandate.status == "active"


def test_the_online_channel_is_one_group_of_the_menu(admin_client, sales_client):
    admin_menu = admin_client.get("/alpha/mandates/").text
    for url in ("/alpha/admin/offers", "/alpha/admin/sepa", "/alpha/mandates/",
                "/alpha/collections/"):
        assert f'href="{url}"' in admin_menu
    sales_menu = sales_client.get("/alpha/collections/").text
    assert 'href="/alpha/mandates/"' in sales_menu and "/alpha/admin/offers" not in sales_menu


def test_the_lists_read_a_page_in_as_many_queries_whatever_its_length(
        app, admin_client, creditor, make_account, make_invoice, queued):
    from tests.backoffice.conftest import count_statements

    def read(url):
        with count_statements(app) as statements:
            assert admin_client.get(url).status_code == 200
        return len(statements)

    when = local_day() + timedelta(days=20)
    first = make_account()
    active_mandate(first)
    make_invoice(account=first, due_on=when)
    one = collections.build_collection(when)
    db.session.commit()
    few = (read("/alpha/mandates/"), read(f"/alpha/collections/{one.id}"))
    for _ in range(5):
        account = make_account()
        active_mandate(account)
        make_invoice(account=account, due_on=when + timedelta(days=1))
    many = collections.build_collection(when + timedelta(days=1))
    db.session.commit()
    assert len(many.debits) == 5
    assert (read("/alpha/mandates/"), read(f"/alpha/collections/{many.id}")) == few


def test_bad_input_is_answered_beside_its_field_never_a_crash(admin_client, creditor,
                                                             make_account, make_invoice,
                                                             queued):
    account = make_account()
    mandate = active_mandate(account)
    _collection(account, make_invoice)
    debit = db.session.scalar(select(Debit))
    assert admin_client.get("/alpha/mandates/?q=" + "é" * 5000).status_code == 200
    assert admin_client.get("/alpha/mandates/?status=%27;--&before=!!").status_code == 200
    assert admin_client.get("/alpha/collections/?after=e30").status_code == 200
    not_a_code = admin_client.post(f"/alpha/debits/{debit.id}/return", data={
        "reason": "ZZZZ", "returned_on": "2026-12-01"})
    assert not_a_code.status_code == 422
    bad_day = admin_client.post(f"/alpha/debits/{debit.id}/return", data={
        "reason": "AM04", "returned_on": "31/02/2026"})
    assert bad_day.status_code == 422 and "is-invalid" in bad_day.text
    assert admin_client.post(f"/alpha/mandates/{mandate.id}/revoke", data={
        "reason": "x" * 501, "ended_on": "2026-12-01"}).status_code == 422
    assert admin_client.post(f"/alpha/accounts/{account.id}/mandates/new", data={
        **DEBTOR, "signed_on": "hier"}).status_code == 422
    db.session.expire_all()
    assert db.session.get(Debit, debit.id).status == "pending"
    assert db.session.get(Mandate, mandate.id).status == "active"
