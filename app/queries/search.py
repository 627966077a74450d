"""The back office's search box: customers, contacts, documents (by number), deals and
attached files (by their name and the text read from them: a CV by a skill it names) found at
once, each kind in its own group, among the records the user may see."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.entities import ENTITIES, Entity
from app.extensions import db
from app.policies import visible
from app.queries.lists import MAX_QUERY
from app.search_text import found, words

# The kinds searched, in the order their groups show.
SEARCHED = ("accounts", "contacts", "quotes", "orders", "invoices", "deliveries", "contracts",
            "deals", "attachments")
GROUP_SIZE = 8


@dataclass
class SearchGroup:
    """Some records of one kind that match, and whether its list holds more."""

    entity: Entity
    rows: list[Any]
    more: bool


def search_everywhere(q: str, user: Any, size: int = GROUP_SIZE) -> list[SearchGroup]:
    """The groups of records `user` may see whose text holds every word of `q` (archived
    records aside, as lists hide them); the kinds with none are left out."""
    q = q.strip()[:MAX_QUERY]
    if not words(q):
        return []
    groups = []
    for name in SEARCHED:
        entity = ENTITIES[name]
        model = entity.model
        sort = entity.default_sort.lstrip("-")
        column = getattr(model, sort)
        order = column.desc() if entity.default_sort.startswith("-") else column
        stmt = visible(select(model), model, user).where(
            model.archived_at.is_(None), found(model, q))
        if hasattr(model, "account"):  # named beside each row: one query, not one per row
            stmt = stmt.options(selectinload(model.account))
        rows = list(db.session.scalars(stmt.order_by(order, model.id.desc()).limit(size + 1)))
        if rows:
            groups.append(SearchGroup(entity, rows[:size], len(rows) > size))
    return groups
