"""Erasure: a whole tenant deleted, or one person anonymised with the history kept.

A tenant that leaves is deleted row by row under its own context (the tenancy guards still
apply), its files removed only once the deletion is committed, and the deletion recorded at
platform level, where it outlives the tenant. A process that stops between the commit and the
removal leaves folders that no row points at: the deletion's platform event says whose they
are, and `remove_deleted_tenant_files` (a re-run of the deletion, a periodic job) removes them.

A person (a contact, a subscriber's login and his account when it is a person's) who exercises
the right to erasure keeps his place in the history, without his personal data: the audit
trail and the webhook payloads about him lose the values, not the events. So do the traces of
selling online: his subscriptions' copies of his details, the signing links sent to him, the
mails waiting for him, and the evidence of his signatures that did not sign anything. The
evidence of a signature that did sign (a contract, an accepted quote) is kept whole, as the
signed documents are: it is what proves the contract, and the law lets it be kept for that.
"""
from __future__ import annotations

import json
import re
import shutil
import string
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import String, cast, delete, false, func, or_, select

from app.entities import ENTITIES
from app.errors import ValidationError
from app.extensions import db
from app.models import (
    Account,
    Activity,
    Attachment,
    AuditEvent,
    Contact,
    ImportProfile,
    ImportRowError,
    ImportRun,
    OutgoingMail,
    PlatformEvent,
    Quote,
    QuoteSigningLink,
    Role,
    Signature,
    Subscription,
    Tenant,
    User,
    WebhookDelivery,
)
from app.search_text import search_text, searched_fields
from app.services.attachments import delete_attachment, storage_path
from app.services.audit import record_event
from app.services.sessions import end_all_sessions
from app.services.tenant_export import tenant_models
from app.tenancy import current_actor, current_tenant_id

# What identifies a person, per kind of record; everything else (ids, account, dates) stays.
CONTACT_PERSONAL = ("first_name", "last_name", "email", "phone", "job_title", "custom")
ACCOUNT_PERSONAL = ("name", "email", "phone", "address_line", "postal_code", "city", "vat_number",
                    "custom")
USER_PERSONAL = ("email", "full_name")
ANONYMISED = "anonymised"


def live_work() -> dict[str, int]:
    """What is still under way for the bound tenant: import runs queued or running, webhook
    deliveries waiting; deleting under them would pull rows and files from a worker."""
    runs = db.session.scalar(select(func.count(ImportRun.id)).where(
        ImportRun.status.in_(("queued", "running"))))
    deliveries = db.session.scalar(select(func.count(WebhookDelivery.id)).where(
        WebhookDelivery.status == "pending"))
    return {k: v for k, v in (("import runs", runs), ("webhook deliveries", deliveries)) if v}


def tenant_folders(tenant_id: int) -> list[Path]:
    """Where a tenant's files are: its attachments and logo, its import files, its feed
    accounts' folders (the SFTP inbox)."""
    files = Path(current_app.config["FILES_DIR"])
    return [files / str(tenant_id), files / "imports" / str(tenant_id),
            Path(current_app.config["FEED_STORAGE_DIR"]) / str(tenant_id)]


def delete_tenant_rows(tenant: Tenant) -> None:
    """Delete every row of the bound tenant and the tenant itself; the caller commits, then
    calls remove_deleted_tenant_files (files go only once the rows are surely gone)."""
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


def was_deleted(slug: str) -> bool:
    """No tenant has `slug` now, and one that had it was deleted."""
    if db.session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        return False
    return db.session.scalar(select(PlatformEvent.id).where(
        PlatformEvent.action == "tenant_deleted", PlatformEvent.tenant_slug == slug)
        .limit(1)) is not None


def remove_deleted_tenant_files(by: str, slug: str | None = None) -> dict[str, list[Path]]:
    """Remove the folders that deleted tenants (of `slug`, or all) left under FILES_DIR, and
    record each removal at platform level; the caller commits. Only a tenant whose deletion
    is recorded and whose id no tenant has is looked at: existing tenants' files, and folders
    this database knows nothing of, are never touched. Returns the folders that remain, by
    slug (the disk refused them: the next run tries again)."""
    deleted = (select(PlatformEvent.tenant_ref, PlatformEvent.tenant_slug)
               .where(PlatformEvent.action == "tenant_deleted",
                      PlatformEvent.tenant_ref.not_in(select(Tenant.id)))
               .distinct().order_by(PlatformEvent.tenant_ref))
    if slug is not None:
        deleted = deleted.where(PlatformEvent.tenant_slug == slug)
    remaining: dict[str, list[Path]] = {}
    for tenant_ref, tenant_slug in db.session.execute(deleted).all():
        left = [path for path in tenant_folders(tenant_ref) if path.exists()]
        remove_files(left)
        removed = [path for path in left if not path.exists()]
        if removed:
            root = Path(current_app.config["FILES_DIR"])
            db.session.add(PlatformEvent(
                action="tenant_files_removed", tenant_ref=tenant_ref, tenant_slug=tenant_slug,
                actor_label=by[:254],
                details={"folders": [path.relative_to(root).as_posix()
                                     if path.is_relative_to(root) else str(path)
                                     for path in removed]}))
        if len(removed) < len(left):
            remaining[tenant_slug] = [path for path in left if path.exists()]
    db.session.flush()
    return remaining


def _scrub(value: Any, keys: tuple[str, ...], values: set[str]) -> Any:
    """`value` with every personal key emptied and every personal string replaced."""
    if isinstance(value, dict):
        return {k: (None if k in keys else _scrub(v, keys, values)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, keys, values) for v in value]
    if isinstance(value, str) and value in values:
        return ANONYMISED
    return value


def _scrub_events(stmt: Any, keys: tuple[str, ...], values: set[str]) -> None:
    for event in db.session.scalars(stmt):
        event.before = _scrub(event.before, keys, values) if event.before else event.before
        event.after = _scrub(event.after, keys, values) if event.after else event.after


def _scrub_history(entity: str, record_ids: list[int], keys: tuple[str, ...],
                   values: set[str]) -> None:
    """The records' audit events and webhook payloads keep their shape, not the person."""
    if not record_ids:
        return
    _scrub_events(select(AuditEvent).where(
        AuditEvent.entity == entity, AuditEvent.record_id.in_(record_ids)), keys, values)
    deliveries = db.session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.entity == entity, WebhookDelivery.record_id.in_(record_ids)))
    for delivery in deliveries:
        delivery.payload = _scrub(delivery.payload, keys, values)


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# A row error's values that come from the row (its key, the cell, the reference it names, a
# document's name): the message's other values are the profile's (a column, the choices).
ROW_PARAMS = ("key", "value", "ref", "name")


def _mentioning(column: Any, values: set[str]) -> Any:
    """Rows whose JSON or text `column` may hold one of `values`, in any case (JSON as
    text): the candidates, which `_Identity` then tells apart. SQLite's lower() folds ASCII
    letters only, and its JSON keeps accents escaped ("H\\u00e9l\\u00e8ne"): those
    spellings are looked for too, in small letters and in capitals."""
    text = func.lower(cast(column, String))
    spellings = {spelling.translate(_ASCII_LOWER)
                 for v in values for form in (v, v.lower(), v.upper())
                 for spelling in (form, json.dumps(form)[1:-1])}
    return or_(false(), *(text.contains(s, autoescape=True) for s in spellings))


def _scrub_row_errors(who: _Identity) -> None:
    """An import's failed rows that are the person's keep their line and message, not his
    cells, nor his values in the message (a repeated key that is his e-mail). A row is his
    when a cell is his e-mail (or holds it), his phone (its digits), his reference in a feed
    of his kind of record, or his full name (each part a cell of its own): his town, his job
    or a choice he shares with others, or "Martin" in "Martine", make nobody's row his."""
    if not who.texts:
        return
    stmt = select(ImportRowError).where(or_(*(
        _mentioning(column, who.texts) for column in (
            ImportRowError.raw, ImportRowError.value, ImportRowError.message_params))))
    runs: set[int] = set()
    for row in db.session.scalars(stmt):
        params = dict(row.message_params or {})
        named = [name for name in ROW_PARAMS if who.names(params.get(name), row.run_id)]
        if not named and not who.owns([row.value, *(row.raw or [])], row.run_id):
            continue  # another person's row, or his value in a message's choices
        row.raw = None
        row.value = None
        message = row.message or ""
        for name in named:
            message = message.replace(params[name], ANONYMISED)
            params[name] = ANONYMISED
        if named:
            row.message, row.message_params = message, params
        runs.add(row.run_id)
    # Their runs' errors by kind are counted again when next read, without the values.
    for run in db.session.scalars(select(ImportRun).where(ImportRun.id.in_(runs))):
        run.error_groups = None


def _scrub_changes_shown(who: _Identity, keys: tuple[str, ...], values: set[str]) -> None:
    """The changes a run shows of its first updated rows (its diff sample) lose the
    person's values where the row was his: keyed by his reference or e-mail."""
    own = {text for text in (who.reference, *who.emails) if text}
    if not own:
        return
    runs = db.session.scalars(select(ImportRun).where(
        ImportRun.profile_id.in_(who.profiles), _mentioning(ImportRun.diff_sample, own)))
    for run in runs:
        sample = [dict(diff) for diff in run.diff_sample or []]
        changed = False
        for diff in sample:
            if str(diff.get("key") or "").strip().casefold() not in own:
                continue
            diff["key"] = ANONYMISED
            diff["before"] = _scrub(diff.get("before"), keys, values)
            diff["after"] = _scrub(diff.get("after"), keys, values)
            changed = True
        if changed:
            run.diff_sample = sample


class _Identity:
    """What tells the person's traces in imports from others': his e-mail, phone and
    reference (in the feeds of his kind of record: a customer's "C001" is any contact's
    customer elsewhere), his full name."""

    def __init__(self, entity: str, record: Any) -> None:
        self.emails = {e.strip().casefold() for e in [getattr(record, "email", None)]
                       if isinstance(e, str) and "@" in e}
        phone = getattr(record, "phone", None)
        self.phone = _digits(phone) if isinstance(phone, str) else ""
        ref = record.external_ref
        self.reference = ref.strip().casefold() if isinstance(ref, str) and ref.strip() else ""
        parts = [getattr(record, name, None) for name in (
            ("first_name", "last_name") if entity == "contacts" else ("name",))]
        self.full_name = [p.strip().casefold() for p in parts
                          if isinstance(p, str) and p.strip()]
        self.profiles = select(ImportProfile.id).where(ImportProfile.entity == entity)
        self.own_runs = set(db.session.scalars(select(ImportRun.id).where(
            ImportRun.profile_id.in_(self.profiles)))) if self.reference else set()
        self.texts = {t for t in (*self.emails, phone if self.phone else None,
                                  ref if self.reference else None, *parts)
                      if isinstance(t, str) and len(t.strip()) >= 2}

    def _is_his(self, cell: str, run_id: int) -> bool:
        folded = cell.strip().casefold()
        if any(email in folded for email in self.emails):
            return True
        if self.phone and len(digits := _digits(cell)) >= 6 and digits == self.phone:
            return True
        return bool(self.reference) and folded == self.reference and run_id in self.own_runs

    def owns(self, cells: list[Any], run_id: int) -> bool:
        texts = [c for c in cells if isinstance(c, str) and c.strip()]
        if any(self._is_his(cell, run_id) for cell in texts):
            return True
        folded = {c.strip().casefold() for c in texts}
        return bool(self.full_name) and all(part in folded for part in self.full_name) \
            and (len(self.full_name) > 1 or " " in self.full_name[0])

    def names(self, param: Any, run_id: int) -> bool:
        """Whether a message's value is his, or one of his cut short ("jean.dupont@exa…": a
        message shows a long value's start)."""
        if not isinstance(param, str) or not param.strip():
            return False
        if self._is_his(param, run_id):
            return True
        start = param.removesuffix("…").casefold()
        return len(start) >= 6 and any(email.startswith(start) for email in self.emails)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _personal_values(record: Any, keys: tuple[str, ...]) -> set[str]:
    found = {v for k in keys if isinstance(v := getattr(record, k, None), str) and v.strip()}
    custom = getattr(record, "custom", None) or {}
    found |= {v for v in custom.values() if isinstance(v, str) and v.strip()}
    return found


def _erase_record_files(entity: str, record: Any, values: set[str]) -> list[Path]:
    """Delete the record's attachments (their events lose the file names); return the stored
    files to remove once committed. `values` gains the file names, to scrub elsewhere."""
    attachments = db.session.scalars(select(Attachment).where(
        Attachment.record_type == entity, Attachment.record_id == record.id)).all()
    files = _unshared_files(attachments)
    attachment_ids = [a.id for a in attachments]
    values |= {a.file_name for a in attachments}
    for attachment in attachments:
        delete_attachment(attachment)
    _scrub_history("attachments", attachment_ids, ("file_name",), values)
    return files


def _erase_activity_mentions(entity: str, record: Any, values: set[str]) -> None:
    """The activities on the person keep their kind and dates, not what names him: his name,
    e-mail or phone in a subject or a note becomes "anonymised"; their history loses both."""
    column = Activity.contact_id if entity == "contacts" else Activity.account_id
    values = {v for v in values if len(v.strip()) >= 2}
    activities = list(db.session.scalars(select(Activity).where(column == record.id)))
    changed = []
    for activity in activities:
        subject, body = (_replaced(activity.subject, values), _replaced(activity.body, values))
        if (subject, body) != (activity.subject, activity.body):
            activity.subject, activity.body = subject, body
            changed.append(activity)
    if not changed:
        return
    db.session.flush()
    _scrub_history("activities", [a.id for a in changed], ("subject", "body"), values)
    for activity in changed:
        record_event("anonymise", "activities", activity.id, None,
                     {"subject": activity.subject, "body": activity.body})


def _replaced(text: str | None, values: set[str]) -> str | None:
    """`text` with each of `values` (in any case) replaced by "anonymised"."""
    if not text:
        return text
    for value in sorted(values, key=len, reverse=True):  # a full name before its parts
        text = re.sub(re.escape(value), ANONYMISED, text, flags=re.IGNORECASE)
    return text


def _anonymise(entity: str, record: Any, keys: tuple[str, ...],
               cleared: dict[str, Any]) -> list[Path]:
    """Clear a record's personal fields and files; his history stays, without them: audit
    events, webhook payloads, his files' events and the failed import rows that held him."""
    values = _personal_values(record, keys)
    if record.external_ref in values:  # a reference that is the person's e-mail or phone
        record.external_ref = None
    files = _erase_record_files(entity, record, values)
    _erase_activity_mentions(entity, record, values | {getattr(record, "name", "") or ""})
    _scrub_history(entity, [record.id], keys, values)
    who = _Identity(entity, record)
    _scrub_row_errors(who)
    _scrub_changes_shown(who, keys, values)
    for key, value in cleared.items():
        setattr(record, key, value)
    # Search no longer finds him by what was erased (app/search_text.py).
    spec = ENTITIES[entity]
    record.search_text = search_text(spec, {name: getattr(record, name)
                                            for name in searched_fields(spec)})
    db.session.flush()
    # Announced as a change of the record (<entity>.updated), so copies downstream follow.
    record_event("anonymise", entity, record.id, None, cleared)
    return files


SUBSCRIPTION_PERSONAL = ("first_name", "last_name", "street", "building_number",
                         "postal_code", "town", "email", "phone", "iban", "bic", "custom",
                         "ip", "user_agent", "name")
LINK_PERSONAL = ("to", "email", "phone", "signer", "name")


def _erase_selling_traces(values: set[str], *, account_id: int | None = None,
                          contact_id: int | None = None) -> list[Path]:
    """The person's subscriptions, signing links, waiting mails and unsigned signatures lose
    what names him; a signed signature's evidence stays. Returns the files to remove (the
    contracts he reviewed without signing)."""
    emails = {v.lower() for v in values if "@" in v}
    who = [Subscription.email.in_(list(emails))] if emails else []
    if account_id is not None:
        who.append(Subscription.account_id == account_id)
    if contact_id is not None:
        who.append(Subscription.contact_id == contact_id)
    subscriptions = list(db.session.scalars(select(Subscription).where(or_(false(), *who))))
    quote_ids = list(db.session.scalars(select(Quote.id).where(
        Quote.account_id == account_id))) if account_id is not None else []
    links = list(db.session.scalars(select(QuoteSigningLink).where(or_(
        false(), func.lower(QuoteSigningLink.recipient_email).in_(list(emails)) if emails
        else false(), QuoteSigningLink.quote_id.in_(quote_ids)))))
    signatures = list(db.session.scalars(select(Signature).where(or_(
        false(), func.lower(Signature.signer_email).in_(list(emails)) if emails else false(),
        (Signature.subject_type == "subscription")
        & Signature.subject_id.in_([s.id for s in subscriptions]),
        (Signature.subject_type == "quote")
        & Signature.subject_id.in_(quote_ids + [link.quote_id for link in links])))))
    values = values | {v for s in subscriptions
                       for v in (s.email, s.phone, s.iban, s.name, s.street) if v}
    values |= {s.signer_name for s in signatures if s.signer_name}
    # The texts waiting for his phones (as the links, signatures and subscriptions knew them).
    phones = {phone for phone in (*(s.phone for s in subscriptions),
                                  *(link.recipient_phone for link in links),
                                  *(s.signer_phone for s in signatures)) if phone}
    files: list[Path] = []
    for subscription in subscriptions:
        if subscription.status != "signed" and subscription.reviewed_sha256:
            files += _unused_file(subscription.reviewed_sha256)
        for key in ("first_name", "street", "building_number", "postal_code", "town", "email",
                    "phone", "iban", "bic", "ip", "user_agent"):
            setattr(subscription, key, "")
        subscription.last_name, subscription.custom = ANONYMISED, {}
    for link in links:
        link.recipient_email, link.recipient_phone, link.mandate_data = ANONYMISED, None, None
    for signature in signatures:
        if signature.status == "signed":
            continue  # the evidence of a signed contract or quote: kept (docs/operations.md)
        files += _unused_file(signature.document_sha256)
        signature.signer_name, signature.signer_email = ANONYMISED, ""
        signature.signer_phone = None
        signature.events = [{**event, "ip": "", "user_agent": ""}
                            for event in signature.events or ()]
    if emails or phones:
        for waiting in db.session.scalars(select(OutgoingMail).where(or_(
                (OutgoingMail.channel == "email")
                & func.lower(OutgoingMail.recipient).in_(list(emails)),
                (OutgoingMail.channel == "sms") & OutgoingMail.recipient.in_(list(phones))))):
            if waiting.status == "pending":
                waiting.status, waiting.last_error = "failed", "recipient erased"
            waiting.recipient, waiting.message_sealed = ANONYMISED, None
    db.session.flush()
    _scrub_history("subscriptions", [s.id for s in subscriptions], SUBSCRIPTION_PERSONAL,
                   values)
    _scrub_history("quotes", sorted({link.quote_id for link in links} | set(quote_ids)),
                   LINK_PERSONAL, values)
    return files


def _unused_file(sha256: str | None) -> list[Path]:
    """The stored file of `sha256`, unless an attachment (or the logo) uses it."""
    if not sha256:
        return []
    used = db.session.scalar(select(Attachment.id).where(Attachment.sha256 == sha256).limit(1))
    logo = db.session.scalar(select(Tenant.id).where(
        Tenant.id == current_tenant_id(), Tenant.logo_sha256 == sha256))
    return [] if used is not None or logo is not None else \
        [storage_path(current_tenant_id(), sha256)]


def anonymise_contact(contact: Contact) -> list[Path]:
    """Clear a contact's personal data, history kept; returns the stored files to remove once
    the change is committed."""
    values = _personal_values(contact, CONTACT_PERSONAL)
    files = _erase_selling_traces(values, contact_id=contact.id)
    return files + _anonymise("contacts", contact, CONTACT_PERSONAL, {
        "first_name": None, "last_name": ANONYMISED, "email": None, "phone": None,
        "job_title": None, "custom": {}})


def anonymise_person_account(account: Account) -> list[Path]:
    """Clear a private customer's name, contact details, address and files, history kept;
    a company's account holds no person and is refused."""
    if account.kind != "person":
        raise ValueError("only an account of a person is anonymised")
    values = _personal_values(account, ACCOUNT_PERSONAL)
    files = _erase_selling_traces(values, account_id=account.id)
    return files + _anonymise("accounts", account, ACCOUNT_PERSONAL, {
        "name": ANONYMISED, "email": None, "phone": None, "address_line": None,
        "postal_code": None, "city": None, "vat_number": None, "custom": {}})


def anonymise_customer(account: Account) -> list[Path]:
    """Erase a private customer who has no extranet login, history kept; returns the stored
    files to remove once committed. A subscriber's account goes with his login's erasure
    (anonymise_subscriber), which closes the login too; a company's holds no person."""
    if account.kind != "person":
        raise ValidationError({"": _("Only a private person's account holds personal data "
                                     "to erase; erase its contacts one by one.")})
    subscriber = db.session.scalar(select(User.id).where(
        User.role == Role.SUBSCRIBER, User.account_id == account.id,
        User.email.not_like(f"{ANONYMISED}-%@invalid")).limit(1))
    if subscriber is not None:
        raise ValidationError({"": _("This customer has an extranet login: erase the "
                                     "subscriber in Users, his account is erased with him.")})
    return anonymise_person_account(account)


def anonymise_subscriber(user: User) -> list[Path]:
    """A subscriber's login loses its name and e-mail and can no longer open; the audit trail
    names it by number. His account, when it is a person's (he is the customer), is
    anonymised too. Returns the stored files to remove once committed."""
    if user.role != Role.SUBSCRIBER:
        raise ValueError("only a subscriber's login is anonymised this way")
    values = _personal_values(user, USER_PERSONAL)
    label = f"{ANONYMISED} #{user.id}"
    _scrub_history("users", [user.id], USER_PERSONAL, values)
    # Failed logins and lockouts name the e-mail typed, often with no user attached.
    _scrub_events(select(AuditEvent).where(
        AuditEvent.entity == "users", or_(AuditEvent.record_id == user.id,
                                          AuditEvent.record_id.is_(None)),
        _mentioning(AuditEvent.after, values)), ("email",), values)
    for event in db.session.scalars(select(AuditEvent).where(
            AuditEvent.actor_kind == "user", AuditEvent.actor_id == user.id)):
        event.actor_label = label
    user.email = f"{ANONYMISED}-{user.id}@invalid"
    user.full_name = ""
    user.password_hash = None
    user.locale = None
    user.is_active = False
    user.last_login_at = None
    # His sessions end with his login: no row is left of a device of his.
    end_all_sessions(user)
    db.session.flush()
    record_event("anonymise", "users", user.id, None, {"fields": list(USER_PERSONAL)})
    account = db.session.scalar(select(Account).where(Account.id == user.account_id))
    if account is not None and account.kind == "person" and account.name != ANONYMISED:
        return anonymise_person_account(account)
    return []


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
