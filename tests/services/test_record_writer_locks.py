"""The record writer holds the records a write changes with the lock their UPDATE takes
(FOR NO KEY UPDATE on PostgreSQL), never one that blocks the check of a foreign key naming
them (FOR KEY SHARE): a customers run and a writer of those customers' contacts or invoices
do not wait on each other, nor deadlock."""
from __future__ import annotations

import threading
import time

import pytest

from app.entities import ENTITIES
from app.extensions import db
from app.services.record_batches import RecordWriter
from app.services.records import create_record
from app.tenancy import SYSTEM, tenant_context


def test_a_customers_batch_and_a_writer_of_their_contacts_do_not_deadlock(
        app, backend, tenant, make_account):
    """The night's customers file moves Client A and Client B to Marseille (one batch, the
    record writer's update) while another writer (a bulk call of contacts, written one by
    one) adds a contact to B, then to A. Neither waits for the other's row locks: both
    commit, as they did before the change."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    first, second = make_account(name="Client A").id, make_account(name="Client B").id
    assert first < second
    errors: list[BaseException] = []
    contact_b_written = threading.Event()

    def contacts() -> None:
        try:
            with app.app_context(), tenant_context(tenant.id, SYSTEM):
                create_record(ENTITIES["contacts"], {
                    "last_name": "Durand", "first_name": "Paul", "account": second})
                contact_b_written.set()
                time.sleep(1.0)  # the customers' batch is writing meanwhile
                create_record(ENTITIES["contacts"], {
                    "last_name": "Petit", "first_name": "Anne", "account": first})
                db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001  (reported to the test)
            contact_b_written.set()
            errors.append(exc)

    def customers() -> None:
        try:
            contact_b_written.wait(30)
            with app.app_context(), tenant_context(tenant.id, SYSTEM):
                RecordWriter(ENTITIES["accounts"]).update(
                    [{"id": first, "city": "Marseille"}, {"id": second, "city": "Marseille"}])
                db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001  (reported to the test)
            errors.append(exc)

    threads = [threading.Thread(target=contacts), threading.Thread(target=customers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
