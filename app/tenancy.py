"""The current tenant and actor, and the one place that scopes every query to the tenant.

Every query of a tenant-scoped model gets a `tenant_id = :current` criterion (ORM loader
criteria, which also reach relationship loads and ORM bulk UPDATE/DELETE); a query with no
tenant bound raises; a flush that would write a row, or a reference, of another tenant fails.
`all_tenants_unsafe(reason)` is the one bypass: fixtures, migrations and platform jobs only.

On PostgreSQL the database is a second wall (app/row_security.py): every statement runs in
a transaction that carries the same tenant (`app.tenant_id`) or bypass (`app.bypass_rls`),
set here from these ContextVars, and row-level security filters every tenant table on it,
raw SQL and COPY included.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import FromClause, Join, Select, Table, event, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.attributes import get_history
from sqlalchemy.sql import visitors
from sqlalchemy.sql.base import ExecutableOption
from sqlalchemy.sql.selectable import SelectBase

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
log = logging.getLogger("relais.tenancy")
_bypass_reasons_seen: set[str] = set()


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
def all_tenants_unsafe(reason: str) -> Iterator[None]:
    """Lift tenant scoping, in the ORM and in the database: fixtures, migrations and
    platform jobs only, each naming itself (`reason`).

    Audited in the log "relais.tenancy": the first opening of each reason in a process at
    INFO, every opening at DEBUG (the webhook dispatcher opens one every few seconds)."""
    if reason not in _bypass_reasons_seen:
        _bypass_reasons_seen.add(reason)
        log.info("tenant bypass opened: %s", reason)
    else:
        log.debug("tenant bypass opened: %s", reason)
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
    if (state.is_insert or state.is_update or state.is_delete) and state.bind_mapper is None:
        raise TenancyError("INSERT, UPDATE or DELETE of a tenant-scoped table: use its model")
    if state.is_insert or state.is_update:
        _check_dml_values(state, tenant_id)
        if state.is_insert:
            return
    if state.is_select and not state.is_relationship_load \
            and _reads_uncovered_tables(state.statement):
        # Loader criteria reach the model entities of a statement, not a table that is only
        # inferred from a WHERE clause (count().where(Model.x ...), exists().where(...)) nor
        # a plain Table: such a statement would read every tenant, so it is refused.
        raise TenancyError("tenant-scoped table read without its model: select from the model")
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True
        )
    )


def scoped_select(statement: Select) -> Select:
    """`statement` with the criteria the ORM hook above adds, for a read executed on the
    session's connection: a Core cursor, without the ORM's row layer (an export streams a
    million rows). Raises as the hook does: no tenant bound, a table read without its model."""
    if _bypass.get():
        return statement
    tenant_id = _tenant_id.get()
    if tenant_id is None:
        raise TenancyError("tenant-scoped query with no tenant bound")
    if _reads_uncovered_tables(statement):
        raise TenancyError("tenant-scoped table read without its model: select from the model")
    return statement.options(
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


def _plain(from_: Any) -> Any:
    return from_._deannotate() if hasattr(from_, "_deannotate") else from_


def _is_orm(from_: Any) -> bool:
    return "parententity" in getattr(from_, "_annotations", {})


def _tables_of(from_: Any) -> list[Any]:
    """A FROM element's tables and aliases, joins flattened."""
    if isinstance(from_, Join):
        return _tables_of(from_.left) + _tables_of(from_.right)
    return [from_]


def _entity_tables(select_: Select) -> set[Any]:
    """Tables (or aliases) of the models a SELECT returns, inside functions too."""
    tables = set()
    stack = list(select_._raw_columns)
    while stack:
        element = stack.pop()
        if isinstance(element, SelectBase):
            continue  # a subquery is checked as its own SELECT
        if "parententity" in getattr(element, "_annotations", {}):
            table = element if isinstance(element, FromClause) else getattr(element, "table", None)
            if table is not None:
                tables.add(_plain(table))
        stack.extend(element.get_children())
    return tables


def _join_targets(select_: Select) -> list[Any]:
    targets = []
    for target, *_rest in getattr(select_, "_setup_joins", ()):
        prop = getattr(target, "property", None)
        info = sa_inspect(prop.mapper if prop is not None else target, raiseerr=False)
        selectable = getattr(info, "selectable", None)
        if selectable is not None:
            targets.extend(_tables_of(selectable))
    return targets


_COVERAGE_CACHE: dict[Any, bool] = {}
_COVERAGE_CACHE_SIZE = 5000


def _reads_uncovered_tables(statement: Any) -> bool:
    """`_uncovered_tenant_froms`, remembered per statement shape (SQLAlchemy's cache key)."""
    cache_key = statement._generate_cache_key()
    if cache_key is None:
        return bool(_uncovered_tenant_froms(statement))
    key = cache_key.key
    found = _COVERAGE_CACHE.get(key)
    if found is None:
        found = bool(_uncovered_tenant_froms(statement))
        if len(_COVERAGE_CACHE) >= _COVERAGE_CACHE_SIZE:
            _COVERAGE_CACHE.clear()
        _COVERAGE_CACHE[key] = found
    return found


def _selects(statement: Any) -> list[Select]:
    """Every SELECT of a statement, nested ones included; loader options are not entered."""
    found, stack, seen = [], [statement], set()
    while stack:
        element = stack.pop()
        if id(element) in seen or isinstance(element, ExecutableOption):
            continue
        seen.add(id(element))
        if isinstance(element, Select):
            found.append(element)
        stack.extend(element.get_children())
    return found


def _uncovered_tenant_froms(statement: Any) -> list[Any]:
    """Tenant-scoped tables some SELECT reads without them being a model entity anywhere.

    A table covered by an entity elsewhere in the statement counts as covered: SQLAlchemy
    correlates such inner references to the enclosing entity, which carries the criteria.
    """
    covered: set[Any] = set()
    used: list[Any] = []
    for element in _selects(statement):
        explicit = [t for f in element._from_obj for t in _tables_of(f)]
        covered.update(_plain(t) for t in explicit if _is_orm(t))
        covered.update(_entity_tables(element))
        covered.update(_plain(t) for t in _join_targets(element))
        for from_ in element.get_final_froms():
            for table in _tables_of(from_):
                if _is_orm(table):
                    continue  # an alias the ORM made (eager loads): criteria reach it
                base = getattr(table, "element", table)
                if isinstance(base, Table) and "tenant_id" in base.c:
                    used.append(_plain(table))
    return [t for t in used if t not in covered]


def _check_dml_values(state: ORMExecuteState, tenant_id: int) -> None:
    """ORM INSERT/UPDATE: no other tenant in tenant_id, foreign keys or (bulk by id) rows.

    Loader criteria do not reach `.values()`, parameter lists or UPDATE by primary key.
    """
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    statement = state.statement
    given = [getattr(statement, "_values", None) or {}]
    for batch in getattr(statement, "_multi_values", None) or ():
        given += [row for row in batch if isinstance(row, dict)]
    values = [{getattr(k, "key", k): getattr(v, "value", v) for k, v in row.items()}
              for row in given]
    table = state.bind_mapper.local_table
    references: dict[Any, set[int]] = defaultdict(set)
    for row, by_id in [(row, False) for row in values] + [(row, state.is_update) for row in rows]:
        row_tenant = row.get("tenant_id", tenant_id)
        if not isinstance(row_tenant, int) or row_tenant != tenant_id:  # SQL expressions too
            raise TenancyError("write of another tenant's row")
        for column in table.columns:
            value = row.get(column.key)
            if not isinstance(value, int) or column.name == "tenant_id":
                continue
            if column.primary_key and by_id:
                references[table].add(value)
            for fk in column.foreign_keys:
                if "tenant_id" in fk.column.table.c:
                    references[fk.column.table].add(value)
    for row in rows if state.is_insert else ():
        row["tenant_id"] = tenant_id
    if references:
        _check_references(state.session, references, tenant_id)


@event.listens_for(Session, "before_flush")
def _guard_flush(session: Session, flush_context: Any, instances: Any) -> None:
    bypass = _bypass.get()
    tenant_id = _tenant_id.get()
    references: dict[Any, set[int]] = defaultdict(set)
    # Each of these properties builds a new set: read once, not once per object (a flush of
    # 100,000 new rows would be quadratic).
    new, dirty, deleted = session.new, session.dirty, session.deleted
    for obj in list(new) + list(dirty) + list(deleted):
        if not isinstance(obj, TenantScoped):
            continue
        if bypass:
            if obj.tenant_id is None:
                raise TenancyError(f"{obj!r} has no tenant")
            continue
        if tenant_id is None:
            raise TenancyError("tenant-scoped write with no tenant bound")
        if obj in new and obj.tenant_id is None:
            obj.tenant_id = tenant_id
        history = get_history(obj, "tenant_id")
        if obj.tenant_id != tenant_id or any(v not in (None, tenant_id) for v in history.deleted):
            raise TenancyError(f"write of {obj!r} outside the current tenant")
        if obj not in deleted:
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
    # The check looks for other tenants' rows, which row-level security would hide from it.
    token = _bypass.set(True)
    try:
        for table, ids in references.items():
            foreign = connection.execute(
                select(table.c.id).where(table.c.id.in_(ids), table.c.tenant_id != tenant_id)
                .limit(1)).first()
            if foreign is not None:
                raise TenancyError(f"reference to another tenant's row in {table.name}")
    finally:
        _bypass.reset(token)


# -- the database's side (PostgreSQL row-level security) --------------------------------------

# The (tenant, bypass) pair the connection's current transaction carries; kept in the pool's
# record of the DBAPI connection, forgotten whenever a transaction or savepoint may end.
_DATABASE_CONTEXT = "relais_row_security"
_SAVEPOINT_STATEMENTS = ("SAVEPOINT", "ROLLBACK TO", "RELEASE")
_SET_CONTEXT = ("SELECT set_config('app.tenant_id', %s, true), "
                "set_config('app.bypass_rls', %s, true)")


def apply_database_context(connection: Connection) -> None:
    """Give the connection's transaction the current tenant (or bypass), transaction-local,
    unless it carries it already. Called before every statement SQLAlchemy sends; code that
    sends SQL through the DBAPI connection itself (app/services/record_sql.py) calls it first."""
    if connection.dialect.name != "postgresql":
        return
    wanted = (_tenant_id.get(), _bypass.get())
    info = connection.info
    if info.get(_DATABASE_CONTEXT) == wanted:
        return
    tenant_id, bypass = wanted
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(_SET_CONTEXT, ("" if tenant_id is None else str(tenant_id),
                                      "on" if bypass else "off"))
    finally:
        cursor.close()
    info[_DATABASE_CONTEXT] = wanted


@event.listens_for(Engine, "before_cursor_execute")
def _before_statement(connection: Connection, cursor: Any, statement: str, parameters: Any,
                      context: Any, executemany: bool) -> None:
    # Per statement, not per transaction: a context may be entered or left inside an open
    # transaction (a job's bypass block, a test's tenant_context), and the check is a dict
    # lookup; the setting itself costs one round trip per transaction and context. Not before
    # savepoint statements: they neither read nor write, and ROLLBACK TO is what recovers a
    # failed transaction, in which nothing else may run.
    if not statement.startswith(_SAVEPOINT_STATEMENTS):
        apply_database_context(connection)


# What a transaction carries before anything is set: no tenant, no bypass. The settings are
# only ever made transaction-local (`set_config(…, true)`, `SET LOCAL`, a function's own `SET`),
# so a pooled connection's new transaction starts with them unset, which the policies read as
# no tenant and no bypass: a statement that runs with nothing bound (a request's first one, the
# tenant found by its slug) needs no round trip to say so.
_FRESH_CONTEXT = (None, False)


@event.listens_for(Engine, "begin")
def _fresh_database_context(connection: Connection) -> None:
    connection.info[_DATABASE_CONTEXT] = _FRESH_CONTEXT


@event.listens_for(Engine, "rollback_savepoint")
def _forget_database_context(connection: Connection, *args: Any) -> None:
    # A rolled back savepoint undoes what was set inside it: the next statement sets the
    # context again.
    connection.info.pop(_DATABASE_CONTEXT, None)
