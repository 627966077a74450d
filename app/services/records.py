"""Create, update and delete any domain record: validate, apply, flush, audit."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from app import models as m
from app.entities import ENTITIES, Entity, entity_of
from app.errors import NotAllowed, NotFound, ValidationError
from app.extensions import db
from app.policies import can_change, can_create, can_delete, get_visible
from app.services.audit import audit_row, diff, record_event
from app.services.record_checks import check_record, check_values, resolve_ref
from app.services.record_rules import chunks, line_totals, partners_of_accounts, snapshot
from app.services.webhook_outbox import enqueue
from app.tenancy import current_actor


def create_record(entity: Entity, data: dict[str, Any]) -> Any:
    """Create a record of `entity` from python values (refs as ids), custom and lines."""
    record = entity.model()
    _check_allowed(can_create(_user(), entity.model), record)
    record.custom = {}
    with db.session.no_autoflush:
        _apply(entity, record, data, partial=False)
    db.session.add(record)
    _flush(entity)
    _check_in_sight(entity, record)
    record_event("create", entity.name, record.id, None, snapshot(entity, record))
    return record


def update_record(record: Any, data: dict[str, Any], *, partial: bool = True) -> Any:
    """Apply changes to a record; with `partial`, fields not given are left as they are."""
    entity = entity_of(record)
    _check_allowed(can_change(_user(), record), record)
    before = snapshot(entity, record)
    # Flush only in _flush, where a duplicate number becomes a message instead of a 500.
    with db.session.no_autoflush:
        _apply(entity, record, data, partial=partial)
    _flush(entity)
    _check_in_sight(entity, record)
    old, new = diff(before, snapshot(entity, record))
    if new or old:
        record_event("update", entity.name, record.id, old, new)
    return record


def delete_record(record: Any) -> None:
    """Delete a record; a customer that still has documents or contacts is kept."""
    entity = entity_of(record)
    _check_allowed(can_delete(_user(), record), record, deleting=True)
    if isinstance(record, m.Account):
        _check_account_unused(record)
    before = snapshot(entity, record)
    record_id = record.id
    _detach_references(entity, record_id)
    db.session.delete(record)
    _flush(entity)
    record_event("delete", entity.name, record_id, before, None)


def _user() -> Any:
    """The acting user (or partner's token) whose policy applies; None for platform work
    (feeds, jobs, the CLI), which is not restricted."""
    return current_actor().user


def _check_allowed(allowed: bool, record: Any, *, deleting: bool = False) -> None:
    """Refuse what app/policies.py does not allow the acting user: NotFound for a record he
    may not see, NotAllowed (with the reason) for one he sees."""
    user = _user()
    if allowed or user is None:
        return
    if record.id is not None and get_visible(type(record), record.id, user) is None:
        raise NotFound()
    if deleting and can_change(user, record):
        raise NotAllowed(_("Records you cannot see depend on this one: the tenant's staff can "
                           "delete it."))
    raise refusal(type(record))


def refusal(model: type) -> NotAllowed:
    """The refusal of a write the acting user may not make on a record of `model`."""
    if model is m.Partner:
        return NotAllowed(_("Partners are managed by the tenant's staff: you may not change "
                            "them."))
    return NotAllowed(_("You may not change this record."))


def _check_in_sight(entity: Entity, record: Any) -> None:
    """A restricted user (an agent, a partner's token) writes only records that stay within
    his sight: not another partner's, nobody's, nor a draft."""
    user = _user()
    if user is None or user.is_staff or get_visible(entity.model, record.id, user):
        return
    key = "partner" if any(f.name == "partner" for f in entity.fields) else ""
    raise ValidationError({key: _("A partner's token can only write records of its partner.")})


def _detach_references(entity: Entity, record_id: int) -> None:
    """Records pointing at a record about to be deleted lose the reference, as the database
    would empty it (ON DELETE SET NULL), but as a change of theirs: their updated_at moves,
    so that a client syncing by updated_since sees it, and each is audited (and announced)."""
    now = datetime.now(UTC)
    for other in ENTITIES.values():
        for field in other.fields:
            if field.type != "ref" or field.ref != entity.name:
                continue
            model, attr = other.model, field.attr
            ids = db.session.scalars(select(model.id).where(
                getattr(model, attr) == record_id).order_by(model.id)).all()
            for chunk in chunks(ids):
                db.session.execute(update(model).where(model.id.in_(chunk))
                                   .values({attr: None, "updated_at": now})
                                   .execution_options(synchronize_session="fetch"))
                audits = [audit_row("update", other.name, i, {attr: record_id}, {attr: None}, now)
                          for i in chunk]
                db.session.execute(insert(m.AuditEvent), audits)
                enqueue(audits)


def _check_account_unused(account: m.Account) -> None:
    # Files too: the database would delete them with the customer (ON DELETE CASCADE).
    for name in ("contacts", "deals", "quotes", "orders", "contracts", "deliveries", "invoices",
                 "attachments"):
        model = ENTITIES[name].model
        if db.session.scalar(select(model.id).where(model.account_id == account.id).limit(1)):
            raise ValidationError({"": _(
                "This customer still has %(entity)s: delete or move them first.",
                entity=str(ENTITIES[name].label).lower())})


def _flush(entity: Entity) -> None:
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise ValidationError(integrity_errors(exc)) from exc


def integrity_errors(exc: Exception) -> dict[str, str]:
    """What a refused write (SQLAlchemy's error or the driver's) means for the user: a
    number or a reference already used."""
    message = str(getattr(exc, "orig", exc)).lower()
    if "number" in message:
        return {"number": _("This number is already used.")}
    if "external_ref" in message:
        return {"external_ref": _("This reference is already used.")}
    return {"": _("The record conflicts with another one.")}


def _apply(entity: Entity, record: Any, data: dict[str, Any], *, partial: bool) -> None:
    """Check the write by the rules every path shares, then set it on the ORM record."""
    checked = check_values(entity, data)
    for spec in entity.fields:
        raw = checked.values.get(spec.attr)
        if spec.type == "ref" and raw is not None:
            try:
                checked.values[spec.attr] = resolve_ref(spec, raw)
            except ValueError as exc:
                checked.errors[spec.name] = str(exc)
                del checked.values[spec.attr]
    current = None if record.id is None else {
        **{spec.attr: getattr(record, spec.attr) for spec in entity.fields},
        "custom": record.custom}
    check_record(entity, data, checked, current, partial=partial,
                 partner_of_account=_partner_of_account)
    if checked.errors:
        raise ValidationError(checked.errors)
    for attr, value in checked.values.items():
        setattr(record, attr, value)
    if checked.custom is not None:
        record.custom = checked.custom
    if checked.lines is not None:
        _replace_lines(entity, record, checked.lines)


def _partner_of_account(account_id: int) -> int | None:
    return partners_of_accounts([account_id]).get(account_id)


def _replace_lines(entity: Entity, record: Any, lines: list[dict[str, Any]]) -> None:
    """Replace the document's lines and recompute its totals from them."""
    record.lines = [entity.line_model(position=i, **line) for i, line in enumerate(lines)]
    for name, value in line_totals(lines).items():
        setattr(record, name, value)
