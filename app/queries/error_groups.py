"""A run's row errors grouped by what went wrong: column, message and, when the message is
about the cell's value, that value ("Date: “pas une date” is not a date" × 41,230).

A group is named by the id of its first error (`group=<id>`): short in a link, stable while
the run adds errors (they only append). Grouping and a group's pages read the index on
(tenant, run, column, message id, line, id).

A message about the value that many values fail ("No customer with the reference “C8”", a
customer file not imported yet: thousands of references, each failing once) would make as many
groups of one, and hide the largest kind of error: such a kind is counted whole too, with its
number of values (`kinds`, `kind=<id>` for its rows).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select

from app.extensions import db
from app.models import ImportRowError, ImportRun

# Parameters that name the cell's value: their messages are grouped by that value (a
# document's name is the cell that names it).
VALUE_PARAMS = ("%(value)s", "%(ref)s", "%(name)s")
# Raised when the grouping changes: a run's groups counted before are counted again.
GROUPING = 2
GROUPS_SHOWN = 10
# Groups counted when a run ends: as many as the API lists at most.
MAX_GROUPS = 100
# Kinds spread over many values, counted when a run ends.
KINDS_COUNTED = 10


def _by_value() -> ColumnElement[bool]:
    return or_(*(ImportRowError.message_id.contains(p, autoescape=True) for p in VALUE_PARAMS))


def is_by_value(error: ImportRowError) -> bool:
    """Whether the error's message is about its value (then its group holds that value only)."""
    return bool(error.message_id) and any(p in error.message_id for p in VALUE_PARAMS)


@dataclass
class ErrorGroup:
    """Errors of one kind: the first of them (its message stands for all) and how many."""

    first: ImportRowError
    count: int

    @property
    def by_value(self) -> bool:
        return is_by_value(self.first)


@dataclass
class ErrorKind:
    """Errors of one column and message about the value, whatever the value: the first of
    them, how many, and how many different values."""

    first: ImportRowError
    count: int
    values: int


@dataclass
class ErrorSummary:
    total: int
    groups: list[ErrorGroup]
    more_groups: bool
    kinds: list[ErrorKind] = field(default_factory=list)


def error_summary(run: ImportRun, limit: int = GROUPS_SHOWN) -> ErrorSummary:
    """The run's `limit` largest groups of errors (largest first) and its number of errors:
    counted when the run ended (a finished run's errors no longer change), else now."""
    counted = run.error_groups if run.is_finished else None
    if not counted or counted.get("grouping") != GROUPING \
            or (len(counted.get("groups", [])) < limit and counted.get("more")):
        counted = count_groups(run, limit)
    pairs = counted["groups"][:limit]
    # Runs counted before kinds were: counted now (one grouped read).
    spread = counted["kinds"] if "kinds" in counted else count_kinds(run)
    firsts = {e.id: e for e in db.session.scalars(select(ImportRowError).where(
        ImportRowError.id.in_([first_id for first_id, *_ in (*pairs, *spread)])))}
    groups = [ErrorGroup(firsts[first_id], count) for first_id, count in pairs
              if first_id in firsts]
    kinds = [ErrorKind(firsts[first_id], count, values) for first_id, count, values in spread
             if first_id in firsts]
    return ErrorSummary(counted["total"], groups,
                        bool(counted["more"]) or len(counted["groups"]) > limit, kinds)


def count_groups(run: ImportRun, limit: int = MAX_GROUPS) -> dict[str, Any]:
    """Count the run's errors by kind: {"total", "groups": [[first error id, count]…] (the
    `limit` largest), "more": whether there are other groups}, as ImportRun.error_groups."""
    # Errors stored before message ids existed group by their stored text.
    legacy_text = case((ImportRowError.message_id.is_(None), ImportRowError.message))
    value_key = case((_by_value(), ImportRowError.value))
    count = func.count().label("count")
    stmt = (select(func.min(ImportRowError.id).label("first_id"), count)
            .where(ImportRowError.run_id == run.id)
            .group_by(ImportRowError.column, ImportRowError.message_id, legacy_text, value_key)
            .order_by(count.desc(), func.min(ImportRowError.id))
            .limit(limit + 1))
    rows = db.session.execute(stmt).all()
    total = db.session.scalar(select(func.count()).select_from(ImportRowError).where(
        ImportRowError.run_id == run.id)) or 0
    return {"total": total, "groups": [[r.first_id, r.count] for r in rows[:limit]],
            "more": len(rows) > limit, "kinds": count_kinds(run), "grouping": GROUPING}


def count_kinds(run: ImportRun, limit: int = KINDS_COUNTED) -> list[list[int]]:
    """The run's messages about the value that several values fail, whole: [[first error id,
    count, values]…], the `limit` largest."""
    count = func.count().label("count")
    values = func.count(ImportRowError.value.distinct()).label("values")
    stmt = (select(func.min(ImportRowError.id).label("first_id"), count, values)
            .where(ImportRowError.run_id == run.id, _by_value())
            .group_by(ImportRowError.column, ImportRowError.message_id)
            .having(func.count(ImportRowError.value.distinct()) > 1)
            .order_by(count.desc(), func.min(ImportRowError.id))
            .limit(limit))
    return [[r.first_id, r.count, r.values] for r in db.session.execute(stmt)]


def group_first(run: ImportRun, group_id: int) -> ImportRowError | None:
    """The error that names a group of this run, None when the id is not one of its errors."""
    return db.session.scalar(select(ImportRowError).where(
        ImportRowError.run_id == run.id, ImportRowError.id == group_id))


def in_group(stmt: Select, first: ImportRowError, *, whole_kind: bool = False) -> Select:
    """`stmt` narrowed to the errors of the same group as `first`; `whole_kind`: of the same
    column and message, whatever their value."""
    def same(column: Any, value: Any) -> ColumnElement[bool]:
        return column.is_(None) if value is None else column == value

    conditions = [same(ImportRowError.column, first.column),
                  same(ImportRowError.message_id, first.message_id)]
    if first.message_id is None:
        conditions.append(ImportRowError.message == first.message)
    elif is_by_value(first) and not whole_kind:
        conditions.append(same(ImportRowError.value, first.value))
    return stmt.where(and_(*conditions))
