"""Reads of the extranet's record pages: its lists, the related records named on a page,
the records found from another one."""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import and_, or_, select, true

from app.clock import local_today
from app.entities import Entity
from app.extensions import db
from app.models import Account, CustomField
from app.policies import visible
from app.queries.lists import MAX_QUERY, ListQuery, build_list
from app.search_text import word_clause, words


def portal_list(entity: Entity, args: Mapping[str, str], user: Any, *,
                hidden: Collection[str], ignored: Collection[str],
                custom: list[CustomField]) -> ListQuery:
    """The back office's list query without filters or sorts on `hidden` fields nor the
    `ignored` arguments, searching `q` in the record's fields (its external reference aside)
    and its customer's."""
    clean = {k: v for k, v in args.items() if k not in ignored
             and k not in hidden and k.rsplit("_", 1)[0] not in hidden}
    if clean.get("sort", "").lstrip("-") in hidden:
        clean.pop("sort")
    query = build_list(entity, clean, user, custom, today=local_today())
    q = (args.get("q") or "").strip()[:MAX_QUERY]
    if q:
        query.active = {"q": q, **query.active}
        query.stmt = query.stmt.where(_search_clause(entity, q, user))
    return query


def _search_clause(entity: Entity, q: str, user: Any) -> Any:
    """Every word of `q` in the record's search text before its external reference (the
    tenant's bookkeeping), or in its customer's (name, e-mail, city…)."""
    model = entity.model
    found = []
    for word in words(q):
        clauses = [word_clause(model, word, public_only=True)]
        if hasattr(model, "account_id"):
            # Only customers the user may see are searched by name: a document's customer
            # out of his sight must not be found (and so guessed) by its name.
            customers = visible(select(Account.id).where(
                word_clause(Account, word, public_only=True), Account.archived_at.is_(None)),
                Account, user)
            clauses.append(model.account_id.in_(customers))
        found.append(or_(*clauses))
    return and_(true(), *found)


def shown_ids(model: type, ids: Collection[int], user: Any) -> list[int]:
    """Those of `ids` that `user` may see and that are not archived."""
    stmt = select(model.id).where(model.id.in_(ids), model.archived_at.is_(None))
    return list(db.session.scalars(visible(stmt, model, user)))


def pointing_at(model: type, column: str, record_id: int, user: Any, limit: int) -> list[Any]:
    """Up to `limit` records of `model` whose `column` points at `record_id`, that `user`
    may see and that are not archived, newest first."""
    stmt = select(model).where(getattr(model, column) == record_id, model.archived_at.is_(None))
    return list(db.session.scalars(visible(stmt, model, user)
                                   .order_by(model.id.desc()).limit(limit)))
