"""Tenant isolation, proved for every tenant-scoped model found in the mapper registry.

Tenant A is current; tenant B holds one row of every model (and A one too). Nothing of B may be
read, counted, loaded through a relationship, updated, deleted, inserted or referenced while A
is current; with no tenant bound, every tenant-scoped query raises. A model added later is
covered by these tests without editing them: rows are built generically from the table.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Table, UniqueConstraint, delete, exists, func, insert, select, update
from sqlalchemy.orm import RelationshipDirection, joinedload, selectinload

from app import models as m
from app.extensions import db
from app.models.base import TenantScoped
from app.tenancy import TenancyError, all_tenants_unsafe, bind, unbind

SCOPED_MODELS: list[type] = sorted(
    (mapper.class_ for mapper in db.Model.registry.mappers
     if issubclass(mapper.class_, TenantScoped)),
    key=lambda cls: cls.__name__,
)
_MODEL_OF_TABLE = {model.__table__: model for model in SCOPED_MODELS}
_TABLE_ORDER = {table: i for i, table in enumerate(db.metadata.sorted_tables)}
_seq = itertools.count(1)


# --- generic rows -------------------------------------------------------------------------

def _sample(column: Any) -> Any:
    """A value that fits a required column of any plain type."""
    n = next(_seq)
    python_type = _python_type(column)
    if python_type is str:
        return f"{n}-{column.name}"[: getattr(column.type, "length", None) or 100]
    samples = {int: n, bool: False, Decimal: Decimal("1.00"), date: date(2026, 1, n % 28 + 1),
               datetime: datetime.now(UTC), dict: {}, list: []}
    if python_type not in samples:  # pragma: no cover - tells whoever adds such a column
        raise NotImplementedError(f"test factory: no sample for {column} ({python_type})")
    return samples[python_type]


def _python_type(column: Any) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def _tenant_fks(table: Table) -> list[tuple[Any, Table]]:
    """(column, target table) for every foreign key to another tenant-scoped table."""
    return [(column, fk.column.table) for column in table.columns for fk in column.foreign_keys
            if column.name != "tenant_id" and fk.column.table in _MODEL_OF_TABLE]


def build_row(model: type, tenant_id: int, targets: dict[type, int]) -> Any:
    """An unsaved row of `model` for `tenant_id`: required columns filled, foreign keys to
    tenant-scoped tables pointing at `targets` (model -> id) when known."""
    values: dict[str, Any] = {"tenant_id": tenant_id}
    for column in model.__table__.columns:
        if column.name == "tenant_id" or column.primary_key:
            continue
        if column.foreign_keys:
            target = next(iter(column.foreign_keys)).column.table
            if target in _MODEL_OF_TABLE and _MODEL_OF_TABLE[target] in targets:
                values[column.key] = targets[_MODEL_OF_TABLE[target]]
            elif not column.nullable:  # pragma: no cover - a new mandatory reference
                raise NotImplementedError(f"test factory: cannot fill {column}")
            continue
        if not column.nullable and column.default is None and column.server_default is None:
            values[column.key] = _sample(column)
    return model(**values)


def make_rows(tenant_id: int) -> dict[type, int]:
    """One committed row of every tenant-scoped model for a tenant; returns model -> id."""
    ids: dict[type, int] = {}
    with all_tenants_unsafe("tests"):
        for model in sorted(SCOPED_MODELS, key=lambda cls: _TABLE_ORDER[cls.__table__]):
            row = build_row(model, tenant_id, ids)
            if model is m.Invoice:
                # A draft, which the partners' figures kept by the database from the invoices
                # leave out (app/models/partner_figures.py): every table holds the one row
                # made here.
                row.status = "draft"
            db.session.add(row)
            db.session.flush()
            ids[model] = row.id
        # Nullable references inside a cycle (accounts.owner_id -> users) are set afterwards.
        for model, row_id in ids.items():
            row = db.session.get(model, row_id)
            for column, target in _tenant_fks(model.__table__):
                if getattr(row, column.key) is None:
                    setattr(row, column.key, ids[_MODEL_OF_TABLE[target]])
        db.session.commit()
    db.session.expunge_all()
    return ids


@dataclass
class World:
    a: int
    b: int
    a_ids: dict[type, int]
    b_ids: dict[type, int]


@pytest.fixture
def world(tenant: m.Tenant, other_tenant: m.Tenant) -> World:
    """Rows of every model in A (current) and B."""
    a_id, b_id = tenant.id, other_tenant.id
    world = World(a_id, b_id, make_rows(a_id), make_rows(b_id))
    db.session.expunge_all()
    return world


def _raw(model: type, row_id: int, **values: Any) -> Any:
    """Read columns of any tenant's row (or None when it no longer exists)."""
    with all_tenants_unsafe("tests"):
        columns = [model.__table__.c[name] for name in values or ("id",)]
        return db.session.execute(select(*columns).where(model.__table__.c.id == row_id)).first()


def _corrupt(table: Table, row_id: int, **values: Any) -> None:
    """Write a cross-tenant value below the ORM, as a broken import or a bad SQL fix would."""
    with all_tenants_unsafe("tests"):
        db.session.execute(update(table).where(table.c.id == row_id).values(**values))
    db.session.expunge_all()


def _columns_of(row: Any) -> dict[str, Any]:
    """The column values of an unsaved row, as parameters of an ORM INSERT."""
    return {k: v for k, v in vars(row).items() if not k.startswith("_")}


@contextmanager
def no_tenant_bound() -> Iterator[None]:
    tokens = bind(None, None)
    try:
        yield
    finally:
        unbind(tokens)


def _writable(model: type) -> tuple[Any, Any, Any]:
    """A column of the model that a bulk UPDATE may overwrite, and two values for it: a plain
    string column outside any unique key when there is one (a bulk UPDATE touches one row per
    tenant, so a unique one does too: user_sessions has no other), else an integer one
    (export_marks has no text), else a date."""
    unique = {c.name for con in model.__table__.constraints
              if isinstance(con, UniqueConstraint) for c in con.columns}
    plain = [column for column in model.__table__.columns
             if not column.foreign_keys and not column.primary_key and column.name != "tenant_id"]
    texts = [column for column in plain if _python_type(column) is str
             and (getattr(column.type, "length", 0) or 100) >= 7]
    numbers = [column for column in plain if _python_type(column) is int]
    days = [column for column in plain if _python_type(column) is date]
    for found, values in ((texts, ("bulk-x", "bulk-y")), (numbers, (424242, 434343)),
                          (days, (date(2026, 3, 1), date(2026, 4, 1)))):
        if found:
            found.sort(key=lambda column: column.name in unique)
            return getattr(model, found[0].key), *values
    raise AssertionError(f"{model.__name__} has no plain column to update")  # pragma: no cover


def _one_per_parent(model: type) -> bool:
    """Whether a unique key of the model holds only the tenant and references (one creditor
    per tenant, one digest subscription per user): a second row for the same parents fails."""
    return any(isinstance(con, UniqueConstraint) and all(
        c.name == "tenant_id" or c.foreign_keys for c in con.columns)
        for con in model.__table__.constraints)


def _unlink_restricting_rows(model: type) -> None:
    """Empty the nullable references that forbid deleting the model's rows (ON DELETE
    RESTRICT: an SFTP server still named by an export or a pull)."""
    for other in SCOPED_MODELS:
        for column in other.__table__.columns:
            for fk in column.foreign_keys:
                if fk.column.table is model.__table__ and column.nullable \
                        and (fk.ondelete or "NO ACTION").upper() in ("RESTRICT", "NO ACTION"):
                    db.session.execute(update(other).values({column.key: None}))


# --- the models -----------------------------------------------------------------------------

def test_every_tenant_scoped_model_is_discovered():
    expected = {m.User, m.CustomField, m.AuditEvent, m.Partner, m.Account, m.Contact, m.Deal,
                m.Quote, m.QuoteLine, m.Order, m.OrderLine, m.Contract, m.Delivery, m.Invoice,
                m.InvoiceLine, m.Attachment}
    assert expected <= set(SCOPED_MODELS)
    assert m.Tenant not in SCOPED_MODELS
    for model in SCOPED_MODELS:
        assert not model.__table__.c.tenant_id.nullable, model.__name__


def test_all_tenants_unsafe_sees_both_tenants(world: World):
    with all_tenants_unsafe("tests"):
        for model in SCOPED_MODELS:
            ids = set(db.session.scalars(select(model.id)))
            assert ids == {world.a_ids[model], world.b_ids[model]}, model.__name__


# --- reads ----------------------------------------------------------------------------------

def test_selects_return_only_the_current_tenants_rows(world: World):
    for model in SCOPED_MODELS:
        name, a_row, b_row = model.__name__, world.a_ids[model], world.b_ids[model]
        assert [r.id for r in db.session.scalars(select(model))] == [a_row], name
        assert list(db.session.scalars(select(model.id))) == [a_row], name
        assert db.session.scalars(select(model).where(model.id == b_row)).first() is None, name
        assert db.session.scalar(select(model.id).where(model.tenant_id == world.b)) is None, name
        aliased_rows = db.session.scalars(select(model).join(
            m.Tenant, m.Tenant.id == model.tenant_id).where(m.Tenant.id.in_([world.a, world.b])))
        assert [r.id for r in aliased_rows] == [a_row], name


def test_session_get_by_another_tenants_id_returns_nothing(world: World):
    for model in SCOPED_MODELS:
        db.session.expunge_all()
        assert db.session.get(model, world.b_ids[model]) is None, model.__name__
        assert db.session.get(model, world.a_ids[model]) is not None, model.__name__


def test_counts_and_subqueries_ignore_the_other_tenant(world: World):
    for model in SCOPED_MODELS:
        name, b_row = model.__name__, world.b_ids[model]
        def count(subquery: Any) -> int:
            return db.session.scalar(select(func.count()).select_from(subquery.subquery()))

        assert count(select(model)) == 1, name
        assert count(select(model.id).where(model.id.in_([world.a_ids[model], b_row]))) == 1, name
        assert db.session.scalar(select(func.count(model.id))) == 1, name
        assert db.session.scalar(select(func.count()).select_from(model)) == 1, name
        assert db.session.scalar(select(select(model.id).where(model.id == b_row).exists())) \
            is False, name
        # From the (unscoped) tenants table, through a correlated subquery and a join.
        with_rows = select(m.Tenant.id).where(
            select(model.id).where(model.tenant_id == m.Tenant.id).exists())
        assert list(db.session.scalars(with_rows)) == [world.a], name
        per_tenant = select(m.Tenant.id, select(func.count(model.id)).where(
            model.tenant_id == m.Tenant.id).scalar_subquery()).order_by(m.Tenant.id)
        assert dict(db.session.execute(per_tenant).all()) == {world.a: 1, world.b: 0}, name
        joined = select(m.Tenant.id).join(model, model.tenant_id == m.Tenant.id)
        assert list(db.session.scalars(joined)) == [world.a], name
        cte = select(model.id).cte()
        assert db.session.scalar(select(func.count()).select_from(cte)) == 1, name


def test_selects_whose_from_is_only_inferred_are_refused(world: World):
    """Criteria reach model entities only: a table inferred from WHERE, or read as a plain
    Table, would read every tenant, so such a statement raises instead of leaking."""
    for model in SCOPED_MODELS:
        b_row = world.b_ids[model]
        statements = [
            select(exists().where(model.id == b_row)),
            select(func.count()).where(model.id == b_row),
            select(m.Tenant.id).where(exists().where(model.tenant_id == m.Tenant.id)),
            select(model.__table__.c.id),
        ]
        for statement in statements:
            with pytest.raises(TenancyError):
                db.session.execute(statement).all()
        # The same questions asked through the model are answered for tenant A only.
        assert db.session.scalar(select(func.count()).select_from(model)
                                 .where(model.id == b_row)) == 0
        assert db.session.scalar(select(func.count(model.id)).where(model.id == b_row)) == 0


def _tenant_relationships() -> list[tuple[type, Any]]:
    return [(model, rel) for model in SCOPED_MODELS for rel in model.__mapper__.relationships
            if issubclass(rel.mapper.class_, TenantScoped)]


def test_relationship_loads_never_return_another_tenants_rows(world: World):
    """Even with a foreign key that points across tenants (bad data), loads stay in A."""
    relationships = _tenant_relationships()
    names = {f"{model.__name__}.{rel.key}" for model, rel in relationships}
    assert {"Invoice.lines", "InvoiceLine.invoice", "Account.partner", "Contact.account"} <= names
    for model, rel in relationships:
        name, target = f"{model.__name__}.{rel.key}", rel.mapper.class_
        a_row = world.a_ids[model]
        if rel.direction is RelationshipDirection.MANYTOONE:
            (local, _remote), = rel.local_remote_pairs
            _corrupt(model.__table__, a_row, **{local.name: world.b_ids[target]})
            for option in (None, selectinload, joinedload):
                db.session.expunge_all()
                stmt = select(model).where(model.id == a_row)
                if option is not None:
                    stmt = stmt.options(option(getattr(model, rel.key)))
                row = db.session.scalars(stmt).unique().one()
                assert getattr(row, rel.key) is None, f"{name} ({option})"
        elif rel.direction is RelationshipDirection.ONETOMANY:
            (_local, remote), = rel.local_remote_pairs
            b_child, a_child = world.b_ids[target], world.a_ids[target]
            _corrupt(remote.table, b_child, **{remote.name: a_row})
            for option in (None, selectinload, joinedload):
                db.session.expunge_all()
                stmt = select(model).where(model.id == a_row)
                if option is not None:
                    stmt = stmt.options(option(getattr(model, rel.key)))
                row = db.session.scalars(stmt).unique().one()
                assert [c.id for c in getattr(row, rel.key)] == [a_child], f"{name} ({option})"
        else:  # pragma: no cover - a many-to-many needs its own check here
            raise AssertionError(f"{name}: add a check for {rel.direction}")
        db.session.rollback()


# --- writes ---------------------------------------------------------------------------------

def test_orm_bulk_update_leaves_the_other_tenant_untouched(world: World):
    for model in SCOPED_MODELS:
        name, (column, value, _other) = model.__name__, _writable(model)
        before = _raw(model, world.b_ids[model], **{column.key: None})
        result = db.session.execute(update(model).values({column: value}))
        assert result.rowcount == 1, name
        assert _raw(model, world.b_ids[model], **{column.key: None}) == before, name
        assert _raw(model, world.a_ids[model], **{column.key: None})[0] == value, name
        db.session.rollback()


def test_orm_bulk_update_by_primary_key_refuses_another_tenants_rows(world: World):
    for model in SCOPED_MODELS:
        name, (column, value, other) = model.__name__, _writable(model)
        before = _raw(model, world.b_ids[model], **{column.key: None})
        with pytest.raises(TenancyError):
            db.session.execute(update(model), [{"id": world.b_ids[model], column.key: value}])
        db.session.rollback()
        assert _raw(model, world.b_ids[model], **{column.key: None}) == before, name
        db.session.execute(update(model), [{"id": world.a_ids[model], column.key: other}])
        assert _raw(model, world.a_ids[model], **{column.key: None})[0] == other, name
        db.session.rollback()


def test_orm_bulk_update_cannot_move_rows_to_another_tenant(world: World):
    for model in SCOPED_MODELS:
        with pytest.raises(TenancyError):
            db.session.execute(update(model).values(tenant_id=world.b))
        db.session.rollback()
        with pytest.raises(TenancyError):
            db.session.execute(update(model), [{"id": world.a_ids[model], "tenant_id": world.b}])
        db.session.rollback()
        assert _raw(model, world.a_ids[model], tenant_id=None) == (world.a,), model.__name__


def test_orm_bulk_delete_leaves_the_other_tenant_untouched(world: World):
    for model in SCOPED_MODELS:
        name = model.__name__
        _unlink_restricting_rows(model)
        result = db.session.execute(delete(model))
        assert result.rowcount == 1, name
        assert _raw(model, world.a_ids[model]) is None, name
        assert _raw(model, world.b_ids[model]) is not None, name
        db.session.rollback()
    with all_tenants_unsafe("tests"):
        for model in SCOPED_MODELS:
            assert db.session.scalar(select(func.count(model.id))) == 2, model.__name__


def test_core_table_writes_are_refused_under_a_tenant(world: World):
    """The table, unlike the model, carries no tenant criteria: writing through it is refused."""
    for model in SCOPED_MODELS:
        table = model.__table__
        with pytest.raises(TenancyError):
            db.session.execute(update(table).values(tenant_id=table.c.tenant_id))
        with pytest.raises(TenancyError):
            db.session.execute(delete(table))
        db.session.rollback()


def test_inserting_a_row_of_another_tenant_fails(world: World):
    for model in SCOPED_MODELS:
        row = build_row(model, world.b, world.a_ids)
        db.session.add(row)
        with pytest.raises(TenancyError):
            db.session.flush()
        db.session.rollback()
        values = _columns_of(build_row(model, world.b, world.a_ids))
        with pytest.raises(TenancyError):
            db.session.execute(insert(model), [values])
        db.session.rollback()
        with pytest.raises(TenancyError):
            db.session.execute(insert(model).values(**values))
        db.session.rollback()
        own = _columns_of(build_row(model, world.a, world.a_ids))
        with pytest.raises(TenancyError):
            db.session.execute(insert(model).values([own, values]))
        db.session.rollback()
    with all_tenants_unsafe("tests"):
        for model in SCOPED_MODELS:
            assert db.session.scalar(select(func.count(model.id))) == 2, model.__name__


def test_a_new_row_takes_the_current_tenant(world: World):
    for model in SCOPED_MODELS:
        if _one_per_parent(model):  # its one row first goes, then comes back untold of A
            db.session.execute(delete(model))
            row = build_row(model, None, world.a_ids)
            db.session.add(row)
            db.session.flush()
            assert row.tenant_id == world.a, model.__name__
            db.session.rollback()
            continue
        row = build_row(model, None, world.a_ids)
        db.session.add(row)
        db.session.flush()
        assert row.tenant_id == world.a, model.__name__
        values = _columns_of(build_row(model, None, world.a_ids))
        del values["tenant_id"]
        db.session.execute(insert(model), [values])  # ORM bulk INSERT
        assert db.session.scalar(select(func.count(model.id))) == 3, model.__name__
        db.session.rollback()


def test_changing_a_rows_tenant_fails(world: World):
    for model in SCOPED_MODELS:
        row = db.session.get(model, world.a_ids[model])
        row.tenant_id = world.b
        with pytest.raises(TenancyError):
            db.session.flush()
        db.session.rollback()
        assert _raw(model, world.a_ids[model], tenant_id=None) == (world.a,), model.__name__


def test_foreign_keys_to_another_tenants_rows_fail_at_flush(world: World):
    references = [(model, column, _MODEL_OF_TABLE[target]) for model in SCOPED_MODELS
                  for column, target in _tenant_fks(model.__table__)]
    assert {(m.Invoice, "account_id"), (m.InvoiceLine, "invoice_id"), (m.Account, "partner_id")} \
        <= {(model, column.key) for model, column, _target in references}
    for model, column, target in references:
        name = f"{model.__name__}.{column.key}"
        row = db.session.get(model, world.a_ids[model])
        setattr(row, column.key, world.b_ids[target])
        with pytest.raises(TenancyError):
            db.session.flush()
        db.session.rollback()
        assert _raw(model, world.a_ids[model], **{column.key: None}) == (world.a_ids[target],), name
        new_row = build_row(model, None, {**world.a_ids, target: world.b_ids[target]})
        db.session.add(new_row)
        with pytest.raises(TenancyError):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(TenancyError):
            db.session.execute(update(model).values({column.key: world.b_ids[target]}))
        db.session.rollback()


def test_linking_to_another_tenants_object_fails_at_flush(world: World):
    for model, rel in _tenant_relationships():
        if rel.direction is not RelationshipDirection.MANYTOONE:
            continue
        with all_tenants_unsafe("tests"):
            foreign = db.session.get(rel.mapper.class_, world.b_ids[rel.mapper.class_])
        row = db.session.get(model, world.a_ids[model])
        setattr(row, rel.key, foreign)
        with pytest.raises(TenancyError):
            db.session.flush()
        db.session.rollback()


def test_invoice_pointed_at_another_tenants_account_fails(
        make_invoice, other_tenant, in_tenant, tenant):
    from app.entities import ENTITIES
    from app.services.records import create_record

    foreign_account = in_tenant(other_tenant, create_record, ENTITIES["accounts"],
                                {"name": "Client Beta", "kind": "company", "country": "FR"})
    invoice = make_invoice()
    invoice.account_id = foreign_account.id
    with pytest.raises(TenancyError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(m.Invoice, invoice.id).account_id != foreign_account.id


# --- no tenant bound ------------------------------------------------------------------------

def test_queries_with_no_tenant_bound_raise(world: World):
    for model in SCOPED_MODELS:
        db.session.expunge_all()
        with no_tenant_bound():
            for stmt in (select(model), select(model.id), select(func.count(model.id)),
                         select(func.count()).select_from(select(model).subquery()),
                         select(m.Tenant.id).where(exists().where(model.tenant_id == m.Tenant.id)),
                         update(model).values(tenant_id=model.tenant_id), delete(model)):
                with pytest.raises(TenancyError):
                    db.session.execute(stmt)
            with pytest.raises(TenancyError):
                db.session.get(model, world.a_ids[model])
            db.session.add(build_row(model, world.a, world.a_ids))
            with pytest.raises(TenancyError):
                db.session.flush()
        db.session.rollback()
    with no_tenant_bound():  # platform data stays readable
        assert db.session.scalar(select(func.count(m.Tenant.id))) == 2
