"""Reads around one record: its files, its history, suggestions for a field that points at it."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.entities import ENTITIES
from app.extensions import db
from app.models import Attachment, AuditEvent, Role, User
from app.policies import visible
from app.queries.lists import MAX_QUERY
from app.search_text import found


def attachments_of(record_type: str, record_id: int, user: Any) -> list[Attachment]:
    """The files attached to a record that `user` may see, newest first."""
    stmt = select(Attachment).where(Attachment.record_type == record_type,
                                    Attachment.record_id == record_id)
    return list(db.session.scalars(visible(stmt, Attachment, user)
                                   .order_by(Attachment.id.desc())))


def history_of(entity_name: str, record_id: int, limit: int) -> list[AuditEvent]:
    """A record's audit events, newest first."""
    stmt = (select(AuditEvent)
            .where(AuditEvent.entity == entity_name, AuditEvent.record_id == record_id)
            .order_by(AuditEvent.id.desc()).limit(limit))
    return list(db.session.scalars(stmt))


def suggestions(model: type, column: Any, q: str, user: Any, limit: int) -> list[Any]:
    """The records of `model` that `user` may see whose `column` contains `q`, by `column`;
    for users, the staff only (the ones a record can be assigned to)."""
    stmt = visible(select(model), model, user)
    if model is User:
        stmt = stmt.where(User.role.in_((Role.ADMIN, Role.SALES)))
    q = q.strip()[:MAX_QUERY]
    if q and hasattr(model, "search_text"):  # as the lists search: accents and case aside
        stmt = stmt.where(found(model, q))
    elif q:
        stmt = stmt.where(column.icontains(q, autoescape=True))
    return list(db.session.scalars(stmt.order_by(column).limit(limit)))


def record_id_by_text(ref: str, text: str) -> int | None:
    """The id a related-record field typed without the list's help names: a user by e-mail, a
    record by its external reference or else its exact title; None unless exactly one."""
    if ref == "users":
        return db.session.scalar(select(User.id).where(User.email == text.lower()).limit(1))
    model = ENTITIES[ref].model
    found = db.session.scalars(select(model.id).where(model.external_ref == text).limit(2)).all()
    if len(found) != 1:
        title = ENTITIES[ref].title_attr
        if not hasattr(model, title) or isinstance(getattr(type(model), title, None), property):
            return None
        column = getattr(model, title)
        if not hasattr(column, "expression"):
            return None
        found = db.session.scalars(select(model.id).where(column == text).limit(2)).all()
    return found[0] if len(found) == 1 else None
