"""/api/v1/<entity>: every operation of every collection, references, lines, custom fields,
filters, sort, pages, changes since a time with their watermark, deletions, ETags, errors."""
from __future__ import annotations

import io
import re
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from psycopg import sql
from sqlalchemy import event, select

from app.entities import ENTITIES
from app.extensions import db
from app.models import AuditEvent, Contact, Invoice
from app.services.attachments import add_attachment
from app.services.records import update_record
from tests.api.conftest import bearer, problem
from tests.api.records_support import (
    CHANGES,
    LINES,
    WRITABLE,
    all_pages,
    creation,
    english,
    next_cursor,
)


@pytest.mark.parametrize("entity", WRITABLE)
def test_every_operation_of_every_entity(en_client, world, entity):
    body = creation(entity, world)
    created = en_client.post(f"/api/v1/{entity}", json=body)
    assert created.status_code == 201, created.data[:500]
    record = created.get_json()
    assert created.headers["Location"].endswith(f"/api/v1/{entity}/{record['id']}")
    assert record["external_ref"] == f"NEW-{entity}"
    assert record["created_at"] and record["updated_at"] and record["archived_at"] is None
    assert record["custom"] == {}
    url = f"/api/v1/{entity}/{record['id']}"

    read = en_client.get(url)
    assert read.status_code == 200 and read.get_json() == record and read.headers["ETag"]
    assert en_client.get(url, headers={"If-None-Match": read.headers["ETag"]}).status_code == 304
    listed = en_client.get(f"/api/v1/{entity}?limit=500").get_json()
    assert record["id"] in [r["id"] for r in listed]
    by_ref = en_client.get(f"/api/v1/{entity}/by-ref/NEW-{entity}")
    assert by_ref.status_code == 200 and by_ref.get_json() == record

    change, name, expected = CHANGES[entity]
    changed = en_client.patch(url, json=change, headers={"If-Match": read.headers["ETag"]})
    assert changed.status_code == 200, changed.data[:500]
    assert changed.get_json()[name] == expected
    assert changed.headers["ETag"] != read.headers["ETag"]
    renamed = en_client.patch(f"/api/v1/{entity}/by-ref/NEW-{entity}",
                               json={"external_ref": f"REN-{entity}"})
    assert renamed.status_code == 200 and renamed.get_json()["id"] == record["id"]
    assert en_client.get(f"/api/v1/{entity}/by-ref/NEW-{entity}").status_code == 404

    deleted = en_client.delete(f"/api/v1/{entity}/by-ref/REN-{entity}")
    if entity == "invoices":  # cancelled, never deleted
        assert deleted.status_code == 200 and deleted.get_json()["status"] == "cancelled"
        assert en_client.get(url).get_json()["status"] == "cancelled"
        return
    assert deleted.status_code == 204 and deleted.data == b""
    problem(en_client.get(url), 404)
    problem(en_client.delete(url), 404)
    since = record["created_at"]
    gone = en_client.get(f"/api/v1/{entity}/deleted", query_string={"since": since})
    assert gone.status_code == 200
    assert gone.get_json()[-1]["id"] == record["id"]
    assert gone.get_json()[-1]["external_ref"] == f"REN-{entity}"


@pytest.mark.parametrize("entity", WRITABLE)
def test_delete_by_id(en_client, world, entity):
    record = en_client.post(f"/api/v1/{entity}", json=creation(entity, world)).get_json()
    response = en_client.delete(f"/api/v1/{entity}/{record['id']}")
    assert response.status_code == (200 if entity == "invoices" else 204)


def test_references_by_id_or_by_external_ref(en_client, world):
    by_id = en_client.post("/api/v1/contacts", json={"last_name": "A",
                                                      "account_id": world.account.id})
    by_ref = en_client.post("/api/v1/contacts", json={"last_name": "B", "account_ref": "C001"})
    for response in (by_id, by_ref):
        assert response.status_code == 201
        assert response.get_json()["account_id"] == world.account.id
        assert response.get_json()["account_ref"] == "C001"
    both = en_client.post("/api/v1/contacts", json={"last_name": "C", "account_ref": "C001",
                                                     "account_id": world.account.id})
    assert "account_ref" in problem(both, 422)["errors"]
    unknown_ref = en_client.post("/api/v1/contacts", json={"last_name": "D",
                                                            "account_ref": "NOPE"})
    assert problem(unknown_ref, 422)["errors"] == {"account_ref": ["Unknown record."]}
    unknown_id = en_client.post("/api/v1/contacts", json={"last_name": "D",
                                                           "account_id": 999999})
    assert problem(unknown_id, 422)["errors"] == {"account_id": ["Unknown record."]}
    missing = en_client.post("/api/v1/contacts", json={"last_name": "E"})
    assert problem(missing, 422)["errors"] == {"account_id": ["This field is required."]}
    # A document's partner is its customer's; a reference is cleared with null.
    invoice = en_client.post("/api/v1/invoices", json={"account_ref": "C001",
                                                       "order_ref": "O001"}).get_json()
    assert invoice["partner_id"] == world.partner.id and invoice["partner_ref"] == "P001"
    assert invoice["order_id"] == world.order.id
    cleared = en_client.patch(f"/api/v1/invoices/{invoice['id']}", json={"order_ref": None})
    assert cleared.get_json()["order_id"] is None and cleared.get_json()["order_ref"] is None


def test_lines_replace_the_document_lines_and_give_its_totals(en_client, world):
    created = en_client.post("/api/v1/invoices", json={"account_ref": "C001",
                                                        "lines": LINES}).get_json()
    assert [line["label"] for line in created["lines"]] == ["Store banne 4 m", "Pose"]
    first = created["lines"][0]
    assert first == {"sku": "SB-4", "label": "Store banne 4 m", "quantity": "2.000",
                     "unit_price": "500.00", "tax_rate": "20.00", "amount_excl_tax": "1000.00",
                     "tax_amount": "200.00"}
    assert created["lines"][1]["quantity"] == "1.000"  # defaults: 1, and 20 % of tax
    assert (created["total_excl_tax"], created["tax_total"], created["total"]) == (
        "1150.00", "230.00", "1380.00")
    url = f"/api/v1/invoices/{created['id']}"
    kept = en_client.patch(url, json={"status": "paid"}).get_json()
    assert len(kept["lines"]) == 2 and kept["total"] == "1380.00"
    replaced = en_client.patch(url, json={"lines": [{"label": "Remise", "quantity": 1,
                                                      "unit_price": "-100", "tax_rate": 0}]})
    assert [line["label"] for line in replaced.get_json()["lines"]] == ["Remise"]
    assert replaced.get_json()["total"] == "-100.00"
    mistyped = en_client.patch(url, json={"lines": [{"label": "Ok"}, {"unit_price": "abc"}]})
    assert problem(mistyped, 422)["errors"] == {
        "lines.1.label": ["This field is required."],
        "lines.1.unit_price": ["Enter a number such as 1234.56."]}
    wrong = en_client.patch(url, json={"lines": [{"label": "Ok"}, {"label": " "},
                                                 {"label": "X", "tax_rate": 150}]})
    assert problem(wrong, 422)["errors"] == {
        "lines.1.label": ["This field is required."],
        "lines.2": ["Enter a tax rate between 0 and 100."]}
    assert en_client.get(url).get_json()["lines"][0]["label"] == "Remise"


def test_a_change_of_lines_alone_moves_updated_at_for_syncing_clients(en_client, world):
    created = en_client.post("/api/v1/invoices", json={"account_ref": "C001",
                                                        "lines": LINES}).get_json()
    url = f"/api/v1/invoices/{created['id']}"
    relabelled = [{**line, "label": f"{line['label']} (posé)"} for line in LINES]
    changed = en_client.patch(url, json={"lines": relabelled}).get_json()
    assert changed["total"] == created["total"]  # the same amounts: only the lines changed
    assert [line["label"] for line in changed["lines"]] == [
        "Store banne 4 m (posé)", "Pose (posé)"]
    before = datetime.fromisoformat(created["updated_at"].replace("Z", "+00:00"))
    since = (before + timedelta(microseconds=1)).isoformat()
    synced = en_client.get("/api/v1/invoices", query_string={"updated_since": since,
                                                            "limit": 500}).get_json()
    assert [record["id"] for record in synced] == [created["id"]]


def test_custom_values_are_validated_as_in_forms(en_client, world, make_field):
    make_field("contacts", "floor", type="integer", is_required=True)
    make_field("contacts", "newsletter", type="boolean")
    make_field("contacts", "old", type="text", is_active=False)
    base = {"last_name": "Durand", "account_ref": "C001"}
    missing = en_client.post("/api/v1/contacts", json=base)
    assert problem(missing, 422)["errors"] == {"custom.floor": ["This field is required."]}
    wrong = en_client.post("/api/v1/contacts", json={**base, "custom": {
        "floor": "deux", "nope": 1}})
    assert problem(wrong, 422)["errors"] == {
        "custom.floor": ["Enter a whole number."], "custom.nope": ["Unknown custom field “nope”."]}
    created = en_client.post("/api/v1/contacts", json={**base, "custom": {
        "floor": "3", "newsletter": "oui"}})
    assert created.get_json()["custom"] == {"floor": 3, "newsletter": True}
    url = f"/api/v1/contacts/{created.get_json()['id']}"
    partial = en_client.patch(url, json={"custom": {"newsletter": False}})
    assert partial.get_json()["custom"] == {"floor": 3, "newsletter": False}
    emptied = en_client.patch(url, json={"custom": {"newsletter": None}})
    assert emptied.get_json()["custom"] == {"floor": 3}
    assert problem(en_client.patch(url, json={"custom": {"floor": ""}}), 422)["errors"] == {
        "custom.floor": ["This field is required."]}
    assert problem(en_client.patch(url, json={"custom": []}), 422)["errors"] == {
        "custom": ["Enter an object."]}


def test_problem_json_names_each_invalid_field(en_client, world):
    response = en_client.post("/api/v1/invoices", json={
        "account_ref": "C001", "issued_on": "10/10/2026", "total": "beaucoup",
        "status": "lost", "number": 12, "id": 5, "tenant_id": 2})
    errors = problem(response, 422)["errors"]
    assert errors == {"issued_on": ["Enter a date as YYYY-MM-DD."],
                      "total": ["Enter a number such as 1234.56."], "number": ["Enter text."],
                      "id": ["Unknown field."], "tenant_id": ["Unknown field."]}
    domain = en_client.post("/api/v1/invoices", json={
        "account_ref": "C001", "status": "lost", "issued_on": "2026-10-10",
        "due_on": "2026-10-01", "currency": "E1R"})
    assert problem(domain, 422)["errors"] == {
        "status": ["“lost” is not one of the choices."],
        "due_on": ["This date is before Issued on."],
        "currency": ["Enter a currency code such as EUR."]}
    french = en_client.post("/api/v1/accounts", json={"kind": "company"},
                             headers={"Accept-Language": "fr"})
    assert problem(french, 422)["errors"] == {"name": ["Ce champ est obligatoire."]}
    duplicate = en_client.post("/api/v1/accounts", json={"name": "X", "external_ref": "C001"})
    assert problem(duplicate, 422)["errors"] == {"external_ref": [
        "This reference is already used."]}
    not_json = en_client.post("/api/v1/accounts", json=[1, 2])
    problem(not_json, 422)


def test_a_customer_still_used_cannot_be_deleted_409(en_client, world):
    response = en_client.delete(f"/api/v1/accounts/{world.account.id}")
    body = problem(response, 409)
    assert "still has" in body["detail"]
    assert en_client.get(f"/api/v1/accounts/{world.account.id}").status_code == 200


def test_etags_guard_changes_412(en_client, world):
    url = f"/api/v1/accounts/{world.account.id}"
    etag = en_client.get(url).headers["ETag"]
    assert en_client.patch(url, json={"city": "Lille"}).status_code == 200  # If-Match optional
    stale = en_client.patch(url, json={"city": "Nice"}, headers={"If-Match": etag})
    problem(stale, 412)
    problem(en_client.delete(url, headers={"If-Match": etag}), 412)
    assert en_client.get(url).get_json()["city"] == "Lille"
    fresh = en_client.get(url).headers["ETag"]
    ok = en_client.patch(url, json={"city": "Nice"}, headers={"If-Match": fresh})
    assert ok.status_code == 200 and ok.headers["ETag"] == en_client.get(url).headers["ETag"]
    by_ref = en_client.patch("/api/v1/accounts/by-ref/C001", json={"city": "Metz"},
                              headers={"If-Match": fresh})
    problem(by_ref, 412)


def test_scopes_read_for_reading_write_for_writing(app, make_token, world):
    reader = english(bearer(app, make_token(scopes="read")[1]))
    writer = english(bearer(app, make_token(scopes="write")[1]))
    url = f"/api/v1/accounts/{world.account.id}"
    assert reader.get(url).status_code == 200
    assert reader.get("/api/v1/accounts").status_code == 200
    for response in (reader.post("/api/v1/accounts", json={"name": "X"}),
                     reader.patch(url, json={"city": "Paris"}), reader.delete(url),
                     reader.patch("/api/v1/accounts/by-ref/C001", json={"city": "Paris"}),
                     writer.get(url), writer.get("/api/v1/accounts"),
                     writer.get("/api/v1/accounts/deleted?since=2026-01-01T00:00:00Z")):
        body = problem(response, 403)
        assert "scope" in body["detail"]
    assert writer.patch(url, json={"city": "Paris"}).status_code == 200


def test_filters_search_and_sort(en_client, world, make_invoice, make_field):
    make_field("invoices", "promoteur", type="choice", choices=["Nord", "Sud"])
    account = world.account.id
    a = make_invoice(account=account, number="F-A", status="paid", issued_on=date(2026, 1, 5),
                     total=Decimal("100"), lines=None, custom={"promoteur": "Nord"})
    b = make_invoice(account=account, number="F-B", status="issued",
                     issued_on=date(2026, 2, 5), total=Decimal("300"), lines=None,
                     custom={"promoteur": "Sud"})
    c = make_invoice(number="F-C", status="issued", issued_on=date(2026, 3, 5),
                     total=Decimal("200"), lines=None)

    def ids(**query):
        response = en_client.get("/api/v1/invoices", query_string=query)
        assert response.status_code == 200, response.data[:500]
        return [r["id"] for r in response.get_json()]

    assert ids() == [c.id, b.id, a.id]  # the default sort: newest issued first
    assert ids(sort="total") == [a.id, c.id, b.id]
    assert ids(sort="-number") == [c.id, b.id, a.id]
    assert ids(status="issued") == [c.id, b.id]
    assert ids(issued_on_from="2026-02-01", issued_on_to="2026-02-28") == [b.id]
    assert ids(total_min="150", total_max="250") == [c.id]
    assert ids(account_id=account) == [b.id, a.id]
    assert ids(account_ref="C001") == [b.id, a.id]
    assert ids(account_ref="NOPE") == []
    assert ids(partner_ref="P001") == [b.id, a.id]
    assert ids(cf_promoteur="Sud") == [b.id]
    assert ids(q="F-C") == [c.id]
    errors = problem(en_client.get("/api/v1/invoices", query_string={
        "status": "lost", "issued_on_from": "demain", "total_min": "x", "sort": "amount",
        "cf_promoteur": "", "account_id": "abc"}), 422)["errors"]
    assert errors == {"issued_on_from": ["Enter a date as YYYY-MM-DD."],
                      "total_min": ["Enter a number such as 1234.56."],
                      "sort": ["“amount” is not one of the choices."],
                      "account_id": ["Enter a whole number."]}
    status = problem(en_client.get("/api/v1/invoices?status=lost"), 422)["errors"]
    assert list(status) == ["status"]
    make_field("invoices", "montant", type="money")
    custom = problem(en_client.get("/api/v1/invoices?cf_montant_min=abc"), 422)["errors"]
    assert list(custom) == ["cf_montant_min"]


def test_archived_records_only_when_asked(en_client, world, make_account):
    archived = make_account(name="Ancien")
    archived.archived_at = datetime.now(UTC)
    db.session.commit()

    def names(query=""):
        return {a["name"] for a in en_client.get(f"/api/v1/accounts{query}").get_json()}

    assert names() == {"Client Nord"}
    assert names("?archived=true") == {"Ancien"}
    assert names("?archived=all") == {"Client Nord", "Ancien"}
    read = en_client.get(f"/api/v1/accounts/{archived.id}").get_json()
    assert read["archived_at"] is not None


def test_cursor_pages_cover_every_row_once_in_order(en_client, make_partner):
    for n in range(7):
        make_partner(name=f"Agence {n:02d}")
    rows, responses = all_pages(en_client, "/api/v1/partners?limit=3&sort=-name")
    assert [r["name"] for r in rows] == [f"Agence {n:02d}" for n in range(6, -1, -1)]
    assert len(responses) == 3
    assert 'rel="next"' in responses[0].headers["Link"]
    assert "Link" not in responses[-1].headers
    problem(en_client.get("/api/v1/partners?cursor=garbage"), 422)
    problem(en_client.get("/api/v1/partners?limit=501"), 422)


def test_a_list_page_costs_the_same_queries_for_2_or_20_rows(app, en_client, world,
                                                             make_invoice):
    def count_queries(limit):
        statements = []
        this_thread = threading.get_ident()

        def note(*args):  # this request's statements, not another thread's of this process
            if threading.get_ident() == this_thread:
                statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", note)
        try:
            assert en_client.get(f"/api/v1/invoices?limit={limit}").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
        return len(statements)

    for _n in range(25):  # both pages have a next one
        make_invoice(account=world.account.id, order=world.order.id)
    count_queries(2)  # the token's first use this minute records it (app/services/tokens.py)
    assert count_queries(2) == count_queries(20)


def _stamp(record, moment):
    """Give a record an updated_at as a transaction still in flight would have."""
    record.updated_at = moment
    db.session.commit()


def test_updated_since_reads_changes_in_order_and_the_watermark_catches_late_commits(
        app, en_client, make_partner, monkeypatch):
    monkeypatch.setitem(app.config, "API_SYNC_MARGIN_SECONDS", 60)
    now = datetime.now(UTC)
    partners = [make_partner(name=f"Agence {n}") for n in range(5)]
    for n, partner in enumerate(partners):  # written 50, 40, 30, 20 and 10 seconds ago
        _stamp(partner, now - timedelta(seconds=50 - 10 * n))
    since = (now - timedelta(seconds=45)).isoformat()
    url = "/api/v1/partners?limit=2&updated_since=" + since.replace("+", "%2B")

    first = en_client.get(url)
    assert [r["name"] for r in first.get_json()] == ["Agence 1", "Agence 2"]
    assert first.headers["Link"].startswith("<http://localhost/api/v1/partners?")
    watermark = first.headers["X-Sync-Watermark"]
    moment = datetime.fromisoformat(watermark.replace("Z", "+00:00"))
    assert timedelta(seconds=59) < datetime.now(UTC) - moment < timedelta(seconds=70)
    # While the client reads its pages, a transaction that wrote a row 35 seconds ago (before
    # the first page) commits: the row sits behind the cursor, unseen by this read.
    late = make_partner(name="En retard")
    _stamp(late, now - timedelta(seconds=35))
    rows, responses = all_pages(en_client, url, next_cursor(first))
    assert [r["name"] for r in rows] == ["Agence 3", "Agence 4"]
    assert {r.headers["X-Sync-Watermark"] for r in responses} == {watermark}
    # The next read starts at the watermark: the late row is there (the others again too,
    # deduped by the client on id and updated_at).
    following = en_client.get("/api/v1/partners", query_string={"updated_since": watermark})
    assert [r["name"] for r in following.get_json()] == [
        "Agence 0", "Agence 1", "En retard", "Agence 2", "Agence 3", "Agence 4"]
    problem(en_client.get("/api/v1/partners", query_string={
        "updated_since": since, "sort": "name"}), 422)
    problem(en_client.get("/api/v1/partners?updated_since=hier"), 422)


def test_updated_since_includes_archived_records_and_changes(en_client, world):
    since = datetime.now(UTC).isoformat()
    world.account.archived_at = datetime.now(UTC)
    db.session.commit()
    en_client.patch(f"/api/v1/partners/{world.partner.id}", json={"phone": "0300000000"})
    accounts = en_client.get("/api/v1/accounts", query_string={"updated_since": since})
    assert [a["archived_at"] is not None for a in accounts.get_json()] == [True]
    partners = en_client.get("/api/v1/partners", query_string={"updated_since": since})
    assert [p["phone"] for p in partners.get_json()] == ["0300000000"]


def test_deleted_records_since_a_time_with_their_watermark(en_client, world, make_contact):
    contacts = [make_contact(account=world.account.id, external_ref=f"K{n}") for n in range(3)]
    since = datetime.now(UTC).isoformat()
    for contact in contacts[:2]:
        assert en_client.delete(f"/api/v1/contacts/{contact.id}").status_code == 204
    response = en_client.get("/api/v1/contacts/deleted", query_string={"since": since,
                                                                        "limit": 1})
    assert response.headers["X-Sync-Watermark"]
    rows, _responses = all_pages(en_client, f"/api/v1/contacts/deleted?since="
                                             f"{since.replace('+', '%2B')}&limit=1")
    assert [(r["id"], r["external_ref"]) for r in rows] == [(contacts[0].id, "K0"),
                                                           (contacts[1].id, "K1")]
    assert all(r["deleted_at"] for r in rows)
    later = en_client.get("/api/v1/contacts/deleted",
                           query_string={"since": datetime.now(UTC).isoformat()})
    assert later.get_json() == []
    assert db.session.scalar(select(Contact.id).where(Contact.id == contacts[2].id))
    assert problem(en_client.get("/api/v1/contacts/deleted"), 422)["errors"] == {
        "since": ["This field is required."]}


def test_the_deletions_feed_reads_the_index_of_deletions_alone(en_client, world, make_contact,
                                                              backend):
    """Only deletions are indexed among audit events; the feed's query must say so in a way
    the database can use (a literal, not a parameter), or it scans every event."""
    contact = make_contact(account=world.account.id, external_ref="K9")
    since = datetime.now(UTC).isoformat()
    assert en_client.delete(f"/api/v1/contacts/{contact.id}").status_code == 204
    sent: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "FROM audit_events" in statement:
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        rows = en_client.get("/api/v1/contacts/deleted", query_string={"since": since})
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert [r["id"] for r in rows.get_json()] == [contact.id]
    (statement, parameters), = sent
    with db.engine.connect() as connection:
        if backend == "sqlite":  # INDEXED BY fails when the index cannot answer the query
            forced = statement.replace("FROM audit_events",
                                       "FROM audit_events INDEXED BY "
                                       "ix_audit_events_tenant_id_deletions", 1)
            plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {forced}", parameters))
        else:  # the plan a prepared statement settles on, made for no value in particular
            names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
            prepared = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m[1]) + 1}",
                              statement)
            connection.exec_driver_sql("SET enable_seqscan = off")
            connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            connection.exec_driver_sql(f"PREPARE deletions AS {prepared}")
            values = ", ".join(sql.Literal(parameters[n]).as_string(
                connection.connection.driver_connection) for n in names)
            plan = " ".join(row[0] for row in connection.exec_driver_sql(
                f"EXPLAIN EXECUTE deletions({values})"))
    assert "ix_audit_events_tenant_id_deletions" in plan, plan


def test_deleting_a_record_is_a_change_of_the_records_that_pointed_at_it(
        en_client, world, make_invoice, make_delivery):
    invoice = make_invoice(account=world.account.id, order=world.order.id, external_ref="F1")
    delivery = make_delivery(account=world.account.id, order=world.order.id)
    since = datetime.now(UTC).isoformat()
    assert en_client.delete(f"/api/v1/orders/{world.order.id}").status_code == 204
    assert en_client.delete(f"/api/v1/partners/{world.partner.id}").status_code == 204

    changed = en_client.get("/api/v1/invoices", query_string={"updated_since": since})
    assert [(r["id"], r["order_id"], r["partner_id"]) for r in changed.get_json()] == [
        (invoice.id, None, None)]
    deliveries = en_client.get("/api/v1/deliveries", query_string={"updated_since": since})
    assert [r["id"] for r in deliveries.get_json()] == [delivery.id]
    accounts = en_client.get("/api/v1/accounts", query_string={"updated_since": since})
    assert [(r["id"], r["partner_id"]) for r in accounts.get_json()] == [(world.account.id, None)]
    audited = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "invoices", AuditEvent.record_id == invoice.id,
        AuditEvent.action == "update").order_by(AuditEvent.id)).all()
    assert [(e.before, e.after) for e in audited] == [
        ({"order_id": world.order.id}, {"order_id": None}),
        ({"partner_id": world.partner.id}, {"partner_id": None})]
    assert audited[0].actor_kind == "token"


def test_attachments_are_read_only_with_their_file(app, en_client, world):
    attachment = add_attachment(world.account, "devis.txt", io.BytesIO(b"Bonjour"))
    attachment.external_ref = "PJ1"
    db.session.commit()
    listed = en_client.get("/api/v1/attachments").get_json()
    assert [(a["file_name"], a["record_type"], a["record_id"], a["account_ref"])
            for a in listed] == [("devis.txt", "accounts", world.account.id, "C001")]
    one = en_client.get(f"/api/v1/attachments/{attachment.id}")
    assert one.get_json()["size"] == 7 and one.get_json()["sha256"] == attachment.sha256
    assert en_client.get("/api/v1/attachments/by-ref/PJ1").get_json()["id"] == attachment.id
    content = en_client.get(f"/api/v1/attachments/{attachment.id}/content")
    assert content.status_code == 200 and content.data == b"Bonjour"
    assert "devis.txt" in content.headers["Content-Disposition"]
    problem(en_client.post("/api/v1/attachments", json={"file_name": "x"}), 405)
    problem(en_client.patch(f"/api/v1/attachments/{attachment.id}", json={}), 405)
    problem(en_client.delete(f"/api/v1/attachments/{attachment.id}"), 405)


def test_writes_are_audited_as_the_token(en_client, world):
    en_client.patch(f"/api/v1/accounts/{world.account.id}", json={"city": "Paris"})
    event_ = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "accounts", AuditEvent.action == "update")).one()
    assert event_.actor_kind == "token" and event_.after == {"city": "Paris"}


def test_cancelling_a_cancelled_invoice_changes_nothing(en_client, world, make_invoice):
    invoice = make_invoice(account=world.account.id)
    update_record(invoice, {"status": "cancelled"})
    db.session.commit()
    before = db.session.scalar(select(Invoice.updated_at).where(Invoice.id == invoice.id))
    assert en_client.delete(f"/api/v1/invoices/{invoice.id}").status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Invoice.updated_at).where(Invoice.id == invoice.id)) == before


def test_every_entity_is_a_documented_collection(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for name in ENTITIES:
        assert {f"/api/v1/{name}", f"/api/v1/{name}/deleted", f"/api/v1/{name}/{{record_id}}",
                f"/api/v1/{name}/by-ref/{{external_ref}}"} <= set(paths)
        if name in WRITABLE:
            assert {"get", "patch", "delete"} <= set(paths[f"/api/v1/{name}/{{record_id}}"])
            assert "post" in paths[f"/api/v1/{name}"]
