"""The current tenant and actor, and the one place that scopes every query to the tenant.

Every query of a tenant-scoped model gets a `tenant_id = :current` criterion (ORM loader
criteria, which also reach relationship loads and ORM bulk UPDATE/DELETE); a query with no
tenant bound raises; a flush that would write a row, or a reference, of another tenant fails.
`all_tenants_unsafe()` is the one bypass: fixtures, migrations and platform jobs only.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, event, select
from sqlalchemy.sql import visitors
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.attributes import get_history

from app.models.base import TenantScoped


class TenancyError(RuntimeError):
    """A tenant-scoped operation ran without a tenant, or crossed tenants."""


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user, an API token, a feed or the platform."""

    kind: str  # user | token | feed | system
    id: int | None
    label: str
    user: Any = None  # the User acting, whose visibility applies; None for platform work
    ip: str | None = None


_tenant_id: ContextVar[int | None] = ContextVar("relais_tenant_id", default=None)
_actor: ContextVar[Actor | None] = ContextVar("relais_actor", default=None)
_bypass: ContextVar[bool] = ContextVar("relais_tenancy_bypass", default=False)

SYSTEM = Actor("system", None, "system")


def current_tenant_id() -> int:
    """The bound tenant's id; raises when none is bound."""
    tenant_id = _tenant_id.get()
    if tenant_id is None:
        raise TenancyError("no tenant bound")
    return tenant_id


def bound_tenant_id() -> int | None:
    return _tenant_id.get()


def current_actor() -> Actor:
    return _actor.get() or SYSTEM


def bind(tenant_id: int | None, actor: Actor | None = None) -> tuple:
    """Bind a tenant (and actor) to the current context; returns tokens for `unbind`."""
    return _tenant_id.set(tenant_id), _actor.set(actor)


def unbind(tokens: tuple) -> None:
    tenant_token, actor_token = tokens
    _actor.reset(actor_token)
    _tenant_id.reset(tenant_token)


def set_actor(actor: Actor | None) -> None:
    """Replace the actor of the current context (request hook once the user is known)."""
    _actor.set(actor)


@contextmanager
def tenant_context(tenant_id: int, actor: Actor | None = None) -> Iterator[None]:
    """Run a block (job, CLI command, test) as if inside a request of that tenant."""
    tokens = bind(tenant_id, actor)
    try:
        yield
    finally:
        unbind(tokens)


@contextmanager
def all_tenants_unsafe() -> Iterator[None]:
    """Lift tenant scoping: fixtures, migrations and platform jobs only."""
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


def _is_tenant_scoped(mapper: Any) -> bool:
    return mapper is not None and issubclass(mapper.class_, TenantScoped)


@event.listens_for(Session, "do_orm_execute")
def _scope_orm_statement(state: ORMExecuteState) -> None:
    if _bypass.get() or state.is_column_load:
        return
    if not (any(_is_tenant_scoped(m) for m in state.all_mappers)
            or _reads_tenant_tables(state.statement)):
        return
    tenant_id = _tenant_id.get()
    if tenant_id is None:
        raise TenancyError("tenant-scoped query with no tenant bound")
    if state.is_insert:
        _check_insert_parameters(state, tenant_id)
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True
        )
    )


def _reads_tenant_tables(statement: Any) -> bool:
    """True when a tenant-scoped table appears anywhere in the statement (subqueries too)."""
    for element in visitors.iterate(statement):
        if isinstance(element, Table) and "tenant_id" in element.c:
            return True
    return False


def _check_insert_parameters(state: ORMExecuteState, tenant_id: int) -> None:
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    for row in rows:
        row_tenant = row.get("tenant_id", tenant_id)
        if row_tenant != tenant_id:
            raise TenancyError("bulk insert of another tenant's row")
        row["tenant_id"] = tenant_id


@event.listens_for(Session, "before_flush")
def _guard_flush(session: Session, flush_context: Any, instances: Any) -> None:
    bypass = _bypass.get()
    tenant_id = _tenant_id.get()
    references: dict[Any, set[int]] = defaultdict(set)
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantScoped):
            continue
        if bypass:
            if obj.tenant_id is None:
                raise TenancyError(f"{obj!r} has no tenant")
            continue
        if tenant_id is None:
            raise TenancyError("tenant-scoped write with no tenant bound")
        if obj in session.new and obj.tenant_id is None:
            obj.tenant_id = tenant_id
        history = get_history(obj, "tenant_id")
        if obj.tenant_id != tenant_id or any(v not in (None, tenant_id) for v in history.deleted):
            raise TenancyError(f"write of {obj!r} outside the current tenant")
        if obj not in session.deleted:
            _collect_references(obj, references)
    if references:
        _check_references(session, references, tenant_id)


def _collect_references(obj: TenantScoped, references: dict[Any, set[int]]) -> None:
    """Note every changed foreign key of `obj` that points at a tenant-scoped table."""
    for rel in obj.__mapper__.relationships:
        related = obj.__dict__.get(rel.key)
        if isinstance(related, TenantScoped) and related.tenant_id not in (None, obj.tenant_id):
            raise TenancyError(f"{obj!r} linked to another tenant's {related!r}")
    for column in obj.__table__.columns:
        for fk in column.foreign_keys:
            target = fk.column.table
            if "tenant_id" not in target.c or column.name == "tenant_id":
                continue
            attr = obj.__mapper__.get_property_by_column(column).key
            value = getattr(obj, attr)
            if value is not None and get_history(obj, attr).added:
                references[target].add(value)


def _check_references(session: Session, references: dict[Any, set[int]], tenant_id: int) -> None:
    connection = session.connection()
    for table, ids in references.items():
        foreign = connection.execute(
            select(table.c.id).where(table.c.id.in_(ids), table.c.tenant_id != tenant_id).limit(1)
        ).first()
        if foreign is not None:
            raise TenancyError(f"reference to another tenant's row in {table.name}")
