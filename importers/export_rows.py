"""What an export reads: its columns (the import profiles' vocabulary) and its rows, by id, in
one statement streamed a page at a time (bounded memory).

Columns: an entity's field (`number`, `issued_on`; a related record gives its name, `account`),
a related record's key (`account.external_ref`), a custom field (`custom.<key>`), or `id`,
`created_at`, `updated_at`. Filters are the list pages' own (`status=paid`,
`issued_on_from=2026-01-01`, `cf_<key>=…`), read by the same code (app/queries/lists.py).

Only the columns asked for are read (a select of columns, not of records): a million rows
leave at the pace of the database's own COPY (bench/exports.py).
"""

from __future__ import annotations

import selectors
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
    type_coerce,
)
from sqlalchemy.orm import aliased
from werkzeug.datastructures import MultiDict

from app.csv_cells import FORMULA_START, NEGATIVE_NUMBER_SQL
from app.custom_fields import definitions
from app.entities import ENTITIES, Entity
from app.errors import ValidationError
from app.extensions import db
from app.mail import in_language
from app.models import CustomField, ExportMark, Role, User
from app.queries.lists import build_list
from app.tenancy import apply_database_context, scoped_select

if TYPE_CHECKING:
    from psycopg import Copy

PAGE_SIZE = 5000
EXTRA_COLUMNS = {"id": _l("ID"), "created_at": _l("Created at"), "updated_at": _l("Updated at")}


@dataclass(frozen=True)
class ExportPrincipal:
    """Who an export reads as: the tenant's admin (every record, drafts included)."""

    role: str = Role.ADMIN.value
    is_active: bool = True
    is_authenticated: bool = True
    is_staff: bool = True
    is_admin: bool = True
    partner_id: None = None
    account_id: None = None


@dataclass
class Plan:
    """An export's select (id and updated_at first, then one expression per column), its
    header, and how each raw value becomes a cell."""

    entity: Entity
    header: list[str]
    stmt: Select
    # Per column: None (the value as read), or the custom field whose key is read from `custom`.
    customs: list[CustomField | None] = field(default_factory=list)
    # Per column: True when the database writes it as its CSV cell (`text_cells`).
    written: list[bool] = field(default_factory=list)
    # Per column: its value as stored, before the database writes it as a cell (copy_rows
    # lets COPY write the dates).
    sources: list[Any] = field(default_factory=list)


def column_choices(entity: Entity) -> list[str]:
    """Every column an export of `entity` may name, custom fields included."""
    names = [*EXTRA_COLUMNS, "external_ref"]
    for f in entity.fields:
        if f.name == "external_ref":
            continue
        names.append(f.name)
        if f.type == "ref" and f.ref != "users":
            names.append(f"{f.name}.external_ref")
    names += [f"custom.{cf.key}" for cf in definitions(entity.name)]
    return names


def plan_export(
    entity_name: str,
    columns: list[str],
    headers: dict[str, str] | None,
    filters: dict[str, Any] | None,
    locale: str,
    *,
    text_cells: bool = False,
    versions: bool = True,
) -> Plan:
    """Check the definition's columns and filters and build its select (headers in the
    tenant's language); ValidationError naming the unknown column or refused filter.

    `text_cells`: dates, amounts, numbers and yes/no come out of the database already
    written as the CSV files write them (dd/mm/yyyy, decimal comma): a million rows are not
    parsed into Python objects only to be written back as text. `versions`: updated_at is
    read (changes-only exports), else NULL."""
    with in_language(locale):
        plan = _plan(entity_name, columns, headers, filters, locale)
    cols = list(plan.stmt.selected_columns)
    rest = [
        _as_text(col) if text_cells and cf is None else col
        for col, cf in zip(cols[2:], plan.customs, strict=True)
    ]
    plan.written = [new is not old for new, old in zip(rest, cols[2:], strict=True)]
    plan.sources = cols[2:]
    plan.stmt = plan.stmt.with_only_columns(
        cols[0], cols[1] if versions else null(), *rest, maintain_column_froms=True
    )
    return plan


def _as_text(column: Any) -> Any:
    """The column written by the database as a CSV cell (None stays None)."""
    sql_type = column.type
    python_type = _python_type(column)
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if python_type is date:
        text = func.to_char(column, "DD/MM/YYYY") if postgres else func.strftime("%d/%m/%Y", column)
    elif python_type is Decimal:
        scale = getattr(sql_type, "scale", None)
        if postgres:
            shown = cast(column, Text)
        elif scale is not None:
            shown = func.printf(f"%.{int(scale)}f", column)
        else:
            return column
        text = func.replace(shown, ".", ",")
    elif python_type is bool:
        return type_coerce(case((column.is_(True), "oui"), (column.is_(False), "non")), String)
    elif python_type is int:
        text = cast(column, Text)
    else:
        return column
    if postgres:  # to_char, a cast and replace give NULL for NULL (printf gives 0.00)
        return type_coerce(text, String)
    return type_coerce(case((column.is_(None), None), else_=text), String)


def _python_type(column: Any) -> type:
    try:
        return column.type.python_type
    except NotImplementedError:
        return object


def _plan(
    entity_name: str,
    columns: list[str],
    headers: dict[str, str] | None,
    filters: dict[str, Any] | None,
    locale: str,
) -> Plan:
    entity = ENTITIES.get(entity_name)
    if entity is None or entity.name == "attachments":
        raise ValidationError({"entity": _("Unknown entity: %(name)s.", name=entity_name)})
    if not columns:
        raise ValidationError({"columns": _("Choose at least one column.")})
    model = entity.model
    custom_fields = {cf.key: cf for cf in definitions(entity.name)}
    labels = {f.name: f for f in entity.fields}
    exprs: list[Any] = []
    header: list[str] = []
    customs: list[CustomField | None] = []
    joins: dict[str, Any] = {}
    for name in columns:
        name = str(name).strip()
        if name in EXTRA_COLUMNS or name == "external_ref":
            exprs.append(getattr(model, name))
            label = (
                str(EXTRA_COLUMNS[name])
                if name in EXTRA_COLUMNS
                else str(labels["external_ref"].label)
                if "external_ref" in labels
                else name
            )
            customs.append(None)
        elif name.startswith("custom.") and name[7:] in custom_fields:
            cf = custom_fields[name[7:]]
            exprs.append(model.custom)
            label = cf.label(locale)
            customs.append(cf)
        else:
            base, _dot, attr = name.partition(".")
            f = labels.get(base)
            if f is None or (
                attr and (f.type != "ref" or f.ref == "users" or attr != "external_ref")
            ):
                raise ValidationError({"columns": _("Unknown column: %(name)s.", name=name)})
            if f.type == "ref":
                related = User if f.ref == "users" else ENTITIES[f.ref].model
                alias = joins.get(f.name)
                if alias is None:
                    alias = joins[f.name] = aliased(related, name=f"ref_{f.name}")
                shown = "email" if f.ref == "users" else attr or ENTITIES[f.ref].title_attr
                exprs.append(getattr(alias, shown))
                label = f"{f.label} ({labels['external_ref'].label})" if attr else str(f.label)
            else:
                exprs.append(getattr(model, f.attr))
                label = str(f.label)
            customs.append(None)
        header.append(str((headers or {}).get(name) or label))
    # Statuses as stored, as the API filters them (a page shows "overdue" for late ones).
    query = build_list(
        entity,
        MultiDict(_filter_items(filters)),
        ExportPrincipal(),
        list(custom_fields.values()),
        today=None,
    )
    if query.invalid:
        raise ValidationError({"filters": "; ".join(query.invalid.values())})
    stmt = select(model.id, model.updated_at, *exprs).select_from(model)
    for f_name, alias in joins.items():
        stmt = stmt.outerjoin(alias, getattr(model, entity.field(f_name).attr) == alias.id)
    if query.stmt.whereclause is not None:
        stmt = stmt.where(query.stmt.whereclause)
    return Plan(entity, header, stmt, customs)


def _filter_items(filters: dict[str, Any] | None) -> list[tuple[str, str]]:
    items = []
    for key, value in (filters or {}).items():
        for one in value if isinstance(value, list) else [value]:
            items.append((str(key), "" if one is None else str(one)))
    return items


def changed_only(plan: Plan, export_id: int, since: datetime | None) -> Select:
    """The plan's rows changed since `since` whose version this export did not send yet."""
    model = plan.entity.model
    stmt = plan.stmt
    if since is not None:
        stmt = stmt.where(model.updated_at >= since)
    sent = (
        select(ExportMark.id)
        .where(
            and_(
                ExportMark.export_id == export_id,
                ExportMark.record_id == model.id,
                ExportMark.updated_at == model.updated_at,
            )
        )
        .exists()
    )
    return stmt.where(~sent)


def read_batches(
    plan: Plan, stmt: Select, versions: bool = True
) -> Iterator[list[Sequence[Any]]]:
    """Every row of `stmt`, by id, as (id, updated_at, *cells), or its cells alone when
    `versions` is False, PAGE_SIZE rows at a time: one statement, so one snapshot of the
    rows (a server-side cursor on PostgreSQL). Scoped to the tenant as the session's reads
    are (app/tenancy.scoped_select), then run on the session's connection: rows come as the
    driver gives them, without the ORM's row layer, which cost as much as the rest of an
    export."""
    model = plan.entity.model
    customs = plan.customs
    plain = all(cf is None for cf in customs)
    skip = 2 if versions else 0
    if not versions:
        stmt = stmt.with_only_columns(
            *list(stmt.selected_columns)[2:], maintain_column_froms=True
        )
    result = db.session.connection().execute(
        scoped_select(stmt.order_by(model.id)), execution_options={"yield_per": PAGE_SIZE}
    )
    for rows in result.partitions():
        if plain:
            yield rows
        else:
            yield [
                (
                    *row[:skip],
                    *(
                        value if cf is None else custom_value(cf, (value or {}).get(cf.key))
                        for cf, value in zip(customs, row[skip:], strict=True)
                    ),
                )
                for row in rows
            ]


def copied_by_database(plan: Plan, kinds: list[str], fmt: str, versions: bool) -> bool:
    """Whether PostgreSQL's COPY writes the export's CSV rows (copy_rows): every cell is text
    or written by the database, two columns or more (a row of one empty cell is `""` to the
    csv module, an empty line to COPY), and no version is remembered (changes-only exports
    read each row's id and version)."""
    return (
        db.session.get_bind().dialect.name == "postgresql"
        and fmt in ("csv_cp1252", "csv_utf8")
        and not versions
        and len(kinds) >= 2
        and all(kind in ("written", "text") for kind in kinds)
    )


def copy_rows(plan: Plan, stmt: Select, kinds: list[str]) -> Iterator[tuple[int, bytes]]:
    """(rows, their UTF-8 CSV lines) PAGE_SIZE rows at a time, written by PostgreSQL's
    `COPY (…) TO STDOUT` from the same tenant-scoped select as read_batches, in one statement
    (one snapshot): the bytes the csv module would write, with the text cells that start like
    a formula quoted (app/csv_cells.safe_cell) and empty texts unquoted, by the database.

    Dates are written by COPY itself, as dd/mm/yyyy under the DateStyle `SQL, DMY` set for
    the statement alone (to_char took a fifth of the server's time of an export of invoices);
    the session's own style is put back as soon as the last row is read (psycopg reads times
    with a time zone in the ISO style alone), and a failed COPY's rollback puts it back too."""
    columns = list(stmt.selected_columns)[2:]
    shown = [
        _formula_safe(col)
        if kind == "text"
        else source
        if kind == "written" and _python_type(source) is date
        else col
        for col, source, kind in zip(columns, plan.sources, kinds, strict=True)
    ]
    query = scoped_select(
        stmt.with_only_columns(*shown, maintain_column_froms=True).order_by(plan.entity.model.id)
    )
    connection = db.session.connection()
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    apply_database_context(connection)  # the tenant's row-level security, as every read
    dbapi = connection.connection.dbapi_connection
    style = dbapi.info.parameter_status("DateStyle") or "ISO, MDY"
    cursor = dbapi.cursor()
    try:
        cursor.execute("SELECT set_config('DateStyle', 'SQL, DMY', true)")
        sql = f"COPY ({compiled}) TO STDOUT (FORMAT csv, DELIMITER ';')"
        with cursor.copy(sql, compiled.params) as copy:
            lines: list[bytes] = []
            for line in _copied_lines(copy):
                # Copied: 5,000 buffers held at once would keep the garbage collector busy.
                lines.append(bytes(line))
                if len(lines) >= PAGE_SIZE:
                    yield len(lines), _crlf(lines)
                    lines = []
            if lines:
                yield len(lines), _crlf(lines)
        # Before anything else reads dates or times on this connection.
        cursor.execute("SELECT set_config('DateStyle', %s, true)", (style,))
    finally:
        cursor.close()


def _copied_lines(copy: Copy) -> Iterator[memoryview]:
    """The rows of a `COPY … TO STDOUT`, one message each, taken from libpq's buffer by one
    call a row: psycopg's own iteration runs a generator and its wait loop for every row
    (0.17 s of this process's CPU for 200,000 rows, against 0.10 s here). When the buffer is
    empty, wait for the socket and read what came. Then the statement's outcome, as psycopg
    would read it: an error the server raised on the way is raised here."""
    import psycopg  # PostgreSQL's exports alone

    pgconn = copy.connection.pgconn
    with selectors.DefaultSelector() as socket:
        socket.register(pgconn.socket, selectors.EVENT_READ)

        def more() -> None:
            socket.select()
            pgconn.consume_input()

        while True:
            size, data = pgconn.get_copy_data(1)
            if size > 0:
                yield data
            elif size == 0:
                more()
            elif size == -2:
                raise psycopg.OperationalError(pgconn.get_error_message())
            else:
                break
        outcome = None
        while True:
            while pgconn.is_busy():
                more()
            result = pgconn.get_result()
            if result is None:
                break
            outcome = outcome or result
    if outcome is None:
        raise psycopg.OperationalError("COPY ended without its outcome")
    if outcome.status != psycopg.pq.ExecStatus.COMMAND_OK:
        raise psycopg.errors.error_from_result(outcome, copy.connection.info.encoding)


def _crlf(lines: list[bytes]) -> bytes:
    """COPY ends its lines with LF, the export with CRLF; a quoted cell may hold line
    breaks of its own, kept as they are."""
    joined = b"".join(lines)
    if b'"' not in joined:
        return joined.replace(b"\n", b"\r\n")
    return b"".join(line[:-1] + b"\r\n" for line in lines)


FORMULA_CODES = [ord(char) for char in FORMULA_START]


def _formula_safe(column: Any) -> Any:
    """A text cell as the csv module would receive it: empty when empty (NULL, so that COPY
    leaves it unquoted), a leading quote when it starts like a formula (safe_cell). The first
    character is tested by its code (`ascii`, 0 for an empty text): cheaper than a substring
    compared as text, on every text cell of every row."""
    return type_coerce(
        case(
            (
                and_(
                    func.ascii(column).in_(FORMULA_CODES),
                    ~column.regexp_match(NEGATIVE_NUMBER_SQL),
                ),
                literal("'") + column,
            ),
            else_=func.nullif(column, ""),
        ),
        String,
    )


def column_kinds(plan: Plan) -> list[str]:
    """Each column's kind of value (written: by the database; text, date, datetime, decimal,
    int, bool, any), so that a CSV cell is formatted without asking each value what it is."""
    kinds = []
    written = plan.written or [False] * len(plan.customs)
    columns = list(plan.stmt.selected_columns)[2:]
    for column, cf, done in zip(columns, plan.customs, written, strict=True):
        if done:
            kinds.append("written")
            continue
        if cf is not None:
            kinds.append("any")
            continue
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            python_type = object
        kinds.append(
            {
                str: "text",
                date: "date",
                datetime: "datetime",
                Decimal: "decimal",
                int: "int",
                bool: "bool",
            }.get(python_type, "any")
        )
    return kinds


def custom_value(cf: CustomField, value: Any) -> Any:
    """A stored custom value as its type, so that files write 12,50 and dd/mm/yyyy."""
    try:
        if cf.type in ("decimal", "money") and value is not None and value != "":
            return Decimal(str(value))
        if cf.type == "date" and isinstance(value, str) and value:
            return date.fromisoformat(value)
    except (ArithmeticError, ValueError):
        pass
    return value
