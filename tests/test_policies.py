"""Record visibility inside a tenant (app/policies.py), at query level and in the back office.

Tenant A holds partners P1 and P2, accounts X (of P1), Y (of P2) and Z (no partner), each with
a full set of records, plus an invoice of X brought by P2 and files on several records. An
agent of P1 sees P1's records, a subscriber of X sees X's records, admins and sales see all.
A record a user may not see answers 404 (never 403). Staff write whatever they see; an agent
writes his partner's customers, contacts and documents, never a partner nor a deletion that
would change records out of his sight; a subscriber changes his own customer's details only.
"""
from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import select

from app import models as m
from app.entities import EDITABLE, ENTITIES
from app.errors import NotAllowed, NotFound
from app.extensions import db
from app.models import Role
from app.policies import PORTAL_ENTITIES, can_change, can_create, can_delete, get_visible, visible
from app.services import tenants as tenant_service
from app.services.attachments import add_attachment
from app.services.records import create_record, delete_record, update_record
from app.tenancy import Actor, tenant_context
from tests.conftest import login, page_text

LINE = {"label": "Store banne", "quantity": Decimal("1"), "unit_price": Decimal("100"),
        "tax_rate": Decimal("20")}
LINE_MODELS = {"quotes": m.QuoteLine, "orders": m.OrderLine, "invoices": m.InvoiceLine}
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tenant_service, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


class FreshClient(FlaskClient):
    """A test client whose every request starts without a cached user, as a real one does.

    The tests' pushed app context is shared by the requests, and Flask-Login caches the
    user in `g`: without this, a second client (or another tenant's URL) would reuse it.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


def client_of(app: Flask, user: m.User) -> FlaskClient:
    return login(FreshClient(app, app.response_class, use_cookies=True), user)


@dataclass(frozen=True)
class Rec:
    entity: str
    id: int
    account: str | None  # key of the account the record belongs to (X, Y, Z)
    partner: str | None  # key of the partner the record belongs to (P1, P2)
    parent: Rec | None = None  # the record an attachment is attached to


@dataclass
class Book:
    records: list[Rec] = field(default_factory=list)
    partners: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, int] = field(default_factory=dict)

    def of(self, entity: str) -> list[Rec]:
        return [r for r in self.records if r.entity == entity]

    def find(self, entity: str, account: str | None, partner: str | None) -> Rec:
        return next(r for r in self.of(entity) if (r.account, r.partner) == (account, partner))


def _number(prefix: str) -> str:
    return f"{prefix}-{next(_numbers):05d}"


def _create(entity: str, data: dict[str, Any]) -> Any:
    return create_record(ENTITIES[entity], data)


def fill_tenant(with_extras: bool = True) -> Book:
    """Partners, accounts and every kind of record of the current tenant (not committed)."""
    book = Book()
    for key in ("P1", "P2"):
        partner = _create("partners", {"name": f"Agence {key}"})
        book.partners[key] = partner.id
        book.records.append(Rec("partners", partner.id, None, key))
    for key, partner_key in (("X", "P1"), ("Y", "P2"), ("Z", None)):
        account = _create("accounts", {"name": f"Client {key}", "kind": "company", "country": "FR",
                                       "partner": book.partners.get(partner_key)})
        book.accounts[key] = account.id
        book.records.append(Rec("accounts", account.id, key, partner_key))
        book.records += _documents(book, key, partner_key)
    if with_extras:
        # A document of X brought by P2: P2's record and X's record, not P1's.
        book.records += _documents(book, "X", "P2", only=("invoices",))
        targets = [book.find("invoices", "X", "P1"), book.find("invoices", "Y", "P2"),
                   book.find("partners", None, "P1"), book.find("partners", None, "P2"),
                   book.find("accounts", "X", "P1"), book.find("accounts", "Y", "P2"),
                   book.find("contacts", "X", "P1"), book.find("deliveries", "Z", None)]
        for target in targets:
            record = db.session.get(ENTITIES[target.entity].model, target.id)
            attachment = add_attachment(record, f"{target.entity}-{target.id}.txt",
                                        io.BytesIO(b"bon pour accord"))
            book.records.append(Rec("attachments", attachment.id, target.account, target.partner,
                                    target))
    db.session.flush()
    return book


def _documents(book: Book, account_key: str, partner_key: str | None,
               only: tuple[str, ...] | None = None) -> list[Rec]:
    account_id = book.accounts[account_key]
    common: dict[str, Any] = {"account": account_id}
    if partner_key:
        common["partner"] = book.partners[partner_key]
    specs = {
        "contacts": {"last_name": f"Martin {account_key}", "account": account_id},
        "deals": {"title": f"Projet {account_key}", "stage": "proposal", **common},
        "quotes": {"number": _number("D"), "status": "sent", "lines": [LINE], **common},
        "orders": {"number": _number("C"), "status": "confirmed", "lines": [LINE], **common},
        "contracts": {"number": _number("CT"), "title": "Maintenance", "status": "active",
                      "starts_on": date(2026, 1, 1), **common},
        "deliveries": {"number": _number("BL"), "status": "shipped", **common},
        "invoices": {"number": _number("F"), "status": "issued", "issued_on": date(2026, 10, 1),
                     "lines": [LINE], **common},
    }
    records = []
    for entity, data in specs.items():
        if only is None or entity in only:
            record = _create(entity, data)
            records.append(Rec(entity, record.id, account_key, partner_key))
    if only is None:
        for staff_only in (False, True):
            activity = _create("activities", {
                "kind": "call", "subject": f"Appel {account_key}", "account": account_id,
                "is_staff_only": staff_only})
            # A staff-only activity is no partner's: its agents never see it.
            records.append(Rec("activities", activity.id, account_key,
                               None if staff_only else partner_key))
    return records


def may_see(user: str, rec: Rec) -> bool:
    """The rule of ARCHITECTURE.md, for user keys admin, sales, agent (of P1), subscriber (of X)."""
    if user in ("admin", "sales"):
        return True
    if rec.entity == "attachments":
        return may_see(user, rec.parent)
    if user == "agent":
        return rec.partner == "P1"
    if rec.entity == "activities":  # the extranet shows activities to agents only
        return False
    return rec.entity != "partners" and rec.account == "X"


@pytest.fixture
def book(tenant: m.Tenant) -> Book:
    tenant.is_portal_activities_enabled = True
    book = fill_tenant()
    db.session.commit()
    return book


@pytest.fixture
def users(book: Book, make_user: Callable[..., m.User]) -> dict[str, m.User]:
    return {
        "admin": make_user(Role.ADMIN.value),
        "sales": make_user(Role.SALES.value),
        "agent": make_user(Role.AGENT.value, partner_id=book.partners["P1"]),
        "subscriber": make_user(Role.SUBSCRIBER.value, account_id=book.accounts["X"]),
    }


@pytest.fixture
def foreign_book(other_tenant: m.Tenant, in_tenant: Callable[..., Any]) -> Book:
    """The same set of records in tenant B."""
    return in_tenant(other_tenant, fill_tenant)


# --- query level ----------------------------------------------------------------------------

def test_each_role_sees_exactly_its_records_of_every_entity(book: Book, users: dict[str, m.User]):
    assert set(ENTITIES) == {r.entity for r in book.records}
    for user_key, user in users.items():
        for name, entity in ENTITIES.items():
            expected = {r.id for r in book.of(name) if may_see(user_key, r)}
            seen = set(db.session.scalars(visible(select(entity.model.id), entity.model, user)))
            assert seen == expected, f"{user_key} / {name}"
            for rec in book.of(name):
                found = get_visible(entity.model, rec.id, user)
                assert (found is not None) == may_see(user_key, rec), f"{user_key} / {name} {rec}"
    # The agent and the subscriber each see something and miss something of every entity.
    for user_key in ("agent", "subscriber"):
        for name in ENTITIES:
            if user_key == "subscriber" and name in ("partners", "activities"):
                continue
            visible_flags = {may_see(user_key, r) for r in book.of(name)}
            assert visible_flags == {True, False}, f"{user_key} / {name}"


def test_document_lines_follow_their_document(book: Book, users: dict[str, m.User]):
    for name, line_model in LINE_MODELS.items():
        parent_column = next(c for c in line_model.__table__.c if c.name == f"{name[:-1]}_id")
        all_lines = db.session.execute(select(line_model.id, parent_column)).all()
        documents = {r.id: r for r in book.of(name)}
        assert len(all_lines) == len(documents)
        for user_key, user in users.items():
            expected = {line_id for line_id, doc_id in all_lines
                        if may_see(user_key, documents[doc_id])}
            seen = set(db.session.scalars(visible(select(line_model.id), line_model, user)))
            assert seen == expected, f"{user_key} / {name} lines"
            if user_key in ("agent", "subscriber"):
                assert 0 < len(seen) < len(all_lines)


def test_users_without_a_partner_or_account_or_inactive_see_nothing(
        book: Book, users: dict[str, m.User]):
    agent, subscriber = users["agent"], users["subscriber"]
    agent.partner_id = None
    subscriber.account_id = None
    users["sales"].is_active = False
    for user in (agent, subscriber, users["sales"], None):
        for name, entity in ENTITIES.items():
            stmt = visible(select(entity.model.id), entity.model, user)
            assert list(db.session.scalars(stmt)) == [], f"{user} / {name}"
    db.session.rollback()


def test_another_tenants_record_ids_are_not_found_even_for_an_admin(
        book: Book, foreign_book: Book, users: dict[str, m.User]):
    admin = users["admin"]
    for rec in foreign_book.records:
        assert get_visible(ENTITIES[rec.entity].model, rec.id, admin) is None, rec
    for name, entity in ENTITIES.items():
        seen = set(db.session.scalars(visible(select(entity.model.id), entity.model, admin)))
        assert seen == {r.id for r in book.of(name)}, name


# --- back office ----------------------------------------------------------------------------

def _detail_url(rec: Rec, slug: str = "alpha") -> str:
    return f"/{slug}/{rec.entity}/{rec.id}"


def test_extranet_detail_pages_answer_404_for_records_out_of_sight(
        app: Flask, book: Book, users: dict[str, m.User]):
    for user_key in ("agent", "subscriber"):
        client = client_of(app, users[user_key])
        lists = PORTAL_ENTITIES[users[user_key].role]
        for rec in book.records:
            url = f"/alpha/portal/{rec.entity}/{rec.id}"
            expected = 200 if rec.entity in lists and may_see(user_key, rec) else 404
            assert client.get(url).status_code == expected, f"{user_key} {url}"
        invoice_x, invoice_y = book.find("invoices", "X", "P1"), book.find("invoices", "Y", "P2")
        number_x, number_y = (db.session.get(m.Invoice, rec.id).number
                              for rec in (invoice_x, invoice_y))
        listing = page_text(client.get("/alpha/portal/invoices/"))
        assert number_x in listing and number_y not in listing, user_key


def test_the_back_office_refuses_agents_and_subscribers_whatever_the_record(
        app: Flask, book: Book, users: dict[str, m.User]):
    """403 for their own records and for others' alike: nothing can be probed."""
    for user_key in ("agent", "subscriber"):
        client = client_of(app, users[user_key])
        for name in EDITABLE:
            for rec in book.of(name)[:2]:
                assert client.get(_detail_url(rec)).status_code == 403, rec
                assert client.get(f"{_detail_url(rec)}/edit").status_code == 403, rec
                assert client.post(f"{_detail_url(rec)}/edit", data={}).status_code == 403, rec
                assert client.post(f"{_detail_url(rec)}/delete").status_code == 403, rec
            assert client.get(f"/alpha/{name}/new").status_code == 403, name
    for name in ENTITIES:
        assert {r.id for r in book.of(name)} == set(
            db.session.scalars(select(ENTITIES[name].model.id))), f"{name} changed"


def test_staff_open_every_record_of_their_tenant(app: Flask, book: Book, users: dict[str, m.User]):
    for user_key in ("admin", "sales"):
        client = client_of(app, users[user_key])
        for rec in book.records:
            response = client.get(_detail_url(rec), follow_redirects=True)
            assert response.status_code == 200, f"{user_key} {_detail_url(rec)}"
        rec = book.find("invoices", "Y", "P2")
        assert client.get(f"{_detail_url(rec)}/edit").status_code == 200


def test_another_tenants_records_answer_404_to_an_admin(
        app: Flask, book: Book, foreign_book: Book, users: dict[str, m.User]):
    client = client_of(app, users["admin"])
    own_ids = {(r.entity, r.id) for r in book.records}
    foreign = [r for r in foreign_book.records if (r.entity, r.id) not in own_ids]
    assert {r.entity for r in foreign} == set(ENTITIES)
    for rec in foreign:
        assert client.get(_detail_url(rec), follow_redirects=True).status_code == 404, rec
        if rec.entity in EDITABLE:
            assert client.get(f"{_detail_url(rec)}/edit").status_code == 404, rec
    attachment = foreign_book.of("attachments")[-1]
    assert client.get(f"/alpha/attachments/{attachment.id}/download").status_code == 404


def test_a_session_does_not_carry_across_tenants(
        app: Flask, book: Book, foreign_book: Book, users: dict[str, m.User]):
    client = client_of(app, users["admin"])
    assert client.get("/alpha/invoices/").status_code == 200
    for path in ["/beta/", "/beta/invoices/",
                 *(_detail_url(r, "beta") for r in foreign_book.records[:3])]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/beta/login"), path
    assert client.get("/alpha/invoices/").status_code == 200


# --- writes ---------------------------------------------------------------------------------

def _record(book: Book, entity: str, account: str | None, partner: str | None) -> Any:
    return db.session.get(ENTITIES[entity].model, book.find(entity, account, partner).id)


def test_staff_create_change_and_delete_whatever_they_see(book: Book, users: dict[str, m.User]):
    for user_key in ("admin", "sales"):
        user = users[user_key]
        assert all(can_create(user, ENTITIES[name].model) for name in EDITABLE)
        for rec in book.records:
            record = db.session.get(ENTITIES[rec.entity].model, rec.id)
            assert can_change(user, record) and can_delete(user, record), (user_key, rec)


def test_an_agent_never_creates_changes_or_deletes_a_partner(book: Book,
                                                             users: dict[str, m.User]):
    agent = users["agent"]
    assert not can_create(agent, m.Partner)
    for key in ("P1", "P2"):
        partner = db.session.get(m.Partner, book.partners[key])
        assert not can_change(agent, partner) and not can_delete(agent, partner), key
    for name in ("accounts", "contacts", "deals", "quotes", "orders", "contracts", "deliveries",
                 "invoices"):
        assert can_create(agent, ENTITIES[name].model), name
    assert not can_create(agent, m.Attachment)


def test_an_agent_changes_only_records_he_sees(book: Book, users: dict[str, m.User]):
    agent = users["agent"]
    for rec in book.records:
        if rec.entity in ("partners", "attachments", "activities"):  # activities: his own only
            continue
        record = db.session.get(ENTITIES[rec.entity].model, rec.id)
        assert can_change(agent, record) == may_see("agent", rec), rec


def test_an_agent_deletes_nothing_whose_deletion_changes_records_out_of_his_sight(
        book: Book, users: dict[str, m.User]):
    agent = users["agent"]
    # X has an invoice brought by P2: deleting X would take it from X.
    assert not can_delete(agent, _record(book, "accounts", "X", "P1"))
    deal = _record(book, "deals", "X", "P1")
    assert can_delete(agent, deal)
    quote_y = _record(book, "quotes", "Y", "P2")
    quote_y.deal_id = deal.id  # P2's quote now uses P1's deal
    order = _record(book, "orders", "X", "P1")
    create_record(ENTITIES["invoices"], {
        "account": book.accounts["X"], "partner": book.partners["P1"], "status": "draft",
        "number": _number("F"), "order": order.id})
    db.session.flush()
    assert not can_delete(agent, deal)
    assert not can_delete(agent, order)  # a draft, which he does not see, uses it
    assert not can_delete(agent, _record(book, "invoices", "Y", "P2"))  # nor out of sight
    assert can_delete(agent, _record(book, "contacts", "X", "P1"))
    db.session.rollback()


def test_a_subscriber_changes_his_own_customer_only_and_deletes_nothing(
        book: Book, users: dict[str, m.User]):
    subscriber = users["subscriber"]
    assert not any(can_create(subscriber, ENTITIES[name].model) for name in EDITABLE)
    for rec in book.records:
        if rec.entity == "attachments":
            continue
        record = db.session.get(ENTITIES[rec.entity].model, rec.id)
        own = rec.entity == "accounts" and rec.account == "X"
        assert can_change(subscriber, record) == own, rec
        assert not can_delete(subscriber, record), rec


def test_the_services_apply_the_policy_to_the_acting_user(tenant: m.Tenant, book: Book,
                                                          users: dict[str, m.User]):
    """Whatever the face: an agent's write is refused by the service itself."""
    agent = users["agent"]
    own_partner = db.session.get(m.Partner, book.partners["P1"])
    account_x, account_y = (_record(book, "accounts", k, p) for k, p in (("X", "P1"),
                                                                          ("Y", "P2")))
    with tenant_context(tenant.id, Actor("user", agent.id, agent.email, agent)):
        with pytest.raises(NotAllowed):
            update_record(own_partner, {"name": "Renamed"})
        with pytest.raises(NotAllowed):
            delete_record(own_partner)
        with pytest.raises(NotAllowed):
            create_record(ENTITIES["partners"], {"name": "Agence pirate"})
        with pytest.raises(NotAllowed):
            delete_record(account_x)
        with pytest.raises(NotFound):
            update_record(account_y, {"city": "Lille"})
        with pytest.raises(NotFound):
            delete_record(account_y)
    db.session.rollback()
    assert db.session.get(m.Partner, book.partners["P1"]).name == "Agence P1"
    assert db.session.get(m.Account, account_y.id).city != "Lille"
