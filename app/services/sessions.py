"""Users' sessions, kept server-side so that they can be ended although the session cookie
is signed, not stored: a logout ends its own session, a new password and "sign out
everywhere" all of the user's; a copied cookie then opens nothing."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask import current_app
from sqlalchemy import ColumnElement, delete, select

from app.extensions import db
from app.models import User, UserSession
from app.models.base import utcnow
from app.services.audit import record_event


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _oldest() -> datetime:
    """Sessions opened before this have expired: a session lasts at most the session
    cookie's lifetime (PERMANENT_SESSION_LIFETIME, 31 days) from its login, used or not."""
    return utcnow() - current_app.permanent_session_lifetime


def _expired() -> ColumnElement[bool]:
    return UserSession.created_at < _oldest()


def open_session(user: User) -> str:
    """A new session of `user`; its secret, for the session cookie. The tenant's expired
    sessions go, so that the table holds about a month of logins, not all of them."""
    db.session.execute(delete(UserSession).where(_expired())
                       .execution_options(synchronize_session=False))
    secret = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, token_hash=_digest(secret)))
    db.session.flush()
    return secret


def session_user(user_id: int, secret: str) -> User | None:
    """The user of an open session; None when it was ended or has expired."""
    return db.session.scalar(
        select(User).join(UserSession, UserSession.user_id == User.id)
        .where(User.id == user_id, UserSession.token_hash == _digest(secret),
               UserSession.created_at >= _oldest()))


def close_session(user: User, secret: str | None) -> None:
    """A logout: this session ends, wherever its cookie was copied (audited)."""
    if secret:
        db.session.execute(delete(UserSession).where(UserSession.user_id == user.id,
                                                     UserSession.token_hash == _digest(secret)))
    record_event("logout", "users", user.id)


def end_all_sessions(user: User) -> None:
    """Every session of the user ends (his password changed, or he is signed out)."""
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))


def end_sessions(user: User) -> None:
    """Sign the user out everywhere (audited)."""
    end_all_sessions(user)
    record_event("sessions_ended", "users", user.id)

