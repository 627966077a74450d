"""Invitations and password resets: signed, expiring, single-use links sent by mail.

A link carries the tenant, the user and a fingerprint of the user's password hash at the
time it was made: setting a password changes the hash, so the link dies once used, and a
reset link dies too when the password changes by any other way.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from email.message import EmailMessage
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from app import mail
from app.errors import ValidationError
from app.extensions import db
from app.models import Role, Tenant, User
from app.models.base import MAX_ID
from app.services.audit import record_event
from app.services.mail_outbox import queue_mail
from app.services.tenants import MIN_PASSWORD, create_user, find_user_by_email, update_user
from app.tenancy import Actor, bound_tenant_id, current_actor, set_actor

INVITATION = "portal-invitation"
PASSWORD_RESET = "password-reset"
PURPOSES = (INVITATION, PASSWORD_RESET)
INVITED_ROLES = (Role.AGENT.value, Role.SUBSCRIBER.value)
_NO_PASSWORD = "relais:no-password-yet"
log = logging.getLogger(__name__)


class LinkError(Exception):
    """A link that cannot be used; kind is "invalid", "expired" or "used"."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def _fingerprint(user: User) -> str:
    return hashlib.sha256((user.password_hash or _NO_PASSWORD).encode()).hexdigest()


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def make_link_token(user: User, purpose: str) -> str:
    return _serializer(purpose).dumps({"t": user.tenant_id, "u": user.id,
                                       "p": _fingerprint(user)})


def user_from_token(token: str, purpose: str) -> User:
    """The user a link was made for; LinkError when forged, expired, used or not ours."""
    try:
        payload = _serializer(purpose).loads(
            token, max_age=current_app.config["PORTAL_LINK_MAX_AGE"])
    except SignatureExpired as exc:
        raise LinkError("expired") from exc
    except BadSignature as exc:
        raise LinkError("invalid") from exc
    if not isinstance(payload, dict) or payload.get("t") != bound_tenant_id():
        raise LinkError("invalid")
    user_id = payload.get("u")
    if not isinstance(user_id, int) or not 0 < user_id <= MAX_ID:
        raise LinkError("invalid")
    user = db.session.scalar(select(User).where(User.id == user_id))
    if user is None or not user.is_active:
        raise LinkError("invalid")
    if not hmac.compare_digest(str(payload.get("p", "")), _fingerprint(user)):
        raise LinkError("used")
    return user


def _link_mail(user: User, purpose: str) -> EmailMessage:
    """The invitation or reset mail, in the user's language (else the tenant's)."""
    tenant = db.session.get(Tenant, user.tenant_id)
    hours = max(1, round(current_app.config["PORTAL_LINK_MAX_AGE"] / 3600))
    with mail.in_language(user.locale or tenant.default_locale):
        endpoint = "portal.accept_invitation" if purpose == INVITATION else "portal.reset_password"
        url = mail.external_url(endpoint, tenant=tenant.slug,
                                token=make_link_token(user, purpose))
        notes = [ngettext("This link works once and expires in %(num)d hour.",
                          "This link works once and expires in %(num)d hours.", hours)]
        if purpose == INVITATION:
            subject = _("Your access to %(name)s", name=tenant.name)
            paragraphs = [
                _("%(name)s opened an account for you on Relais.", name=tenant.name)
                if user.is_staff else
                _("%(name)s invites you to its extranet, where you follow your files.",
                  name=tenant.name),
                _("Your login is your e-mail address: %(email)s.", email=user.email)]
            action = _("Choose my password")
        else:
            subject = _("Your password for %(name)s", name=tenant.name)
            paragraphs = [_("Someone, probably you, asked to reset the password of the account "
                            "%(email)s at %(name)s.", email=user.email, name=tenant.name)]
            action = _("Choose a new password")
            notes.append(_("If you did not ask for it, ignore this e-mail: your password "
                           "stays as it is."))
        greeting = _("Hello %(name)s,", name=user.full_name) if user.full_name else _("Hello,")
        return mail.compose(user.email, subject, "link", sender_name=tenant.name,
                            greeting=greeting, paragraphs=paragraphs, action_label=action,
                            action_url=url, notes=notes, signature=tenant.name)


def invite_user(data: dict[str, Any], *, after_commit: bool = False) -> User:
    """Create an agent (partner) or subscriber (account) without password and mail a link:
    now, or (`after_commit`) through the mail outbox once the transaction commits."""
    if data.get("role") not in INVITED_ROLES:
        raise ValidationError({"role": _("Invite an agent or a subscriber.")})
    mail.ensure_configured()
    user = create_user({**data, "password": None})
    if after_commit:
        queue_mail(_link_mail(user, INVITATION), "invitation")
    else:
        mail.send(_link_mail(user, INVITATION))
    record_event("invitation_sent", "users", user.id, None, {"email": user.email})
    return user


def resend_invitation(user: User) -> None:
    """Mail a new invitation link to a user who has not chosen a password yet."""
    if user.password_hash:
        raise ValidationError({"user": _("This user has already chosen a password.")})
    if not user.is_active:
        raise ValidationError({"user": _("This user is inactive.")})
    mail.send(_link_mail(user, INVITATION))
    record_event("invitation_sent", "users", user.id, None,
                 {"email": user.email, "resent": True})


def request_password_reset(email: str) -> None:
    """Mail a reset link when an active user has this e-mail; silent either way."""
    mail.ensure_configured()
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        record_event("password_reset_requested", "users", None, None,
                     {"email": (email or "").strip()[:254], "known": False})
        return
    record_event("password_reset_requested", "users", user.id, None, {"email": user.email})
    # Composed and sent after the response: the request does the same work whether the
    # e-mail is known or not, so its timing tells nothing.
    user_id = user.id
    mail.send_later(lambda: _link_mail(db.session.get(User, user_id), PASSWORD_RESET))


def set_password_from_link(token: str, purpose: str, password: str) -> User:
    """Check the link, apply the password rules, set it and audit it (never the hash)."""
    user = user_from_token(token, purpose)
    if not password:  # update_user would keep the current one
        raise ValidationError({"password": _("Use at least %(n)d characters.", n=MIN_PASSWORD)})
    # Checked again with the user's row locked: two uses of one link at once, one wins.
    db.session.refresh(user, with_for_update=True)
    user = user_from_token(token, purpose)
    # The person holding the link acts as the user he proves to be.
    set_actor(Actor("user", user.id, user.email, user, current_actor().ip))
    update_user(user, {"password": password})
    record_event("invitation_accepted" if purpose == INVITATION else "password_reset", "users",
                 user.id, None, {"password": "set"})
    return user
