"""A collection built by its job, not by the request: previewed first (what it debits, what it
leaves out and why), queued, built or failed with its reason in the tenant's language, taken
again when the process building it stopped; another tenant's job does not touch it."""
from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flask_babel import force_locale
from sqlalchemy import select, update

from app import jobs
from app.extensions import db
from app.i18n import day
from app.models import Collection, Debit, Invoice
from app.queries.collection_due import preview
from app.services import collection_builds, collections, mandates
from app.tenancy import SYSTEM, tenant_context
from tests.backoffice.conftest import SPACES, fr, text
from tests.conftest import local_day
from tests.selling.conftest import active_mandate
from tests.selling.test_mandates import NEW_IBAN

TOTAL = Decimal("1481.47")  # an invoice of the make_invoice fixture
SWISS_IBAN = "CH9300762011623852957"


def _customers(make_account, make_invoice, when):
    """One customer per case a collection meets; {name: invoice numbers}."""
    first = make_account(name="Premier prélèvement")
    active_mandate(first)
    make_invoice(account=first, number="F-FRST", due_on=when - timedelta(days=2))
    make_invoice(account=first, number="F-FRST-NEXT", due_on=when)
    regular = make_account(name="Client régulier")
    mandate = active_mandate(regular)
    mandate.last_used_on = date(2026, 6, 1)
    mandates.amend_mandate(mandate, {"iban": NEW_IBAN})  # another bank: SMNDA
    db.session.commit()
    make_invoice(account=regular, number="F-RCUR-1", due_on=when)
    make_invoice(account=regular, number="F-RCUR-2", due_on=None)
    once = make_account(name="Achat unique")
    active_mandate(once, is_recurrent=False)
    make_invoice(account=once, number="F-OOFF", due_on=when)
    make_invoice(account=once, number="F-OOFF-2", due_on=when)
    make_invoice(account=make_account(name="Sans mandat"), number="F-NONE", due_on=when)
    for status in ("revoked", "expired"):
        account = make_account(name=f"Mandat {status}")
        active_mandate(account).status = status
        db.session.commit()
        make_invoice(account=account, number=f"F-{status.upper()}", due_on=when)
    swiss = make_account(name="Client suisse")
    active_mandate(swiss, iban=SWISS_IBAN).bic = ""  # as an import may leave it
    db.session.commit()
    make_invoice(account=swiss, number="F-NOBIC", due_on=when)
    make_invoice(account=regular, number="F-LATER", due_on=when + timedelta(days=1))


def test_the_preview_counts_the_debits_and_says_why_invoices_are_left_out(
        admin_client, creditor, make_account, make_invoice, queued):
    when = local_day() + timedelta(days=20)
    _customers(make_account, make_invoice, when)
    page = admin_client.get(f"/alpha/collections/new?collection_date={when}")
    assert page.status_code == 200
    shown = text(page)
    found = preview(when)
    assert (found.count, found.total) == (4, 4 * TOTAL)
    assert dict(found.sequences) == {"FRST": 1, "RCUR": 2, "OOFF": 1}
    assert dict(found.amendments) == {"SMNDA": 2}  # both invoices under the amended mandate
    why = {line.number: line.reason for line in found.left_out}
    assert why == {"F-FRST-NEXT": "first_debit", "F-OOFF-2": "one_off", "F-NONE": "no_mandate",
                   "F-REVOKED": "revoked", "F-EXPIRED": "expired", "F-NOBIC": "no_bic"}
    # The admin reads the same, in French, before confirming.
    for label in ("Mandate revoked", "Mandate expired", "No mandate",
                  "Missing BIC (account outside the EEA)",
                  "A one-off mandate debits one invoice only",
                  "A first debit under this mandate takes one invoice: in the next collection"):
        assert fr(label) in shown, label
    assert fr("%(count)d due invoice(s) left out", count=6) in shown
    assert fr("Amended mandates: %(smnda)d with a new bank (SMNDA), %(account)d with a new "
              "account at the same bank.", smnda=2, account=0) in shown
    assert "F-NOBIC" in shown and "F-LATER" not in shown and "Client suisse" in shown
    assert db.session.scalar(select(Collection)) is None  # a preview builds nothing

    confirmed = admin_client.post("/alpha/collections/new", data={"collection_date": str(when)})
    assert confirmed.status_code == 302
    [(name, args)] = queued
    assert name == "build_collection"
    assert collection_builds.run_build(*args) == "built"
    collection = db.session.scalar(select(Collection))
    assert (collection.status, collection.count, collection.control_sum) == \
        ("built", found.count, found.total)
    numbers = db.session.scalars(select(Invoice.number).join(
        Debit, Debit.invoice_id == Invoice.id).order_by(Invoice.number)).all()
    assert numbers == ["F-FRST", "F-OOFF", "F-RCUR-1", "F-RCUR-2"]
    # Then, debited already and waiting for the bank, they are left out of the next one.
    # The others under a first or one-off debit still wait for the bank to collect it.
    again = preview(when)
    assert again.count == 0
    assert dict(again.left_out_counts) == {"in_collection": 4, "first_debit": 1, "one_off": 1,
                                           "no_mandate": 1, "revoked": 1, "expired": 1,
                                           "no_bic": 1}


def test_the_preview_lists_the_first_left_out_invoices_and_counts_them_all(
        admin_client, creditor, make_account, make_invoice, monkeypatch):
    from app.queries import collection_due

    monkeypatch.setattr(collection_due, "SHOWN", 2)
    when = local_day() + timedelta(days=20)
    _customers(make_account, make_invoice, when)
    found = preview(when)
    assert (found.count, found.total, found.left_out_total) == (4, 4 * TOTAL, 6)
    # The first ones by reason, then invoice, whatever the number of the others.
    assert [(line.reason, line.number, line.account_name, line.due_on, line.amount)
            for line in found.left_out] == [
        ("expired", "F-EXPIRED", "Mandat expired", when, TOTAL),
        ("first_debit", "F-FRST-NEXT", "Premier prélèvement", when, TOTAL)]
    shown = text(admin_client.get(f"/alpha/collections/new?collection_date={when}"))
    assert fr("%(count)d due invoice(s) left out", count=6) in shown
    assert "F-FRST-NEXT" in shown and "F-NOBIC" not in shown


def test_a_date_too_soon_is_said_in_the_preview_and_cannot_be_confirmed(
        admin_client, creditor, make_account, make_invoice):
    soon = local_day() + timedelta(days=3)
    active_mandate(account := make_account())
    make_invoice(account=account, due_on=soon)
    shown = admin_client.get(f"/alpha/collections/new?collection_date={soon}")
    assert 'id="confirm"' not in shown.text
    with force_locale("fr"):
        earliest = day(local_day() + timedelta(days=14))
    assert fr("Customers are told %(days)d days before a debit: choose %(date)s or later.",
              days=14, date=earliest).translate(SPACES) in text(shown)


def test_a_build_that_finds_nothing_left_fails_with_its_reason_in_french(
        app, admin_client, make_token, creditor, make_account, make_invoice, queued):
    from tests.api.conftest import bearer

    when = local_day() + timedelta(days=20)
    active_mandate(account := make_account())
    invoice = make_invoice(account=account, due_on=when)
    client = bearer(app, make_token("read,admin")[1])
    created = client.post("/api/v1/collections", json={"collection_date": str(when)})
    assert created.status_code == 202
    # Paid between the request and its job.
    db.session.execute(update(Invoice).where(Invoice.id == invoice.id)
                       .values(status="paid", amount_paid=invoice.total))
    db.session.commit()
    assert collection_builds.run_build(*queued.pop()[1]) == "failed"
    assert queued == []  # nobody is told of a debit that is not there
    body = client.get(created.headers["Location"]).get_json()
    reason = fr("No open invoice of a customer with an active mandate is due by this date.")
    assert (body["status"], body["count"], body["message"]) == ("failed", 0, reason)
    page = text(admin_client.get(f"/alpha/collections/{body['id']}"))
    assert fr("This collection could not be built: %(reason)s", reason=reason) in page
    assert fr("Failed") in page
    settle = admin_client.post(f"/alpha/collections/{body['id']}/settle")
    assert fr("This collection has no file yet: it cannot be settled.") in text(
        admin_client.get(settle.headers["Location"]))


def test_an_unexpected_failure_leaves_a_message_not_a_half_collection(
        admin_client, creditor, make_account, make_invoice, queued, monkeypatch):
    when = local_day() + timedelta(days=20)
    active_mandate(account := make_account())
    make_invoice(account=account, due_on=when)
    admin_client.post("/alpha/collections/new", data={"collection_date": str(when)})
    real = collections.pain008

    def broken(*args, **kwargs):
        real(*args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(collections, "pain008", broken)
    assert collection_builds.run_build(*queued.pop()[1]) == "failed"
    collection = db.session.scalar(select(Collection))
    assert collection.status == "failed"
    assert collection.message == fr(
        "The collection could not be built (%(reason)s). Build it again; if it fails again, "
        "tell your administrator.", reason="OSError")
    # Its debits were rolled back with it: the invoice is free for the next collection.
    assert db.session.scalar(select(Debit)) is None
    assert not collections.collection_file(collection).exists()
    assert admin_client.get(f"/alpha/collections/{collection.id}/pain.008.xml") \
        .status_code == 404


def _dead_worker() -> str:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return f"{socket.gethostname()[:80]}:{ended.stdout.strip()}"


def test_a_build_whose_process_stopped_is_queued_again_then_given_up(
        creditor, make_account, make_invoice, queued):
    when = local_day() + timedelta(days=20)
    active_mandate(account := make_account())
    make_invoice(account=account, due_on=when)
    stopped = collections.start_collection(when)
    fresh = collections.start_collection(when)  # just queued: left alone
    running = collections.start_collection(when)
    db.session.commit()
    now = datetime.now(UTC)
    for collection, worker in ((stopped, _dead_worker()), (running, jobs.process_id())):
        collection.job_worker, collection.job_started_at = worker, now
        collection.job_attempts = 1
    db.session.commit()

    assert collection_builds.recover_builds() == 1
    assert queued == [("build_collection", (stopped.tenant_id, stopped.id))]
    db.session.expire_all()
    assert db.session.get(Collection, running.id).job_worker == jobs.process_id()
    assert db.session.get(Collection, stopped.id).job_worker is None
    assert collection_builds.run_build(*queued.pop()[1]) == "built"
    done = db.session.get(Collection, stopped.id)
    assert (done.status, done.count, done.job_attempts) == ("built", 1, 2)
    assert db.session.get(Collection, fresh.id).status == "building"

    # A build that stopped its process three times is given up, with its reason.
    again = db.session.get(Collection, running.id)
    again.job_worker, again.job_attempts = _dead_worker(), 3
    db.session.commit()
    queued.clear()
    collection_builds.recover_builds()
    assert queued == []
    db.session.expire_all()
    given_up = db.session.get(Collection, running.id)
    assert given_up.status == "failed"
    assert given_up.message == fr(
        "The job stopped %(count)d times before its end: it was given up. Try again; if it "
        "stops again, tell your administrator.", count=3)


def test_a_job_of_another_tenant_does_not_build_this_tenants_collection(
        creditor, make_account, make_invoice, other_tenant, queued):
    when = local_day() + timedelta(days=20)
    active_mandate(account := make_account())
    make_invoice(account=account, due_on=when)
    collection = collections.start_collection(when)
    db.session.commit()
    assert collection_builds.run_build(other_tenant.id, collection.id) is None
    db.session.expire_all()
    with tenant_context(collection.tenant_id, SYSTEM):
        assert db.session.get(Collection, collection.id).status == "building"
    with tenant_context(other_tenant.id, SYSTEM):
        assert db.session.scalar(select(Collection)) is None


def test_a_collection_written_batch_by_batch_as_its_invoices_are_read(
        creditor, make_account, make_invoice, monkeypatch):
    """Debits written while the due invoices are still being read (a server-side cursor on
    PostgreSQL): batches of one here, of thousands in a large collection."""
    from app.queries import collection_due

    monkeypatch.setattr(collections, "CHUNK", 1)
    monkeypatch.setattr(collection_due, "STREAM", 1)
    when = local_day() + timedelta(days=20)
    for n in range(5):
        active_mandate(account := make_account(name=f"Client {n}"))
        make_invoice(account=account, number=f"F-{n}", due_on=when)
    collection = collections.build_collection(when)
    db.session.commit()
    assert (collection.count, collection.control_sum) == (5, 5 * TOTAL)
    assert sorted(d.end_to_end_id for d in collection.debits) == \
        sorted(f"C{collection.id}-I{d.invoice_id}" for d in collection.debits)
    content = collections.collection_file(collection).read_bytes()
    assert content.count(b"<DrctDbtTxInf>") == 5


def test_a_settlement_runs_as_a_job_and_a_failed_one_changes_nothing(
        app, make_token, creditor, make_account, make_invoice, queued, monkeypatch):
    from tests.api.conftest import bearer, problem

    when = local_day() + timedelta(days=20)
    active_mandate(account := make_account())
    invoice = make_invoice(account=account, due_on=when)
    collection = collections.build_collection(when)
    db.session.commit()
    client = bearer(app, make_token("read,admin")[1])
    url = f"/api/v1/collections/{collection.id}"
    assert client.post(f"{url}/settle").get_json()["status"] == "settling"

    def broken(collection):
        collections.settle_collection(collection)
        raise OSError("connection lost")

    monkeypatch.setattr(collection_builds, "settle_collection", broken)
    assert collection_builds.run_settlement(*queued.pop()[1]) == "built"
    body = client.get(url).get_json()
    assert body["status"] == "built"
    assert body["message"] == fr(
        "The settlement failed (%(reason)s): nothing was changed. Settle the collection "
        "again; if it fails again, tell your administrator.", reason="OSError")
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == "issued"  # rolled back

    # Asked again, its process killed: the recovery queues it again.
    monkeypatch.undo()
    monkeypatch.setattr(jobs, "enqueue", lambda name, *args, **_kw: queued.append((name, args)))
    assert client.post(f"{url}/settle").status_code == 202
    queued.clear()
    db.session.execute(update(Collection).where(Collection.id == collection.id)
                       .values(job_worker=_dead_worker()))
    db.session.commit()
    assert collection_builds.recover_builds() == 1
    assert queued == [("settle_collection", (collection.tenant_id, collection.id))]
    assert collection_builds.run_settlement(*queued.pop()[1]) == "settled"
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == "paid"
    problem(client.post(f"{url}/settle"), 403)


def test_the_settlement_job_acts_for_who_asked_for_it(
        app, make_token, creditor, make_account, make_invoice, queued):
    """The invoices paid by a settlement name whoever asked for it, not the builder nor the
    platform."""
    from app.models import AuditEvent
    from tests.api.conftest import bearer

    when = local_day() + timedelta(days=20)
    active_mandate(account := make_account())
    invoice = make_invoice(account=account, due_on=when)
    collection = collections.build_collection(when)
    db.session.commit()
    built_by = collection.built_by
    client = bearer(app, make_token("read,admin", name="Comptabilité")[1])
    body = client.post(f"/api/v1/collections/{collection.id}/settle").get_json()
    assert "Comptabilité" in body["settled_by"] and body["settled_by"] != built_by
    assert collection_builds.run_settlement(*queued.pop()[1]) == "settled"
    db.session.expire_all()
    paid = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "invoices", AuditEvent.record_id == invoice.id,
        AuditEvent.action == "update")).all()
    assert [event.after["status"] for event in paid] == ["paid"]
    assert paid[0].actor_label == body["settled_by"]
    settled = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "sepa_collections", AuditEvent.record_id == collection.id)
        .order_by(AuditEvent.id)).all()
    assert settled[-1].after == {"status": "settled"}
    assert settled[-1].actor_label == body["settled_by"]


def test_the_build_leaves_out_by_the_previews_rules_in_the_database(
        creditor, make_account, make_invoice, monkeypatch):
    """One writing of the rules: the build's statement itself leaves out the invoices the
    preview counts as left out (no BIC outside the EEA, a first or one-off debit's others),
    so they never reach Python; asked for, they come with the preview's reasons."""
    from app.queries import collection_due

    monkeypatch.setattr(collection_due, "STREAM", 2)  # streamed a few rows at a time
    when = local_day() + timedelta(days=20)
    _customers(make_account, make_invoice, when)
    debited = [(row.number, sequence) for row, sequence in collection_due.due_debits(when)]
    # (in due date order, an invoice without one first or last as the database sorts NULL)
    assert sorted(debited) == [("F-FRST", "FRST"), ("F-OOFF", "OOFF"), ("F-RCUR-1", "RCUR"),
                               ("F-RCUR-2", "RCUR")]
    left: dict[str, str] = {}
    again = list(collection_due.due_debits(
        when, left_out=lambda row, reason: left.__setitem__(row.number, reason)))
    assert [(row.number, sequence) for row, sequence in again] == debited
    shown = {line.number: line.reason for line in preview(when).left_out}
    assert left == {number: reason for number, reason in shown.items()
                    if reason in ("no_bic", "first_debit", "one_off")}
    assert left == {"F-FRST-NEXT": "first_debit", "F-OOFF-2": "one_off", "F-NOBIC": "no_bic"}
    # A first debit waiting for the bank holds its mandate's next invoice in the next build.
    collections.build_collection(when)
    db.session.commit()
    assert list(collection_due.due_debits(when)) == []
    left.clear()
    list(collection_due.due_debits(
        when, left_out=lambda row, reason: left.__setitem__(row.number, reason)))
    assert left == {"F-FRST-NEXT": "first_debit", "F-OOFF-2": "one_off", "F-NOBIC": "no_bic"}
