"""Bulk upsert: many records of one entity, keyed by external_ref, in one call.

Each item is judged by the checks create_record and update_record run, the same functions
(app/services/record_checks.py: values, lines, required fields, custom values, date order, a
partner defaulting to the customer's), and gets its own outcome: created, updated, unchanged,
or error with messages per field. Items with errors are left out, the others written. Reads
and writes go by the batch: existing and related records with one query per chunk, new rows,
changed rows, lines and audit events with one executemany each. A batch the database refuses
(a number already used) or that would leave a partner's reach is written again item by item,
each in its savepoint, to tell which items were refused.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import models as m
from app.custom_fields import definitions
from app.entities import ENTITIES, Entity, Field
from app.extensions import db
from app.models.base import MAX_ID
from app.policies import can_create, visible
from app.services.audit import audit_row
from app.services.record_batches import RecordWriter, write_batch, write_each
from app.services.record_checks import CheckedRecord, check_record, check_values, clean_value
from app.services.record_rules import (
    changes,
    chunks,
    line_totals,
    lines_of,
    new_row,
    new_snapshot,
    partners_of_accounts,
    takes_account_partner,
)
from app.services.record_sql import BulkSQL, collecting_between_batches
from app.services.records import integrity_errors, refusal
from app.tenancy import current_actor

MAX_ITEMS = 10_000


@dataclass(frozen=True)
class ByRef:
    """A related record named by its external_ref."""

    external_ref: str


@dataclass
class BulkItem:
    """One item: its data in the services' terms (related records by id or ByRef, `custom`,
    `lines`) and, once upserted, its outcome."""

    index: int
    external_ref: Any
    data: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    status: str | None = None  # created, updated, unchanged or error
    id: int | None = None
    values: dict[str, Any] = field(default_factory=dict)  # model attribute → clean value
    lines: list[dict[str, Any]] | None = None
    row: dict[str, Any] | None = None
    new_lines: bool = False
    audit: dict[str, Any] | None = None


class _OutOfReach(Exception):
    pass


def upsert_records(entity: Entity, items: list[BulkItem], user: Any) -> None:
    """Create or update each item's record by its external_ref, as `user` may; every item
    gets its status (and its id, or its errors). Flushes; the caller commits right after (on
    SQLite the items may be written as the transaction itself: record_batches.write_batch).
    A user who may not create records of `entity` (partners, for an agent or a partner's
    token) is refused the whole call: an item creates or changes, and an agent changes only
    records of the kinds he may create (app/policies.py), among those he sees (checked item
    by item below)."""
    if user is not None and not can_create(user, entity.model):
        raise refusal(entity.model)
    with collecting_between_batches():
        _Upsert(entity, user).run(items)


class _Upsert:
    def __init__(self, entity: Entity, user: Any) -> None:
        self.entity, self.user, self.model = entity, user, entity.model
        self.fields = {f.name: f for f in entity.fields}
        self.columns = self.model.__table__.c
        self.account_partners: dict[int, int | None] = {}
        self.custom_fields = definitions(entity.name, active_only=False)
        self.attrs = [f.attr for f in entity.fields]
        self.writer = RecordWriter(entity)
        self.sql = self.writer.sql
        self.restricted = getattr(user, "partner_id", None) is not None \
            or getattr(user, "account_id", None) is not None
        self.now = datetime.now(UTC)
        self.actor = current_actor()  # the call's, read once for its audit events
        # The partner whose records a partner's token creates (the column is read once).
        partner_id = getattr(user, "partner_id", None)
        self.own_partner_id = partner_id if "partner_id" in self.columns else None

    def run(self, items: list[BulkItem]) -> None:
        self._keys(items)
        live = [item for item in items if not item.errors]
        self._plan(live)
        self._write([item for item in live if item.row is not None and not item.errors])
        for item in items:
            if item.errors:
                item.status, item.id = "error", None

    def _plan(self, live: list[BulkItem]) -> None:
        """Each item checked and planned: created, updated or unchanged (or in error)."""
        for item in live:
            self._clean(item)
        live = self._resolve([item for item in live if not item.errors])
        existing = self._existing(live)
        self._partners_of_accounts(live, existing)
        if self.entity.line_model is not None:
            existing_lines = lines_of(self.entity, [existing[i.external_ref]["id"] for i in live
                                             if i.lines is not None and i.external_ref
                                             in existing])
        for item in live:
            current = existing.get(item.external_ref)
            if item.errors:  # its key another's, or a record it may not change
                continue
            if current is None:
                self._plan_create(item)
            else:
                self._plan_update(item, current, existing_lines.get(current["id"])
                                  if self.entity.line_model is not None else None)

    # -- checking -------------------------------------------------------------------------

    def _keys(self, items: list[BulkItem]) -> None:
        """Every item needs an external_ref, once in the call."""
        first: dict[str, int] = {}
        spec = self.fields["external_ref"]
        for item in items:
            try:
                key = clean_value(spec, item.external_ref)
            except ValueError as exc:
                item.errors["external_ref"] = str(exc)
                continue
            if key is None:
                item.errors["external_ref"] = _("This field is required.")
            elif key in first:
                item.errors["external_ref"] = _(
                    "This reference is already given by item %(index)d.", index=first[key])
            else:
                first[key] = item.index
                item.external_ref = key

    def _clean(self, item: BulkItem) -> None:
        """The item's values checked as forms check them (related records come later)."""
        checked = check_values(self.entity, item.data)
        item.values, item.lines = checked.values, checked.lines
        item.errors.update(checked.errors)
        item.values["external_ref"] = item.external_ref

    def _resolve(self, items: list[BulkItem]) -> list[BulkItem]:
        """Related records, by id or external_ref, among those `user` may see."""
        for spec in self.entity.fields:
            if spec.type != "ref":
                continue
            given = [item for item in items if item.values.get(spec.attr) is not None]
            ids = {v for i in given if isinstance(v := i.values[spec.attr], int)
                   and 0 < v <= MAX_ID}
            refs = {v.external_ref for i in given if isinstance(v := i.values[spec.attr], ByRef)}
            by_id, by_ref = self._related(spec, ids, refs)
            for item in given:
                value = item.values[spec.attr]
                found = by_ref.get(value.external_ref) if isinstance(value, ByRef) \
                    else value if value in by_id else None
                if found is None:
                    item.errors[spec.name] = _("Unknown record.")
                else:
                    item.values[spec.attr] = found
        return [item for item in items if not item.errors]

    def _related(self, spec: Field, ids: set[int], refs: set[str]
                 ) -> tuple[set[int], dict[str, int]]:
        """The related records among `ids` and `refs` (external_refs) that `user` may see."""
        if spec.ref == "users":
            return set(self._staff(ids)), {}
        model = ENTITIES[spec.ref].model
        with_partner = model is m.Account
        by_ref = {}
        if refs:
            found = BulkSQL(model.__table__, "external_ref", self.sql.tenant_id).references(
                model.__table__, with_partner, sorted(refs))
            by_ref = {ref: record_id for ref, (record_id, _p) in found.items()}
            if with_partner:
                self.account_partners.update(found.values())
        columns = [model.id, m.Account.partner_id] if with_partner else [model.id]
        by_id = set()
        for chunk in chunks(sorted(ids)):
            for row in db.session.execute(select(*columns).where(model.id.in_(chunk))):
                by_id.add(row[0])
                if with_partner:
                    self.account_partners[row[0]] = row[1]
        seen = self._visible(model, by_id | set(by_ref.values()))
        return by_id & seen, {ref: i for ref, i in by_ref.items() if i in seen}

    def _staff(self, ids: set[int]) -> Iterator[int]:
        for chunk in chunks(sorted(ids)):
            yield from db.session.scalars(select(m.User.id).where(
                m.User.id.in_(chunk), m.User.role.in_(["admin", "sales"])))

    def _visible(self, model: type, ids: set[int]) -> set[int]:
        """Those of `ids` that `user` may see (all of them for staff)."""
        if not self.restricted:
            return ids
        seen: set[int] = set()
        for chunk in chunks(sorted(ids)):
            seen.update(db.session.scalars(visible(select(model.id).where(
                model.id.in_(chunk)), model, self.user)))
        return seen

    def _existing(self, items: list[BulkItem]) -> dict[str, dict[str, Any]]:
        """The records the items name, by external_ref; a reference held by a record out of
        `user`'s sight is refused as already used, a record he sees but may not change
        (app/policies.can_change) as such."""
        own_only = self.model is m.Activity and self.restricted
        names = ["id", *(a for a in self.attrs if a != "external_ref"), "custom",
                 *(["created_by_id"] if own_only else [])]
        found = self.writer.current(names, [item.external_ref for item in items])
        for key, record in found.items():
            record["external_ref"] = key
        seen = self._visible(self.model, {record["id"] for record in found.values()})
        for item in items:
            record = found.get(item.external_ref)
            if record is None:
                continue
            if record["id"] not in seen:
                item.errors["external_ref"] = _("This reference is already used.")
                del found[item.external_ref]
            elif own_only:
                creator = record.pop("created_by_id")
                if creator is None or creator != getattr(self.user, "id", None):
                    # An agent changes his own activities only; a partner's token has none.
                    item.errors["external_ref"] = _("You may not change this record.")
                    del found[item.external_ref]
        return found

    def _partners_of_accounts(self, items: list[BulkItem],
                              existing: dict[str, dict[str, Any]]) -> None:
        """The partner of each customer a document may take its partner from."""
        if not takes_account_partner(self.entity):
            return
        emptied = {item.external_ref for item in items if "partner_id" in item.values
                   and item.values["partner_id"] is None}  # defaults to the customer's again
        wanted = {record["account_id"] for key, record in existing.items()
                  if record["partner_id"] is None or key in emptied} \
            - {None} - set(self.account_partners)
        self.account_partners.update(partners_of_accounts(sorted(wanted)))

    # -- planning -------------------------------------------------------------------------

    def _plan_create(self, item: BulkItem) -> None:
        values = item.values
        custom = self._check(item, None)
        if item.errors:
            return
        partner_id = self.own_partner_id
        if partner_id is not None and "partner" not in item.data:
            values["partner_id"] = partner_id  # a partner's records are his by default
        row = new_row(self.entity, values, item.lines, custom, self.now)
        item.row, item.new_lines, item.status = row, bool(item.lines), "created"
        after = new_snapshot(self.entity, row, item.lines)
        item.audit = self._audit("create", None, after)

    def _plan_update(self, item: BulkItem, current: dict[str, Any],
                     old_lines: list[dict[str, Any]] | None) -> None:
        if item.lines is not None and item.lines == old_lines:
            # The same lines again change nothing (nor an answered quote): their totals stand.
            item.values.update(line_totals(item.lines))
            item.lines = None
        custom = self._check(item, current)
        if item.errors:
            return
        row, before, after, item.new_lines = changes(current, old_lines, item.values,
                                                     item.lines, custom)
        item.id = current["id"]
        if not after:
            item.status = "unchanged"
            return
        row.update(id=current["id"], updated_at=self.now)
        item.row, item.status = row, "updated"
        item.audit = self._audit("update", current["id"], after, before)

    def _check(self, item: BulkItem, current: dict[str, Any] | None) -> dict[str, Any] | None:
        """The rules every path shares (app/services/record_checks.py); the record's custom
        values (None when they are left as they are)."""
        checked = CheckedRecord(item.values, item.errors, item.lines)
        check_record(self.entity, item.data, checked, current, partial=current is not None,
                     partner_of_account=self.account_partners.get,
                     custom_fields=self.custom_fields)
        return checked.custom

    def _audit(self, action: str, record_id: int | None, after: dict[str, Any],
               before: dict[str, Any] | None = None) -> dict[str, Any]:
        return audit_row(action, self.entity.name, record_id, before, after, self.now,
                         self.actor)

    # -- writing --------------------------------------------------------------------------

    def _write(self, items: list[BulkItem]) -> None:
        if not items:
            return
        apart: set[int] = set()  # positions of the items a unique key refuses

        def write_all() -> None:
            self._write_items([item for n, item in enumerate(items) if n not in apart])
            write_each([items[n] for n in sorted(apart) if items[n].row is not None],
                       lambda item: self._write_items([item]), self._refused, (_OutOfReach,))

        def set_apart() -> bool:
            apart.update(self.writer.clashing([item.row for item in items]))
            self._plan_again([items[n] for n in apart if items[n].status == "created"])
            return bool(apart)

        write_batch(write_all, items, lambda item: self._write_items([item]), self._refused,
                    (_OutOfReach,), set_apart)

    def _plan_again(self, created: list[BulkItem]) -> None:
        """Items planned as new whose external_ref a record holds by now (another call with
        the same items, a client's retry, committed while this one was planned): planned
        again, as updates of that record, rather than refused as taken."""
        taken = set(self.sql.existing(["id"], [item.external_ref for item in created]))
        again = [item for item in created if item.external_ref in taken]
        for item in again:
            item.status = item.id = item.row = item.audit = item.lines = None
            item.values, item.new_lines = {}, False
        if again:
            self._plan(again)

    def _refused(self, item: BulkItem, exc: Exception) -> None:
        if isinstance(exc, IntegrityError | self.sql.dialect.dbapi.IntegrityError):
            item.errors.update(integrity_errors(exc))
        elif isinstance(exc, _OutOfReach):
            key = "partner_id" if "partner" in self.fields else ""
            item.errors[key] = _("A partner's token can only write records of its partner.")
        else:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
            item.errors[""] = _("The database refused the row: %(reason)s", reason=reason)
        if item.status == "created":
            item.id = None

    def _write_items(self, items: list[BulkItem]) -> None:
        items = [item for item in items if item.row is not None]  # none: planned unchanged
        writer = self.writer
        creates = [item for item in items if item.status == "created"]
        updates = [item for item in items if item.status == "updated"]
        if creates:
            ids = writer.create([item.row for item in creates])
            for item, record_id in zip(creates, ids, strict=True):
                item.id = item.audit["record_id"] = record_id
        if updates:
            writer.update([item.row for item in updates])
        replaced = [item for item in items if item.new_lines]
        if replaced:
            writer.replace_lines([(item.id, item.lines or []) for item in replaced],
                                 [item.id for item in replaced if item.status == "updated"])
        writer.audit([item.audit for item in items])
        if self._out_of_reach(items):
            raise _OutOfReach

    def _out_of_reach(self, items: list[BulkItem]) -> bool:
        """Whether a written record left the sight of a user restricted to a partner."""
        ids = {item.id for item in items}
        return self.restricted and self._visible(self.model, ids) != ids

