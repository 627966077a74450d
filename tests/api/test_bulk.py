"""POST /api/v1/<entity>/bulk: records upserted by external_ref, one result per item, good
items kept when others fail, the same rules and audit trail as one record at a time."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from app.entities import ENTITIES
from app.extensions import db
from app.models import AuditEvent, Invoice, WebhookDelivery
from app.services import bulk as bulk_service
from app.services import webhook_outbox
from app.services.bulk import MAX_ITEMS
from app.services.webhooks import create_endpoint
from tests.api.conftest import bearer, problem
from tests.api.records_support import CHANGES, LINES, WRITABLE, creation, english

SKIPPED = {"id", "external_ref", "number", "created_at", "updated_at"}


def bulk(client, entity, items):
    response = client.post(f"/api/v1/{entity}/bulk", json={"items": items})
    assert response.status_code == 200, response.data[:800]
    assert response.mimetype == "application/json"
    return response.get_json()


def invoice(ref, **over):
    return {"external_ref": ref, "number": f"F-{ref}", "account_ref": "C001",
            "issued_on": "2026-10-01", "due_on": "2026-10-31", "status": "issued",
            "total": "120.00", **over}


def events(entity, record_id):
    return db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == entity, AuditEvent.record_id == record_id)
        .order_by(AuditEvent.id)).all()


@pytest.mark.parametrize("entity", WRITABLE)
def test_a_bulk_item_makes_the_record_a_post_makes(en_client, world, entity):
    body = creation(entity, world)
    single = en_client.post(f"/api/v1/{entity}", json=body).get_json()
    item = {**body, "external_ref": f"BULK-{entity}"}
    if "number" in item:
        item["number"] = f"B-{item['number']}"

    result = bulk(en_client, entity, [item])
    assert result["created"] == 1 and result["failed"] == 0
    (outcome,) = result["items"]
    assert outcome["status"] == "created" and outcome["external_ref"] == f"BULK-{entity}"
    made = en_client.get(f"/api/v1/{entity}/{outcome['id']}").get_json()
    assert made["external_ref"] == f"BULK-{entity}"
    assert {k: v for k, v in made.items() if k not in SKIPPED} == \
        {k: v for k, v in single.items() if k not in SKIPPED}
    by_post, by_bulk = events(entity, single["id"])[0], events(entity, made["id"])[0]
    assert by_bulk.action == "create" and by_bulk.actor_kind == "token"
    assert by_bulk.actor_label == by_post.actor_label
    assert {k: v for k, v in by_bulk.after.items() if k not in SKIPPED} == \
        {k: v for k, v in by_post.after.items() if k not in SKIPPED}

    again = bulk(en_client, entity, [item])
    assert again["items"][0] == {**outcome, "status": "unchanged"} and again["unchanged"] == 1
    assert len(events(entity, made["id"])) == 1

    change, name, expected = CHANGES[entity]
    changed = bulk(en_client, entity, [{"external_ref": f"BULK-{entity}", **change}])
    assert changed["items"][0]["status"] == "updated" and changed["updated"] == 1
    read = en_client.get(f"/api/v1/{entity}/{outcome['id']}").get_json()
    assert read[name] == expected and read["updated_at"] > made["updated_at"]
    update = events(entity, made["id"])[-1]
    assert update.action == "update" and update.before == {name: made[name]}
    assert list(update.after) == [name]


def test_good_items_are_kept_and_each_bad_one_says_why(en_client, world, make_invoice):
    make_invoice(account=world.account.id, number="F-TAKEN", external_ref="OLD")
    items = [
        invoice("A1"),
        invoice("A2", issued_on="01/10/2026"),
        invoice("A3", account_ref="NOBODY"),
        {"external_ref": "A4", "number": "F-A4"},
        invoice("A1", number="F-A1-BIS"),
        invoice("A5", number="F-TAKEN"),
        invoice("A6", colour="blue"),
        "not an object",
        invoice("A7", total="beaucoup"),
        invoice("A8", account_id=world.account.id),
        invoice("A9", due_on="2026-09-01"),
        invoice("", number="F-EMPTY"),
        invoice("A10"),
    ]
    result = bulk(en_client, "invoices", items)
    outcomes = result["items"]
    assert [o["index"] for o in outcomes] == list(range(len(items)))
    assert [o["status"] for o in outcomes] == [
        "created", "error", "error", "error", "error", "error", "error", "error", "error",
        "error", "error", "error", "created"]
    assert (result["created"], result["updated"], result["unchanged"], result["failed"]) == \
        (2, 0, 0, 11)
    errors = [o.get("errors") for o in outcomes]
    assert errors[1] == {"issued_on": ["Enter a date as YYYY-MM-DD."]}
    assert errors[2] == {"account_ref": ["Unknown record."]}
    assert errors[3] == {"account": ["This field is required."]}
    assert errors[4] == {"external_ref": ["This reference is already given by item 0."]}
    assert errors[5] == {"number": ["This number is already used."]}
    assert errors[6] == {"colour": ["Unknown field."]}
    assert errors[7] == {"_schema": ["Enter an object."]}
    assert errors[8] == {"total": ["Enter a number such as 1234.56."]}
    assert errors[9] == {"account_ref": ["Give account_id or account_ref, not both."]}
    assert list(errors[10]) == ["due_on"]
    assert errors[11] == {"external_ref": ["This field is required."]}
    assert all(o["id"] is None for o in outcomes if o["status"] == "error")
    db.session.expire_all()
    kept = db.session.scalars(select(Invoice.external_ref).order_by(Invoice.id)).all()
    assert kept == ["OLD", "A1", "A10"]


def test_an_update_keeps_what_it_does_not_give(en_client, world, make_field):
    make_field("invoices", "promoteur")
    make_field("invoices", "lots", type="integer")
    created = bulk(en_client, "invoices", [invoice(
        "K1", custom={"promoteur": "Kaufman", "lots": "12"}, amount_paid="20")])
    assert created["items"][0]["status"] == "created"
    record_id = created["items"][0]["id"]

    changed = bulk(en_client, "invoices", [{"external_ref": "K1", "custom": {"lots": 14}}])
    assert changed["items"][0] == {"index": 0, "external_ref": "K1", "status": "updated",
                                   "id": record_id}
    read = en_client.get(f"/api/v1/invoices/{record_id}").get_json()
    assert read["custom"] == {"promoteur": "Kaufman", "lots": 14}
    assert read["amount_paid"] == "20.00" and read["number"] == "F-K1"

    refused = bulk(en_client, "invoices", [{"external_ref": "K1", "custom": {"lots": "x"}},
                                           {"external_ref": "K1", "account_ref": None}])
    assert list(refused["items"][0]["errors"]) == ["custom.lots"]
    assert refused["items"][1]["errors"] == {
        "external_ref": ["This reference is already given by item 0."]}
    emptied = bulk(en_client, "invoices", [{"external_ref": "K1", "account_ref": None}])
    assert emptied["items"][0]["errors"] == {"account_ref": ["This field is required."]}
    assert en_client.get(f"/api/v1/invoices/{record_id}").get_json()["custom"]["lots"] == 14


def test_lines_replace_the_documents_lines_and_give_its_totals(en_client, world):
    item = {"external_ref": "D1", "number": "D-1", "account_ref": "C001", "lines": LINES}
    first = bulk(en_client, "quotes", [item])["items"][0]
    quote = en_client.get(f"/api/v1/quotes/{first['id']}").get_json()
    assert [line["label"] for line in quote["lines"]] == ["Store banne 4 m", "Pose"]
    assert quote["total_excl_tax"] == "1150.00" and quote["total"] == "1380.00"

    assert bulk(en_client, "quotes", [item])["items"][0]["status"] == "unchanged"
    fewer = bulk(en_client, "quotes", [{**item, "lines": LINES[:1]}])["items"][0]
    assert fewer["status"] == "updated"
    quote = en_client.get(f"/api/v1/quotes/{first['id']}").get_json()
    assert len(quote["lines"]) == 1 and quote["total"] == "1200.00"
    update = events("quotes", first["id"])[-1]
    assert len(update.before["lines"]) == 2 and len(update.after["lines"]) == 1
    assert update.after["total"] == "1200.00"

    bad = bulk(en_client, "quotes", [{**item, "lines": [{"quantity": "2"}]}])["items"][0]
    assert bad["errors"] == {"lines.0.label": ["This field is required."]}


def test_lines_given_again_make_the_totals_whatever_total_comes_with_them(en_client, world):
    item = {"external_ref": "D1", "number": "D-1", "account_ref": "C001", "lines": LINES}
    first = bulk(en_client, "quotes", [item])["items"][0]
    again = bulk(en_client, "quotes", [{**item, "total": "1.00", "tax_total": "0.00"}])
    assert again["items"][0]["status"] == "unchanged"
    quote = en_client.get(f"/api/v1/quotes/{first['id']}").get_json()
    assert (quote["tax_total"], quote["total"]) == ("230.00", "1380.00")
    assert len(quote["lines"]) == 2


def test_a_number_given_twice_in_one_call_fails_on_the_second_item(en_client, world):
    result = bulk(en_client, "invoices", [invoice("N1", number="F-SAME"),
                                          invoice("N2"),
                                          invoice("N3", number="F-SAME")])
    assert [o["status"] for o in result["items"]] == ["created", "created", "error"]
    assert result["items"][2]["errors"] == {"number": ["This number is already used."]}
    assert db.session.scalar(select(Invoice.id).where(Invoice.external_ref == "N3")) is None


def test_a_number_used_twice_sends_only_its_items_one_by_one(en_client, world, make_invoice,
                                                            monkeypatch):
    # A call of thousands of items with one number already used went item by item whole:
    # 10,000 items took 13 s instead of 2 on PostgreSQL, near a proxy's timeout.
    make_invoice(account=world.account.id, number="F-TAKEN", external_ref="OLD")
    db.session.commit()
    written: list[list[str]] = []
    write_items = bulk_service._Upsert._write_items

    def counted(self, items):
        written.append([item.external_ref for item in items])
        return write_items(self, items)

    monkeypatch.setattr(bulk_service._Upsert, "_write_items", counted)
    result = bulk(en_client, "invoices", [
        invoice("T1"), invoice("T2", number="F-TAKEN"), invoice("T3"),
        invoice("T4", number="F-T1"), invoice("OLD", number="F-TAKEN", total="99.00"),
        invoice("T5")])

    assert [o["status"] for o in result["items"]] == \
        ["created", "error", "created", "error", "updated", "created"]
    assert result["items"][1]["errors"] == result["items"][3]["errors"] == \
        {"number": ["This number is already used."]}
    assert (result["created"], result["updated"], result["failed"]) == (3, 1, 2)
    # The call refused once, then written again without the two, each of which went alone.
    assert written[1:] == [["T1", "T3", "OLD", "T5"], ["T2"], ["T4"]]
    assert db.session.scalars(select(Invoice.external_ref).order_by(
        Invoice.external_ref)).all() == ["OLD", "T1", "T3", "T5"]


def test_on_sqlite_a_call_writes_its_items_without_a_savepoint(en_client, world,
                                                              sqlite_statements):
    # The call's transaction holds its items alone: a savepoint would copy every page they
    # change into a statement journal (a refused item: test above).
    result = bulk(en_client, "invoices", [invoice("S1"), invoice("S2")])
    assert [o["status"] for o in result["items"]] == ["created", "created"]
    assert any(s.startswith("INSERT INTO invoices") for s in sqlite_statements)
    assert not [s for s in sqlite_statements if "SAVEPOINT" in s.upper()]


def test_a_document_takes_its_customers_partner(en_client, world):
    made = bulk(en_client, "invoices", [invoice("P1")])["items"][0]
    assert en_client.get(f"/api/v1/invoices/{made['id']}").get_json()["partner_ref"] == "P001"


def test_an_item_emptying_the_partner_gives_the_customers_back_as_patch_does(en_client, world):
    """A document's partner defaults to its customer's: PATCH {"partner_ref": null} gives it
    back, and so does the same bulk item."""
    first, second = (i["id"] for i in bulk(en_client, "invoices", [invoice("P1"),
                                                                   invoice("P2")])["items"])
    patched = en_client.patch(f"/api/v1/invoices/{first}", json={"partner_ref": None})
    assert patched.status_code == 200 and patched.get_json()["partner_ref"] == "P001"
    answer = bulk(en_client, "invoices", [{"external_ref": "P2", "partner_ref": None}])
    assert answer["items"][0]["status"] == "unchanged", answer["items"][0]
    assert en_client.get(f"/api/v1/invoices/{second}").get_json()["partner_ref"] == "P001"


def test_an_items_errors_are_those_the_docs_example_shows(en_client, world):
    """docs/api.md, "Bulk upsert": the values an item gives are each read, and every one that
    does not read is named at once; its customer is looked for once they all read."""
    item = {"external_ref": "INV-44", "number": "F2026-0044", "account_ref": "NOBODY",
            "issued_on": "2026-10-10", "due_on": "10/11/2026", "total": "12,3x"}
    [outcome] = bulk(en_client, "invoices", [item])["items"]
    assert outcome["errors"] == {"due_on": ["Enter a date as YYYY-MM-DD."],
                                 "total": ["Enter a number such as 1234.56."]}
    [outcome] = bulk(en_client, "invoices", [item | {"due_on": "2026-11-10",
                                                     "total": "12.30"}])["items"]
    assert outcome["errors"] == {"account_ref": ["Unknown record."]}


def test_two_calls_of_the_same_new_items_at_once_create_them_once_and_fail_none(
        app, en_client, world, backend, monkeypatch):
    """A client's retry after a timeout, or two workers of one export: both calls read "no
    such record" before either writes. The second finds the records the first made, and
    answers them unchanged, not "This reference is already used." for its own keys."""
    if backend != "postgresql":
        pytest.skip("concurrent writers: SQLite has one at a time")
    barrier = threading.Barrier(2, timeout=20)
    write = bulk_service._Upsert._write

    def after_both_read(self, items):
        barrier.wait()
        return write(self, items)

    monkeypatch.setattr(bulk_service._Upsert, "_write", after_both_read)
    items = [invoice(f"K{n}") for n in range(30)]
    answers = {}

    def call(name):
        client = app.test_client()
        client.environ_base.update(en_client.environ_base)
        answers[name] = client.post("/api/v1/invoices/bulk", json={"items": items}).get_json()

    threads = [threading.Thread(target=call, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted((a["created"], a["unchanged"], a["failed"]) for a in answers.values()) == [
        (0, 30, 0), (30, 0, 0)]
    assert db.session.scalar(select(db.func.count(Invoice.id)).where(
        Invoice.external_ref.like("K%"))) == 30


def test_the_call_is_refused_whole_only_when_it_is_not_a_list_of_items(app, en_client, world,
                                                                     make_token):
    too_many = [invoice(f"T{n}") for n in range(MAX_ITEMS + 1)]
    body = problem(en_client.post("/api/v1/invoices/bulk", json={"items": too_many}), 422)
    assert body["errors"] == {"items": ["Send between 1 and 10000 items."]}
    problem(en_client.post("/api/v1/invoices/bulk", json={"items": []}), 422)
    body = problem(en_client.post("/api/v1/invoices/bulk", json={"items": {"a": 1}}), 422)
    assert body["errors"] == {"items": ["Enter a list."]}
    problem(en_client.post("/api/v1/invoices/bulk", json=[invoice("T0")]), 422)
    reader = english(bearer(app, make_token(scopes="read")[1]))
    problem(reader.post("/api/v1/invoices/bulk", json={"items": [invoice("T0")]}), 403)
    problem(en_client.post("/api/v1/attachments/bulk", json={"items": []}), 404)
    assert db.session.scalar(select(Invoice.id)) is None


def test_french_messages_for_a_french_client(api_client, world):
    api_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    result = bulk(api_client, "invoices", [invoice("F1", issued_on="hier")])
    assert result["items"][0]["errors"] == {
        "issued_on": ["Saisissez une date au format AAAA-MM-JJ."]}


@pytest.mark.parametrize("existing", [False, True])
def test_the_queries_do_not_grow_with_the_items(app, en_client, world, existing, monkeypatch):
    # What the first call reads and later ones remember must not expire between the two calls
    # of a slow machine (webhook subscriptions are kept a few seconds).
    monkeypatch.setitem(app.config, "WEBHOOK_CACHE_SECONDS", 3600.0)
    monkeypatch.setattr(webhook_outbox, "_subscriptions", {})  # this test's own, then dropped

    def count(items):
        statements = []

        def note(*args):
            statements.append(args[2])

        # The first call also reads what later ones remember (webhook subscriptions, …).
        bulk(en_client, "invoices", items if existing else [invoice(f"W{len(items)}")])
        event.listen(db.engine, "before_cursor_execute", note)
        try:
            result = bulk(en_client, "invoices", items)
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
        assert result["failed"] == 0
        return len(statements)

    few = count([invoice(f"Q{n}") for n in range(2)])
    many = count([invoice(f"R{n}") for n in range(60)])
    assert many == few


def test_money_and_dates_are_stored_as_given(en_client, world):
    made = bulk(en_client, "invoices", [invoice("M1", total=1234.5, amount_paid="10")])
    invoice_row = db.session.get(Invoice, made["items"][0]["id"])
    assert invoice_row.total == Decimal("1234.50") and invoice_row.amount_paid == Decimal("10.00")
    assert invoice_row.issued_on.isoformat() == "2026-10-01"
    assert ENTITIES["invoices"].model is Invoice


def test_each_item_of_a_call_has_its_own_audit_event_and_delivery(app, en_client, world,
                                                                   monkeypatch):
    # A call's events are written at once, what they share (moment, actor, the created
    # records' empty before) bound once: each still holds its own record and values.
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    monkeypatch.setattr(webhook_outbox, "_subscriptions", {})
    create_endpoint({"url": "http://127.0.0.1:9/relais",
                     "events": ["invoices.created", "invoices.updated"]})
    db.session.commit()
    items = [invoice(f"E{n}", total=f"{100 + n}.50") for n in range(5)]
    created = bulk(en_client, "invoices", items)
    assert created["created"] == 5
    ids = [item["id"] for item in created["items"]]
    made = [events("invoices", record_id) for record_id in ids]
    assert all(len(found) == 1 and found[0].action == "create" for found in made)
    audits = [found[0] for found in made]
    assert [a.after["total"] for a in audits] == [f"{100 + n}.50" for n in range(5)]
    assert [a.after["external_ref"] for a in audits] == [f"E{n}" for n in range(5)]
    assert {a.before for a in audits} == {None}
    assert len({(a.created_at, a.actor_kind, a.actor_id, a.actor_label) for a in audits}) == 1
    assert audits[0].actor_kind == "token"

    paid = bulk(en_client, "invoices", [{"external_ref": f"E{n}", "amount_paid": "10.00"}
                                        for n in range(2)])
    assert paid["updated"] == 2
    updates = [events("invoices", record_id)[-1] for record_id in ids[:2]]
    assert [(u.action, u.before, u.after) for u in updates] == \
        [("update", {"amount_paid": "0.00"}, {"amount_paid": "10.00"})] * 2

    deliveries = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    assert [(d.event, d.record_id) for d in deliveries] == \
        [("invoices.created", i) for i in ids] + [("invoices.updated", i) for i in ids[:2]]
    assert [d.payload["data"]["after"]["total"] for d in deliveries[:5]] == \
        [f"{100 + n}.50" for n in range(5)]
    assert deliveries[5].payload["data"]["before"] == {"amount_paid": "0.00"}


ACTIVITY = {"account_ref": "C001", "kind": "task", "subject": "Rappeler"}

# Bodies a POST takes, which the same item in /bulk must take too (entity, fields).
ACCEPTED = [
    ("activities", {"is_staff_only": "true"}),
    ("activities", {"is_staff_only": 1}),
    ("invoices", {"issued_on": "20261001"}),
]


def _body(entity: str, ref: str, over: dict) -> dict:
    if entity == "invoices":
        return invoice(ref, number=f"F-{ref}", **over)
    return {**ACTIVITY, "external_ref": ref, **over}


@pytest.mark.parametrize(("entity", "given"), ACCEPTED, ids=lambda v: repr(v))
def test_a_bulk_item_is_taken_when_the_same_post_is(en_client, world, entity, given):
    """Values a POST reads (a flag as "true" or 1, a date as 20261001), bulk reads alike."""
    single = en_client.post(f"/api/v1/{entity}", json=_body(entity, "S1", given))
    assert single.status_code == 201, single.data[:300]
    result = bulk(en_client, entity, [_body(entity, "B1", given)])
    assert result["items"][0]["status"] == "created", result["items"][0]
    made = en_client.get(f"/api/v1/{entity}/{result['items'][0]['id']}").get_json()
    posted = single.get_json()
    for name in given:
        assert made[name] == posted[name]


BAD_ITEMS = [  # one mistake each, as a client sends them
    {"issued_on": "2026-13-01"}, {"issued_on": 20261001}, {"total": "beaucoup"},
    {"total": True}, {"total": "NaN"}, {"number": 42}, {"status": "lost"},
    {"currency": "EURO"}, {"due_on": "2026-09-01"}, {"colour": "blue"},
    {"account_ref": "NOBODY"}, {"account_ref": 7}, {"custom": "not an object"},
    {"number": "F" * 300}, {"amount_paid": 12.5, "total": "1e13"}, {"custom": None},
    {"lines": "two lines"}, {"account_ref": None, "account_id": "+-5"},
]


@pytest.mark.parametrize("mistake", BAD_ITEMS, ids=lambda m: ",".join(m))
def test_an_items_errors_are_those_of_the_same_record_posted_alone(en_client, world, mistake):
    """Among good items, a bad one gets the messages a POST of the same body gets, by field."""
    bad = {k: v for k, v in invoice("BAD", **mistake).items()
           if v is not None or k != "account_ref"}  # None: not sent
    single = en_client.post("/api/v1/invoices", json=bad)
    alone = problem(single, 422)["errors"]
    result = bulk(en_client, "invoices", [invoice("G1"), bad, invoice("G2")])
    assert [o["status"] for o in result["items"]] == ["created", "error", "created"]
    assert result["items"][1]["errors"] == alone
