"""Create, update and delete any domain record, one at a time: check by the rules every path
shares, write through the one record writer (app/services/record_batches.py), audit."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached, selectinload
from sqlalchemy.orm.util import identity_key

from app import models as m
from app.entities import ENTITIES, Entity, entity_of
from app.errors import NotAllowed, NotFound, ValidationError
from app.extensions import db
from app.policies import can_change, can_create, can_delete, get_visible
from app.services.audit import audit_row
from app.services.record_batches import RecordWriter
from app.services.record_checks import CheckedRecord, check_record, check_values, resolve_ref
from app.services.record_rules import (
    LINE_FIELDS,
    changes,
    chunks,
    new_row,
    new_snapshot,
    partners_of_accounts,
    snapshot,
)
from app.tenancy import current_actor, current_tenant_id


def create_record(entity: Entity, data: dict[str, Any]) -> Any:
    """Create a record of `entity` from python values (refs as ids), custom and lines."""
    _check_allowed(can_create(_user(), entity.model), entity.model())
    checked = _checked(entity, None, data, partial=False)
    now = datetime.now(UTC)
    row = new_row(entity, checked.values, checked.lines, checked.custom, now)
    if entity.model is m.Activity:
        row.update(_activity_author(data, row))
    writer = RecordWriter(entity)
    with _refused_as_errors():
        record_id = writer.create_one(row)
        if checked.lines:
            writer.replace_lines([(record_id, checked.lines)], [])
    record = _written(entity.model, record_id, row)
    _check_in_sight(entity, record)
    writer.audit([audit_row("create", entity.name, record_id, None,
                            new_snapshot(entity, row, checked.lines), now)])
    return record


def update_record(record: Any, data: dict[str, Any], *, partial: bool = True) -> Any:
    """Apply changes to a record; with `partial`, fields not given are left as they are."""
    entity = entity_of(record)
    _check_allowed(can_change(_user(), record), record)
    current = {**{spec.attr: getattr(record, spec.attr) for spec in entity.fields},
               "custom": record.custom}
    checked = _checked(entity, current, data, partial=partial)
    old_lines = None if checked.lines is None else [
        {name: getattr(line, name) for name in LINE_FIELDS} for line in record.lines]
    row, before, after, new_lines = changes(current, old_lines, checked.values, checked.lines,
                                            checked.custom)
    if after:
        now = datetime.now(UTC)
        writer = RecordWriter(entity)
        with _refused_as_errors():
            if not writer.update([{**row, "id": record.id, "updated_at": now}]):
                raise NotFound()  # deleted since it was read (by a revert, say)
            if new_lines:
                writer.replace_lines([(record.id, checked.lines)], [record.id])
        writer.audit([audit_row("update", entity.name, record.id, before, after, now)])
        db.session.expire(record)  # read again, as written, when next used
    _check_in_sight(entity, record)
    return record


def _activity_author(data: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Who wrote an activity (none for a feed or a token), and its owner unless given: a
    member of the staff who writes it."""
    user = _user()
    if not isinstance(user, m.User):  # a token, a feed: the audit trail names it
        return {}
    author = {"created_by_id": user.id}
    if "owner" not in data and user.is_staff:
        author["owner_id"] = user.id
    return author


def _written(model: type, record_id: int, row: dict[str, Any]) -> Any:
    """The new record as the ORM's object, from the row just written, without reading it back
    (the columns the row lacks, and the lines, load when first read)."""
    if identity_key(model, record_id) in db.session.identity_map:  # an id given again
        return db.session.get(model, record_id, populate_existing=True)
    record = model(id=record_id, tenant_id=current_tenant_id(), **row)
    make_transient_to_detached(record)
    db.session.add(record)
    return record


def delete_record(record: Any) -> None:
    """Delete a record; a customer that still has documents or contacts is kept."""
    entity = entity_of(record)
    _check_allowed(can_delete(_user(), record), record, deleting=True)
    if isinstance(record, m.Account):
        _check_accounts_unused([record.id])
    before = snapshot(entity, record)
    record_id = record.id
    now = datetime.now(UTC)
    if isinstance(record, m.Account):
        _delete_activities([record_id], now)
    _detach_references(entity, [record_id], now)
    with _refused_as_errors():
        db.session.delete(record)
        db.session.flush()
    RecordWriter(entity).audit([audit_row("delete", entity.name, record_id, before, None, now)])


def delete_records(entity: Entity, ids: list[int]) -> None:
    """Delete many records of one entity as `delete_record` deletes each (allowed, a customer
    still in use kept, references emptied, a customer's activities along, each audited), a
    chunk of ids at a time: a few statements a chunk rather than a few a record. Ids of
    records gone meanwhile are passed over."""
    model = entity.model
    now = datetime.now(UTC)
    user = _user()
    for chunk in chunks(sorted(ids)):
        stmt = select(model).where(model.id.in_(chunk)).order_by(model.id)
        if entity.line_model is not None:
            stmt = stmt.options(selectinload(model.lines))
        records = db.session.scalars(stmt).all()
        for record in records:
            _check_allowed(can_delete(user, record), record, deleting=True)
        found = [record.id for record in records]
        if not found:
            continue
        if model is m.Account:
            _check_accounts_unused(found)
        rows = [audit_row("delete", entity.name, record.id, snapshot(entity, record), None, now)
                for record in records]
        if model is m.Account:
            _delete_activities(found, now)
        _detach_references(entity, found, now)
        with _refused_as_errors():  # the lines go with them (ON DELETE CASCADE)
            db.session.execute(delete(model).where(model.id.in_(found))
                               .execution_options(synchronize_session=False))
        for record in records:
            db.session.expunge(record)
        RecordWriter(entity).audit(rows)


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


def _detach_references(entity: Entity, record_ids: list[int], now: datetime) -> None:
    """Records pointing at records about to be deleted lose the reference, as the database
    would empty it (ON DELETE SET NULL), but as a change of theirs: their updated_at moves,
    so that a client syncing by updated_since sees it, and each is audited (and announced)."""
    for other in ENTITIES.values():
        for field in other.fields:
            if field.type != "ref" or field.ref != entity.name:
                continue
            model, attr = other.model, field.attr
            pointing = db.session.execute(select(model.id, getattr(model, attr)).where(
                getattr(model, attr).in_(record_ids)).order_by(model.id)).all()
            if not pointing:
                continue
            ids = [i for i, _ref in pointing]
            writer = RecordWriter(other)
            writer.update([{"id": i, attr: None, "updated_at": now} for i in ids])
            writer.audit([audit_row("update", other.name, i, {attr: ref}, {attr: None}, now)
                          for i, ref in pointing])
            stale = [attr, "updated_at", *([field.name] if field.name in
                                           inspect(model).relationships else [])]
            for i in ids:  # the copies this session holds are read again when next used
                loaded = db.session.identity_map.get(identity_key(model, i))
                if loaded is not None:
                    db.session.expire(loaded, stale)


def _delete_activities(account_ids: list[int], now: datetime) -> None:
    """Customers' activities go with them, each audited (and announced)."""
    entity = ENTITIES["activities"]
    activities = db.session.scalars(select(m.Activity).where(
        m.Activity.account_id.in_(account_ids)).order_by(m.Activity.id)).all()
    if not activities:
        return
    rows = [audit_row("delete", entity.name, a.id, snapshot(entity, a), None, now)
            for a in activities]
    for activity in activities:
        db.session.delete(activity)
    db.session.flush()
    RecordWriter(entity).audit(rows)


def _check_accounts_unused(account_ids: list[int]) -> None:
    # Files too: the database would delete them with the customer (ON DELETE CASCADE).
    for name in ("contacts", "deals", "quotes", "orders", "contracts", "deliveries", "invoices",
                 "attachments"):
        model = ENTITIES[name].model
        if db.session.scalar(select(model.id).where(model.account_id.in_(account_ids))
                             .limit(1)):
            raise ValidationError({"": _(
                "This customer still has %(entity)s: delete or move them first.",
                entity=str(ENTITIES[name].label).lower())})


@contextmanager
def _refused_as_errors() -> Iterator[None]:
    """The write of the block in a savepoint, so that a number or a reference already used
    becomes a message on its field instead of a broken transaction."""
    try:
        with db.session.begin_nested():
            yield
    except (IntegrityError, db.engine.dialect.dbapi.IntegrityError) as exc:
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


def _checked(entity: Entity, current: dict[str, Any] | None, data: dict[str, Any], *,
             partial: bool) -> CheckedRecord:
    """The write checked by the rules every path shares, related records resolved (one at a
    time, through the acting user's sight); `current`: the record's values, None for a new
    one."""
    checked = check_values(entity, data)
    for spec in entity.fields:
        raw = checked.values.get(spec.attr)
        if spec.type == "ref" and raw is not None:
            try:
                checked.values[spec.attr] = resolve_ref(spec, raw)
            except ValueError as exc:
                checked.errors[spec.name] = str(exc)
                del checked.values[spec.attr]
    check_record(entity, data, checked, current, partial=partial,
                 partner_of_account=_partner_of_account)
    if checked.errors:
        raise ValidationError(checked.errors)
    return checked


def _partner_of_account(account_id: int) -> int | None:
    return partners_of_accounts([account_id]).get(account_id)
