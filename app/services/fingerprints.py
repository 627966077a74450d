"""Feed fingerprints forgotten whenever what a feed row would give may have changed.

A record's `import_digest` (importers/fingerprints.py) lets a nightly import skip the row that
made the record as it is. It holds only while the record is exactly what that row gave, so:

- any write of the record empties it: the column's `onupdate` (every ORM flush and Core
  `update()`), the record writer's own statements (app/services/record_batches.py); a deleted
  record takes it along;
- a record whose reference (`external_ref`) changes empties it on the records naming it: a
  feed row that names a customer by that reference would now resolve to another customer, or
  to none (`forget_referencing`, called by the writer and by the ORM listener below, and once
  more at the end of a feed run that may have resolved it before: `forget_renamed_since`);
- a customer whose partner changes empties it on its documents: a document whose row gives
  no partner takes its customer's (`forget_following`, called by the writer and by the ORM
  listener below, and once more at the end of a feed run of documents: `forget_moved_since`);
- a feed run cut short (failed, interrupted) forgets, as its end would have, what changed
  while it ran (importers/runs.py `forget_changed_while_running`);
- what conversion depends on besides the row (the profile's version, value maps included, and
  the entity's custom field definitions) is part of the fingerprint itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import event, inspect, or_, select

from app.entities import ENTITIES
from app.extensions import db
from app.models import Account, AuditEvent
from app.models.base import RecordMixin

# Renames looked for from this long before a run's start: a write's audit event carries the
# moment its transaction began, which may come before the run's start and commit after it.
RENAMES_BEFORE_START = timedelta(minutes=10)


@cache
def referencing(entity_name: str) -> tuple[tuple[str, str], ...]:
    """The (table, column) pairs of records that name a record of `entity_name`."""
    return tuple(
        (other.model.__table__.name, spec.attr)
        for other in ENTITIES.values()
        for spec in other.fields
        if spec.type == "ref" and spec.ref == entity_name
    )


def forget_referencing(entity_name: str, ids: list[int]) -> None:
    """The fingerprints of the records naming records `ids` of `entity_name` forgotten."""
    if not ids or not referencing(entity_name):
        return
    from app.services.record_sql import forget_digests

    for table, column in referencing(entity_name):
        forget_digests(table, column, ids)


@cache
def following() -> tuple[str, ...]:
    """The tables of documents whose partner defaults to their customer's."""
    from app.services.record_rules import takes_account_partner

    return tuple(entity.model.__table__.name for entity in ENTITIES.values()
                 if takes_account_partner(entity))


def forget_following(account_ids: list[int]) -> None:
    """The fingerprints of the documents of customers `account_ids` forgotten: their
    partner changed, which a document whose row gives none takes (the engine's
    `_default_partner`)."""
    if not account_ids:
        return
    from app.services.record_sql import forget_digests

    for table in following():
        forget_digests(table, "account_id", account_ids)


def forget_renamed_since(entity_name: str, since: datetime) -> None:
    """`forget_referencing` once more for the records of `entity_name` whose reference
    changed from `since` on (their audit events say so: the old reference in `before`, or
    an anonymisation, which clears it and says nothing of it): for a feed run that resolved
    a reference before its rename and stored fingerprints after it."""
    renamed = db.session.scalars(select(AuditEvent.record_id).where(
        AuditEvent.entity == entity_name, AuditEvent.created_at >= since,
        AuditEvent.record_id.is_not(None),
        or_(AuditEvent.before["external_ref"].as_string().is_not(None),
            AuditEvent.action == "anonymise")).distinct())
    forget_referencing(entity_name, sorted(renamed))


def forget_moved_since(since: datetime) -> None:
    """`forget_following` once more for the customers whose partner changed from `since` on
    (their update events say so): for a feed run that read a customer's partner before the
    move and stored his documents' fingerprints after it."""
    moved = db.session.scalars(select(AuditEvent.record_id).where(
        AuditEvent.entity == "accounts", AuditEvent.action == "update",
        AuditEvent.created_at >= since, AuditEvent.record_id.is_not(None),
        or_(AuditEvent.before["partner_id"].as_string().is_not(None),
            AuditEvent.after["partner_id"].as_string().is_not(None))).distinct())
    forget_following(sorted(moved))


def forget_changed_since(entity_name: str, refs: set[str], since: datetime) -> None:
    """For a feed run of `entity_name` that began at `since` (less RENAMES_BEFORE_START), at
    its end: what it resolved once and remembered across batches, forgotten once more where
    it changed meanwhile: the references of the records of `refs` its rows name, and a
    customer's partner, which a document whose row gives none takes."""
    for name in sorted(refs):
        forget_renamed_since(name, since)
    if "accounts" in refs and ENTITIES[entity_name].model.__table__.name in following():
        forget_moved_since(since)


def _reference_changed(mapper: Any, connection: Any, target: Any) -> None:
    """An ORM write that changes a record's reference (an anonymised person's, say), or a
    customer's partner."""
    attributes = inspect(target).attrs
    if isinstance(target, Account) and attributes.partner_id.history.deleted:
        forget_following([target.id])
    history = attributes.external_ref.history
    if not history.has_changes() or not history.deleted or history.deleted[0] is None:
        return
    entity = next((e for e in ENTITIES.values() if isinstance(target, e.model)), None)
    if entity is not None:
        forget_referencing(entity.name, [target.id])


event.listen(RecordMixin, "after_update", _reference_changed, propagate=True)
