"""Erasure: a whole tenant deleted, or one person anonymised with the history kept.

A tenant that leaves is deleted row by row under its own context (the tenancy guards still
apply), its files removed only once the deletion is committed, and the deletion recorded at
platform level, where it outlives the tenant. A person (a contact, a subscriber's login) who
exercises the right to erasure keeps his place in the history, without his personal data: the
audit trail and the webhook payloads about him lose the values, not the events.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import delete, select

from app.extensions import db
from app.models import (
    Attachment,
    AuditEvent,
    Contact,
    PlatformEvent,
    Role,
    Tenant,
    User,
    WebhookDelivery,
)
from app.services.attachments import delete_attachment, storage_path
from app.services.audit import record_event
from app.services.tenant_export import tenant_models
from app.tenancy import current_actor, current_tenant_id

# What identifies a person, per kind of record; everything else (ids, account, dates) stays.
CONTACT_PERSONAL = ("first_name", "last_name", "email", "phone", "job_title", "custom")
USER_PERSONAL = ("email", "full_name")
ANONYMISED = "anonymised"


def delete_tenant_rows(tenant: Tenant) -> list[Path]:
    """Delete every row of the bound tenant and the tenant itself; the caller commits, then
    removes the returned folders (files go only once the rows are surely gone)."""
    assert current_tenant_id() == tenant.id
    counts: dict[str, int] = {}
    for model in reversed(tenant_models()):
        result = db.session.execute(
            delete(model).execution_options(synchronize_session=False))
        counts[model.__tablename__] = result.rowcount or 0
    db.session.add(PlatformEvent(
        action="tenant_deleted", tenant_ref=tenant.id, tenant_slug=tenant.slug,
        actor_label=current_actor().label[:254],
        details={"name": tenant.name, "rows": {k: v for k, v in counts.items() if v}}))
    db.session.delete(tenant)
    db.session.flush()
    files = Path(current_app.config["FILES_DIR"])
    return [files / str(tenant.id), files / "imports" / str(tenant.id)]


def _scrub(value: Any, keys: tuple[str, ...], values: set[str]) -> Any:
    """`value` with every personal key emptied and every personal string replaced."""
    if isinstance(value, dict):
        return {k: (None if k in keys else _scrub(v, keys, values)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, keys, values) for v in value]
    if isinstance(value, str) and value in values:
        return ANONYMISED
    return value


def _scrub_history(entity: str, record_id: int, keys: tuple[str, ...], values: set[str]) -> None:
    """The record's audit events and webhook payloads keep their shape, not the person."""
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == entity, AuditEvent.record_id == record_id))
    for event in events:
        event.before = _scrub(event.before, keys, values) if event.before else event.before
        event.after = _scrub(event.after, keys, values) if event.after else event.after
    deliveries = db.session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.entity == entity, WebhookDelivery.record_id == record_id))
    for delivery in deliveries:
        delivery.payload = _scrub(delivery.payload, keys, values)


def _personal_values(record: Any, keys: tuple[str, ...]) -> set[str]:
    return {v for k in keys if isinstance(v := getattr(record, k, None), str) and v.strip()}


def anonymise_contact(contact: Contact) -> list[Path]:
    """Clear a contact's personal fields and files; his history stays, without them.

    Returns the stored files to remove once the change is committed."""
    values = _personal_values(contact, CONTACT_PERSONAL)
    _scrub_history("contacts", contact.id, CONTACT_PERSONAL, values)
    attachments = db.session.scalars(select(Attachment).where(
        Attachment.record_type == "contacts", Attachment.record_id == contact.id)).all()
    files = _unshared_files(attachments)
    for attachment in attachments:
        delete_attachment(attachment)
    contact.first_name = None
    contact.last_name = ANONYMISED
    contact.email = contact.phone = contact.job_title = None
    contact.custom = {}
    db.session.flush()
    record_event("anonymise", "contacts", contact.id, None, {"fields": list(CONTACT_PERSONAL)})
    return files


def anonymise_subscriber(user: User) -> None:
    """A subscriber's login loses its name and e-mail and can no longer open; the audit trail
    names it by number."""
    if user.role != Role.SUBSCRIBER:
        raise ValueError("only a subscriber's login is anonymised this way")
    values = _personal_values(user, USER_PERSONAL)
    label = f"{ANONYMISED} #{user.id}"
    _scrub_history("users", user.id, USER_PERSONAL, values)
    for event in db.session.scalars(select(AuditEvent).where(
            AuditEvent.actor_kind == "user", AuditEvent.actor_id == user.id)):
        event.actor_label = label
    user.email = f"{ANONYMISED}-{user.id}@invalid"
    user.full_name = ""
    user.password_hash = None
    user.locale = None
    user.is_active = False
    user.last_login_at = None
    db.session.flush()
    record_event("anonymise", "users", user.id, None, {"fields": list(USER_PERSONAL)})


def _unshared_files(attachments: list[Attachment]) -> list[Path]:
    """Files are stored by content: keep those another attachment (or the logo) still uses."""
    ids = [a.id for a in attachments]
    paths = []
    for sha256 in {a.sha256 for a in attachments}:
        shared = db.session.scalar(select(Attachment.id).where(
            Attachment.sha256 == sha256, Attachment.id.not_in(ids)).limit(1))
        logo = db.session.scalar(select(Tenant.id).where(
            Tenant.id == current_tenant_id(), Tenant.logo_sha256 == sha256))
        if shared is None and logo is None:
            paths.append(storage_path(current_tenant_id(), sha256))
    return paths


def remove_files(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
