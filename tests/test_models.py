"""Column behaviour users rely on: exact money, JSON custom values, UTC timestamps, keys
unique per tenant, and cascades when an account is deleted."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Index, UniqueConstraint, event, func, inspect, select

from app import models as m
from app.entities import ENTITIES
from app.errors import ValidationError
from app.extensions import db
from app.services.records import create_record, update_record
from app.tenancy import all_tenants_unsafe

ZERO_TAX = Decimal("0")


def _line(price: str, quantity: str = "1") -> dict[str, Any]:
    return {"label": "Article", "quantity": Decimal(quantity), "unit_price": Decimal(price),
            "tax_rate": ZERO_TAX}


def _reload(*records: Any) -> Any:
    """The records as the database returns them, not as the session remembers them."""
    keys = [(type(record), record.id) for record in records]
    db.session.expunge_all()
    loaded = [db.session.get(model, record_id) for model, record_id in keys]
    return loaded[0] if len(loaded) == 1 else loaded


@pytest.fixture
def foreign_keys_enforced(app_ctx: Any) -> Iterator[None]:
    """SQLite enforces foreign keys (and so cascades) only when asked on each connection.

    The app asks when a connection opens; the shared clean-up may have turned it off on a
    pooled connection, so ask again on every checkout for this test.
    """
    if db.engine.dialect.name != "sqlite":
        yield
        return

    def enforce(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    db.session.remove()
    event.listen(db.engine.pool, "checkout", enforce)
    yield
    event.remove(db.engine.pool, "checkout", enforce)


# --- money --------------------------------------------------------------------------------

def test_money_is_exact_decimal_with_two_places(make_invoice: Callable[..., Any]):
    invoice = make_invoice(lines=[_line("0.1"), _line("0.2")])
    triple = make_invoice(lines=[_line("0.10", "3")])
    large = make_invoice(lines=[_line("123456789012.34")])
    invoice, triple, large = _reload(invoice, triple, large)
    assert invoice.total == Decimal("0.30") and isinstance(invoice.total, Decimal)
    assert invoice.total.as_tuple().exponent == -2
    assert str(invoice.total_excl_tax) == "0.30"
    assert [line.unit_price for line in invoice.lines] == [Decimal("0.10"), Decimal("0.20")]
    assert triple.total == Decimal("0.30")
    assert large.total == Decimal("123456789012.34")
    total = db.session.scalar(select(func.sum(m.Invoice.total)).where(
        m.Invoice.id.in_([invoice.id, triple.id])))
    assert Decimal(total).quantize(Decimal("0.01")) == Decimal("0.60")
    assert str(Decimal(total).quantize(Decimal("0.01"))) == "0.60"


def test_money_stays_decimal_through_an_update(make_deal: Callable[..., Any]):
    deal = make_deal(amount=Decimal("1500.10"))
    update_record(deal, {"amount": Decimal("0.1") + Decimal("0.2")})
    db.session.commit()
    deal = _reload(deal)
    assert deal.amount == Decimal("0.30") and str(deal.amount) == "0.30"
    for column in (m.Invoice.total, m.Invoice.amount_paid, m.InvoiceLine.unit_price,
                   m.Deal.amount, m.Contract.recurring_amount):
        assert column.type.asdecimal and column.type.scale == 2, column


# --- custom JSON ----------------------------------------------------------------------------

def test_custom_values_round_trip_as_json(make_account: Callable[..., Any]):
    custom = {
        "promoteur": "Société Générale — Île-de-France ✓",
        "tokyo": "東京支店",
        "emoji": "🚀",
        "quote": 'l\'"entrée"',
        "nested": {"list": [1, "deux", {"trois": True, "quatre": None}], "empty": {}},
        "number": 12,
        "decimal_text": "1234.56",
        "flag": False,
    }
    account = make_account()
    account.custom = custom
    db.session.commit()
    assert _reload(account).custom == custom
    other = make_account()
    assert _reload(other).custom == {}


# --- timestamps -----------------------------------------------------------------------------

def _is_utc(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() == timedelta(0)


def test_timestamps_are_timezone_aware_utc_and_updated_at_moves(make_account: Callable[..., Any]):
    before = datetime.now(UTC)
    account = _reload(make_account())
    assert _is_utc(account.created_at) and _is_utc(account.updated_at)
    assert before - timedelta(seconds=5) <= account.created_at <= datetime.now(UTC)
    created, updated = account.created_at, account.updated_at
    update_record(account, {"city": "Grenoble"})
    db.session.commit()
    account = _reload(account)
    assert account.city == "Grenoble"
    assert account.created_at == created
    assert account.updated_at > updated and _is_utc(account.updated_at)


def test_datetimes_are_stored_as_utc_instants(make_user: Callable[..., m.User]):
    user = make_user("sales")
    paris_summer = timezone(timedelta(hours=2))
    user.last_login_at = datetime(2026, 7, 14, 12, 0, tzinfo=paris_summer)
    db.session.commit()
    user = _reload(user)
    assert user.last_login_at == datetime(2026, 7, 14, 10, 0, tzinfo=UTC)
    assert _is_utc(user.last_login_at)
    user.last_login_at = datetime(2026, 1, 2, 3, 4, 5)  # naive: taken as UTC
    db.session.commit()
    assert _reload(user).last_login_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


# --- keys unique per tenant ----------------------------------------------------------------

def _unique_keys(table: Any) -> list[tuple[str, list[str]]]:
    keys = [(c.name or "(unnamed)", [col.name for col in c.columns])
            for c in table.constraints if isinstance(c, UniqueConstraint)]
    keys += [(i.name, [col.name for col in i.columns]) for i in table.indexes
             if isinstance(i, Index) and i.unique]
    return keys


# Platform tables: the tenants, what outlives a tenant (its deletion's record) and the
# scheduler's lease, which no tenant owns.
PLATFORM_TABLES = {"tenants", "platform_events", "scheduler_leases"}


def test_every_unique_key_starts_with_tenant_id(app_ctx: Any):
    checked = 0
    for table in db.metadata.sorted_tables:
        if table.name in PLATFORM_TABLES:
            continue
        assert "tenant_id" in table.c, f"{table.name} has no tenant_id"
        for name, columns in _unique_keys(table):
            assert columns[0] == "tenant_id", f"{table.name}.{name}: {columns}"
            checked += 1
    assert checked >= 10
    # The database built by the migrations agrees with the models.
    inspector = inspect(db.engine)
    for table_name in inspector.get_table_names():
        if table_name in PLATFORM_TABLES | {"alembic_version"}:
            continue
        reflected = [u["column_names"] for u in inspector.get_unique_constraints(table_name)]
        reflected += [i["column_names"] for i in inspector.get_indexes(table_name) if i["unique"]]
        for columns in reflected:
            assert columns[0] == "tenant_id", f"{table_name}: {columns}"


MINIMAL = {
    "partners": lambda account: {"name": "Agence"},
    "accounts": lambda account: {"name": "Client", "kind": "company", "country": "FR"},
    "contacts": lambda account: {"last_name": "Martin", "account": account},
    "deals": lambda account: {"title": "Projet", "account": account},
    "quotes": lambda account: {"account": account},
    "orders": lambda account: {"account": account},
    "contracts": lambda account: {"title": "Maintenance", "account": account},
    "deliveries": lambda account: {"account": account},
    "invoices": lambda account: {"account": account},
}


def _fill_keys(entity_name: str, **keys: str) -> None:
    """Create two records of `entity_name` with the given keys; the second must be refused."""
    account = db.session.scalar(select(m.Account.id).order_by(m.Account.id).limit(1))
    create_record(ENTITIES[entity_name], {**MINIMAL[entity_name](account), **keys})
    db.session.commit()


def test_external_ref_and_number_are_unique_within_a_tenant_only(
        tenant: m.Tenant, other_tenant: m.Tenant, in_tenant: Callable[..., Any],
        make_account: Callable[..., Any]):
    make_account()
    in_tenant(other_tenant, create_record, ENTITIES["accounts"], MINIMAL["accounts"](None))
    keyed = [(name, "external_ref") for name in MINIMAL]
    keyed += [(name, "number") for name in MINIMAL if "number" in
              {f.name for f in ENTITIES[name].fields}]
    assert {name for name, key in keyed if key == "number"} == {
        "quotes", "orders", "contracts", "deliveries", "invoices"}
    for name, key in keyed:
        value = f"{name[:3].upper()}-0042"
        _fill_keys(name, **{key: value})
        with pytest.raises(ValidationError) as refused:
            _fill_keys(name, **{key: value})
        assert key in refused.value.errors, (name, key, refused.value.errors)
        db.session.rollback()
        in_tenant(other_tenant, _fill_keys, name, **{key: value})  # same value, other tenant
        count = select(func.count()).select_from(ENTITIES[name].model).where(
            getattr(ENTITIES[name].model, key) == value)
        assert db.session.scalar(count) == 1, (name, key)
        with all_tenants_unsafe("tests"):
            assert db.session.scalar(count) == 2, (name, key)


def test_empty_keys_do_not_collide(make_account: Callable[..., Any],
                                   make_invoice: Callable[..., Any]):
    accounts = [make_account(external_ref=""), make_account(external_ref=None), make_account()]
    assert [a.external_ref for a in accounts] == [None, None, None]
    invoices = [make_invoice(number=None), make_invoice(number="")]
    assert [i.number for i in invoices] == [None, None]


def test_the_database_itself_refuses_duplicate_keys(make_account: Callable[..., Any]):
    from sqlalchemy.exc import IntegrityError

    make_account(external_ref="CLI-1")
    db.session.add(m.Account(name="Double", external_ref="CLI-1", custom={}))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


# --- cascades -------------------------------------------------------------------------------

def test_deleting_an_account_deletes_its_documents_and_lines(
        foreign_keys_enforced, make_account, make_contact, make_deal, make_quote, make_order,
        make_contract, make_delivery, make_invoice, other_tenant, in_tenant):
    doomed, kept = make_account(), make_account()
    for account in (doomed, kept):
        make_contact(account=account.id)
        make_deal(account=account.id)
        make_quote(account=account.id)
        make_order(account=account.id)
        make_contract(account=account.id)
        make_delivery(account=account.id)
        make_invoice(account=account.id)
        make_invoice(account=account.id, lines=[_line("10"), _line("20")])
    foreign = in_tenant(other_tenant, create_record, ENTITIES["accounts"],
                        MINIMAL["accounts"](None))
    in_tenant(other_tenant, create_record, ENTITIES["invoices"],
              {"account": foreign.id, "lines": [_line("5")]})

    def counts(account_id: int) -> dict[str, int]:
        result = {}
        for model in (m.Contact, m.Deal, m.Quote, m.Order, m.Contract, m.Delivery, m.Invoice):
            result[model.__name__] = db.session.scalar(
                select(func.count(model.id)).where(model.account_id == account_id))
        for line, parent in ((m.InvoiceLine, m.Invoice), (m.QuoteLine, m.Quote),
                             (m.OrderLine, m.Order)):
            result[line.__name__] = db.session.scalar(
                select(func.count(line.id)).join(parent).where(parent.account_id == account_id))
        return result

    expected = {"Contact": 1, "Deal": 1, "Quote": 1, "Order": 1, "Contract": 1, "Delivery": 1,
                "Invoice": 2, "InvoiceLine": 3, "QuoteLine": 1, "OrderLine": 1}
    assert counts(doomed.id) == expected
    doomed_id, kept_id = doomed.id, kept.id
    # The model's rows cascade in the database (the service refuses while documents remain).
    db.session.delete(doomed)
    db.session.commit()
    db.session.expunge_all()
    assert db.session.get(m.Account, doomed_id) is None
    assert counts(doomed_id) == dict.fromkeys(expected, 0)
    with all_tenants_unsafe("tests"):
        orphans = db.session.scalar(select(func.count(m.InvoiceLine.id)).where(
            m.InvoiceLine.invoice_id.not_in(select(m.Invoice.id))))
        assert orphans == 0
        assert db.session.scalar(select(func.count(m.InvoiceLine.id))) == 3 + 1
    assert counts(kept_id) == expected
