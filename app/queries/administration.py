"""Reads of the administration pages: the tenant's users, custom fields and API tokens."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import ApiToken, CustomField, User
from app.policies import visible


def users() -> list[User]:
    """The tenant's users, by e-mail."""
    return list(db.session.scalars(select(User).order_by(User.email)))


def custom_fields() -> list[CustomField]:
    """Every custom field of the tenant, inactive ones too, by entity and position."""
    return list(db.session.scalars(select(CustomField).order_by(
        CustomField.entity, CustomField.position, CustomField.id)))


def custom_fields_select(entity: str | None, principal: Any) -> Select:
    """The custom fields `principal` may see, of one entity or all (the API's list)."""
    stmt = select(CustomField)
    if entity:
        stmt = stmt.where(CustomField.entity == entity)
    return visible(stmt, CustomField, principal)


def api_tokens() -> list[ApiToken]:
    """The tenant's API tokens, revoked ones too, newest first."""
    return list(db.session.scalars(select(ApiToken).options(selectinload(ApiToken.partner))
                                   .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))
