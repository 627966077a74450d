"""Undo a finished import run: the records it created are deleted (archived when another
record now refers to them), those it updated get back the values its audit events hold for
before the run, those it archived (full sync) come back. A record someone else changed since
the run, or whose values of before can no longer be written (a related record deleted, a
number taken since), is left alone and listed. A dry run plans the same and writes nothing.

The run's own audit events (actor "feed", id = the run's) say what it updated and archived;
the records it created are those it stamped (import_run_id, or its profile for a record a
later run stamped since) while it ran. Every write goes through the record writer or the
record service, audited as the acting user's.

A revert asked from the back office or the API runs as a job (importers/reverts.py): asked
(`request_revert`: queued, with the actor it will write as), taken by one worker
(`claim_revert`), then executed whole in ONE transaction holding the profile's lock
(`execute_revert`). One transaction rather than resumable steps: a revert's plan is read from
the audit trail and the records as they are, so a half-applied revert would change its own
plan (its writes look like "changed since by someone else"); all or nothing, a worker that
dies mid-revert leaves nothing behind and the revert is simply run again."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, func, not_, or_, select, update
from sqlalchemy.orm import selectinload

from app.entities import ENTITIES, Entity, get_entity
from app.errors import ValidationError
from app.extensions import db
from app.models import AuditEvent, ImportProfile, ImportRun
from app.models.attachment import Attachment
from app.models.base import FEED_STAMPS
from app.models.feed import CUT_SHORT
from app.queries.feeds import definition_at
from app.services.attachments import attach_stored, delete_attachment
from app.services.audit import audit_row, record_event
from app.services.feeds import ALREADY_IMPORTED
from app.services.record_batches import RecordWriter, unique_columns
from app.services.record_rules import LINE_FIELDS, chunks, jsonable, line_totals
from app.services.records import delete_records
from app.tenancy import current_actor
from importers.readers import message_id

KINDS = ("deleted", "archived", "restored", "unarchived", "skipped")
PROFILE_BUSY = "A run of this profile is under way: revert once it has finished."
REVERT_UNDER_WAY = "This run's revert is already under way."
MAX_EARLIER_GOES = 10  # earlier goes of one file looked for before a run
EVENTS_PER_READ = 10_000
WRITE_CHUNK = 5_000  # records a revert gives back their values (or archives) per write
REVERT_LOCK = 0x52455654  # the first key of a revert's advisory lock ("REVT"), its run the second
_STAMPS = ("tenant_id", *FEED_STAMPS)  # not values of a record


@dataclass
class RevertPlan:
    """What a revert does (or did), by record id."""

    entity: str
    deleted: list[int] = field(default_factory=list)
    archived: list[int] = field(default_factory=list)  # created, but referred to since
    restored: list[int] = field(default_factory=list)  # values of before the run back
    unarchived: list[int] = field(default_factory=list)  # archived by the run, back
    skipped: list[int] = field(default_factory=list)  # changed since by someone else
    runs: list[int] = field(default_factory=list)  # the run, after its file's earlier goes

    @property
    def counts(self) -> dict[str, int]:
        return {kind: len(getattr(self, kind)) for kind in KINDS}

    def summary(self) -> dict[str, Any]:
        return {"entity": self.entity, "counts": self.counts, "runs": self.runs,
                **{kind: getattr(self, kind) for kind in KINDS}}


def plan_revert(run: ImportRun, *, holding: bool = False) -> RevertPlan:
    """What reverting `run` would do (reads only); `holding`: the revert job holds the
    run's profile for it."""
    if not run.can_revert:
        raise ValidationError({"": _not_revertible(run)})
    if _profile_holder(run) not in ((None, run.id) if holding else (None,)):
        raise ValidationError({"": _(PROFILE_BUSY)})
    _refuse_when_taken_up(run)
    entity = run_entity(run)
    runs = [*earlier_goes(run), run]
    plan = RevertPlan(entity.name, runs=[r.id for r in runs])
    # The values of before are not kept here but read again when written, a chunk of
    # records at a time (_befores): a run may have updated a million records. Only those a
    # write could no longer make (references, numbers) are kept, for _unwritable.
    # Kept by record id, for as many records as the runs wrote: the set of them alone (each
    # one's first event is read again for the few that someone else changed since).
    checked = _checked_columns(entity)
    touched: set[int] = set()  # the records the runs' events name
    only_archived: set[int] = set()  # those the runs only archived: brought back, not restored
    first_event = None  # the runs' first event
    kept: dict[int, dict[str, Any]] = {}  # by record: its references and numbers of before
    for event_id, record_id, action, old, _custom_after in db.session.execute(
            _events(entity, plan.runs).execution_options(yield_per=EVENTS_PER_READ)):
        first_event = first_event or event_id
        if action == "archive":
            if record_id not in touched:
                only_archived.add(record_id)
            touched.add(record_id)
            continue
        touched.add(record_id)
        only_archived.discard(record_id)  # updated too: its values of before come back
        for key in checked.intersection(old or ()):
            kept.setdefault(record_id, {}).setdefault(key, old[key])
    created = _created(entity, runs, touched) | _made_by_earlier_goes(entity, runs, touched)
    if holding:  # the job, which writes them: locked before what changed since is read
        _lock(entity, touched)
        _lock(entity, created)
    changed = _changed_since(entity, runs, first_event, created)
    taken_over = _taken_over(entity, runs, touched, created)
    created |= taken_over
    changed |= taken_over
    referred = _referred_to(entity, runs, created - changed)
    changed |= _unwritable(entity, kept, {i for i in kept if i not in created
                                          and i not in changed},
                           freed=created - changed - referred)
    for record_id in sorted(created):
        if record_id in changed:
            plan.skipped.append(record_id)
        elif record_id in referred:
            plan.archived.append(record_id)
        else:
            plan.deleted.append(record_id)
    for record_id in sorted(touched):
        if record_id in created:
            continue
        if record_id in changed:
            plan.skipped.append(record_id)
        elif record_id in only_archived:
            plan.unarchived.append(record_id)
        else:
            plan.restored.append(record_id)
    plan.skipped.sort()
    return plan


def _events(entity: Entity, run_ids: list[int]) -> Select:
    """The runs' audit events on the entity's records, in order, read as columns: each one
    also holds the record's values after it, which a revert does not need but for the
    custom ones (_befores)."""
    return select(AuditEvent.id, AuditEvent.record_id, AuditEvent.action, AuditEvent.before,
                  AuditEvent.after["custom"]).where(*_of_runs(entity, run_ids)
                                                   ).order_by(AuditEvent.id)


def _of_runs(entity: Entity, run_ids: list[int]) -> tuple[Any, ...]:
    """The conditions of the runs' audit events on the entity's records."""
    return (AuditEvent.entity == entity.name, AuditEvent.actor_kind == "feed",
            AuditEvent.actor_id.in_(run_ids), AuditEvent.record_id.is_not(None))


def _about(chunk: list[int]) -> tuple[Any, ...]:
    """The conditions of events about the records `chunk` (sorted): their ids' range too,
    so that the index is read over it whatever the planner's statistics say (the list
    alone was read as a filter of all the entity's events when they were taken before the
    run wrote its own)."""
    return (AuditEvent.record_id.in_(chunk), AuditEvent.record_id.between(chunk[0], chunk[-1]))


def _befores(entity: Entity, plan: RevertPlan, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The values of before the runs of the records `ids`, as their first events hold them.
    Custom values are held whole on both sides of an event: those the runs did not change
    are not given back (a value a user saved while a run wrote the record stays)."""
    found: dict[int, dict[str, Any]] = {}
    for chunk in chunks(sorted(ids)):
        for _id, record_id, action, old, custom_after in db.session.execute(
                _events(entity, plan.runs).where(*_about(chunk))):
            if action == "archive":
                continue
            before = found.setdefault(record_id, {})
            for key, value in (old or {}).items():
                if key == "custom":
                    custom = before.setdefault("custom", {})
                    for name, old_value in (value or {}).items():
                        # An event without the values after it (none the engine writes): all
                        if not isinstance(custom_after, dict) \
                                or custom_after.get(name) != old_value:
                            custom.setdefault(name, old_value)
                else:
                    before.setdefault(key, value)
    return found


def _checked_columns(entity: Entity) -> set[str]:
    """The columns whose value of before a write may no longer make (_unwritable): the
    references to other records, and the numbers a tenant's records each hold once."""
    table = entity.model.__table__
    references = {column.name for column in table.c
                  if column.foreign_keys and column.name not in _STAMPS}
    return references | set(unique_columns(table))


def revert_run(run: ImportRun, *, dry_run: bool = False, holding: bool = False) -> RevertPlan:
    """Revert `run` (flushed, audited, never committed); with `dry_run`, only its plan."""
    plan = plan_revert(run, holding=holding)
    if dry_run:
        return plan
    entity = ENTITIES[plan.entity]
    now = datetime.now(UTC)
    writer = RecordWriter(entity)
    runs = list(db.session.scalars(select(ImportRun).where(ImportRun.id.in_(plan.runs))))
    _revert_files(entity, plan, runs)
    _delete_attachments(entity, plan.deleted)
    delete_records(entity, plan.deleted)  # first: the numbers they hold are free again
    _restore(entity, writer, plan, now)
    _set_archived(entity, writer, plan.unarchived, None, now)
    _set_archived(entity, writer, plan.archived, now, now)
    # The revert's own events carry the moment it is marked with: a revert of an earlier
    # run tells them apart from changes by someone else (_changed_since).
    ended, actor, summary = now, current_actor(), plan.summary()
    for reverted in runs:
        reverted.reverted_at, reverted.reverted_by = ended, actor.label[:254]
        if reverted is not run:  # asked as part of this one
            reverted.revert_actor = _stored_actor(actor)
            reverted.revert_requested_at = run.revert_requested_at or ended
            reverted.revert_worker_id = None
        reverted.revert_summary = summary
        reverted.revert_status, reverted.revert_message = "done", None
        reverted.revert_message_params = None
        record_event("revert", "import_runs", reverted.id, None, summary)
    for skip in _skips_of(run.profile_id, plan.runs):
        # It stood for a run undone now: no more a success of the feed (its health, the
        # agents' "data as of"), and the same file is imported again when it comes back.
        skip.reverted_at, skip.reverted_by = ended, actor.label[:254]
        skip.revert_status, skip.revert_summary = "done", plan.summary() | {
            "counts": dict.fromkeys(KINDS, 0), **{kind: [] for kind in KINDS}}
        record_event("revert", "import_runs", skip.id, None, skip.revert_summary)
    return plan


def _skips_of(profile_id: int, run_ids: list[int]) -> list[ImportRun]:
    """The runs of the profile skipped as "already imported" by one of `run_ids`."""
    skips = db.session.scalars(select(ImportRun).where(
        ImportRun.profile_id == profile_id, ImportRun.reverted_at.is_(None),
        ImportRun.message_id == message_id(ALREADY_IMPORTED)))
    return [skip for skip in skips if (skip.message_params or {}).get("run") in run_ids]


def _stored_actor(actor: Any) -> dict[str, Any]:
    """Who asks for a revert, as the run keeps it (the job writes as this actor)."""
    return {"kind": actor.kind, "id": actor.id, "label": actor.label[:254]}


def earlier_goes(run: ImportRun) -> list[ImportRun]:
    """The runs that `run` is a later go of, oldest first: its profile's runs right before
    it that were cut short (interrupted, or failed) while they imported the same file, not
    reverted. The recovery runs an interrupted file again only when no other run of its
    profile came since (importers/recovery.py), an admin a failed one with "Run again", and
    what the first go wrote before it stopped is not written again by the next (found
    equal): reverting the last go alone would leave part of the file in, so a revert undoes
    them with it."""
    goes: list[ImportRun] = []
    later = run
    while len(goes) < MAX_EARLIER_GOES:
        # Dry runs in between wrote nothing: the file's goes go on past them.
        before = db.session.scalars(select(ImportRun).where(
            ImportRun.profile_id == run.profile_id, ImportRun.id < later.id,
            ImportRun.is_dry_run.is_(False))
            .order_by(ImportRun.id.desc()).limit(1)).first()
        if before is None or before.status not in CUT_SHORT or before.sha256 != run.sha256 \
                or before.reverted_at is not None:
            break
        goes.append(before)
        later = before
    return goes[::-1]


def later_go(run: ImportRun) -> ImportRun | None:
    """The run that took up the file `run` was cut short importing, whose revert undoes
    `run` with it (`earlier_goes`): the last of its later goes that can be reverted (one
    that wrote nothing, stopped where an earlier one did, cannot), or the one that is still
    to run or running; None when there is none."""
    if run.status not in CUT_SHORT or run.is_dry_run or run.reverted_at is not None:
        return None
    # The runs after it read once, in order, as `earlier_goes` walks them back: each one
    # of the same file is a later go, and the chain goes on past one cut short.
    found = None
    for later in db.session.scalars(select(ImportRun).where(
            ImportRun.profile_id == run.profile_id, ImportRun.id > run.id,
            ImportRun.is_dry_run.is_(False))
            .order_by(ImportRun.id).limit(MAX_EARLIER_GOES)):
        if later.sha256 != run.sha256:
            break
        if not later.is_finished:
            return later  # still to run, or running: no revert until it has ended
        if later.can_revert:
            found = later
        if later.status not in CUT_SHORT or later.reverted_at is not None:
            break
    return found


class RevertRefused(ValidationError):
    """A revert refused for a reason with values: its message, and the message's id and
    values, which the revert job keeps (read in the reader's language: `revert_reason`)."""

    def __init__(self, message: Any, **params: Any) -> None:
        super().__init__({"": str(message) % params})
        self.message_id, self.params = message_id(message), params


def revert_reason(run: ImportRun) -> str | None:
    """Why the run's revert failed, in the current language."""
    if not run.revert_message:
        return None
    try:
        return _(run.revert_message, **(run.revert_message_params or {}))
    except (KeyError, ValueError, TypeError):
        return run.revert_message


def _refuse_when_taken_up(run: ImportRun) -> None:
    """Reverting a go of a file that a later run took up would leave the rest of the file
    in, the later run still counted as its import: its last go is the one to revert."""
    later = later_go(run)
    if later is not None and not later.is_finished:
        raise RevertRefused(_l(
            "Import #%(id)d is taking this file up again: revert once it has finished."),
            id=later.id)
    if later is not None:
        raise RevertRefused(_l(
            "Import #%(id)d took this file up again where this run stopped: revert that "
            "one, which undoes both."), id=later.id)


def run_entity(run: ImportRun) -> Entity:
    """What `run` imported: the entity of the profile's version it applied (a profile may
    be turned to another entity since)."""
    name = definition_at(run.profile, run.profile_version).get("entity")
    return get_entity(name if name in ENTITIES else run.profile.entity)


def request_revert(run: ImportRun) -> None:
    """Ask for `run`'s revert, executed by a job as the current actor (flushed; the caller
    commits, then queues it: importers/jobs.py)."""
    if run.revert_pending:
        raise ValidationError({"": _(REVERT_UNDER_WAY)})
    if not run.can_revert:
        raise ValidationError({"": _not_revertible(run)})
    _refuse_when_taken_up(run)
    if _profile_holder(run) is not None:
        raise ValidationError({"": _(PROFILE_BUSY)})
    # Asked only if no one asked meanwhile: of requests at the same moment, one is queued,
    # the others refused (the row stays locked by the winner's transaction until it commits).
    asked = db.session.execute(
        update(ImportRun).where(ImportRun.id == run.id, ImportRun.reverted_at.is_(None),
                                or_(ImportRun.revert_status.is_(None),
                                    ImportRun.revert_status.not_in(("queued", "running"))))
        .values(revert_status="queued", revert_requested_at=datetime.now(UTC),
                revert_actor=_stored_actor(current_actor()),
                revert_worker_id=None, revert_heartbeat_at=None, revert_message=None,
                revert_message_params=None)
        .execution_options(synchronize_session=False))
    if asked.rowcount != 1:
        raise ValidationError({"": _(REVERT_UNDER_WAY)})
    db.session.refresh(run)


def claim_revert(run_id: int, worker_id: str) -> bool:
    """Take a queued revert for this worker; False when another took it, or none is asked
    (a job delivered twice runs once)."""
    result = db.session.execute(
        update(ImportRun).where(ImportRun.id == run_id, ImportRun.revert_status == "queued")
        .values(revert_status="running", revert_worker_id=worker_id,
                revert_heartbeat_at=datetime.now(UTC))
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def hold_profile(run_id: int) -> bool:
    """Take the run's profile for its revert, in a transaction of its own (the caller
    commits at once): no run of it starts until the revert lets it go, and saving the
    profile meanwhile waits for nothing. A hold of the same revert left by a worker that
    died is taken again. False when a run of the profile holds it."""
    profile_id = db.session.scalar(select(ImportRun.profile_id).where(ImportRun.id == run_id))
    held = db.session.execute(
        update(ImportProfile).where(ImportProfile.id == profile_id, or_(
            ImportProfile.locked_by_run_id.is_(None), ImportProfile.locked_by_run_id == run_id))
        .values(locked_by_run_id=run_id).execution_options(synchronize_session=False))
    return profile_id is None or held.rowcount == 1


def let_profile_go(run_id: int) -> None:
    """Give back the profile the revert of `run_id` holds (a no-op when it holds none)."""
    db.session.execute(
        update(ImportProfile).where(ImportProfile.locked_by_run_id == run_id)
        .values(locked_by_run_id=None).execution_options(synchronize_session=False))


def execute_revert(run_id: int) -> RevertPlan | None:
    """The revert job's transaction, its profile held (`hold_profile`): revert, then let the
    profile go. None when the run was reverted already (by an earlier delivery). Flushes;
    the job commits, or rolls everything back and lets the profile go."""
    if db.session.get_bind().dialect.name == "postgresql":
        # Two deliveries of one revert, one at a time: the second then finds it reverted.
        db.session.execute(select(func.pg_advisory_xact_lock(REVERT_LOCK, run_id)))
    run = db.session.get(ImportRun, run_id, populate_existing=True)
    if run is None:
        return None
    plan = None if run.reverted_at is not None else revert_run(run, holding=True)
    let_profile_go(run_id)
    return plan


def fail_revert(run_id: int, message: str, params: dict[str, Any] | None = None) -> None:
    """End an unfinished revert failed, with the reason (an English message and its
    values, translated where shown: `revert_reason`); it may be asked again."""
    db.session.execute(
        update(ImportRun).where(ImportRun.id == run_id,
                                ImportRun.revert_status.in_(("queued", "running")),
                                ImportRun.reverted_at.is_(None))
        .values(revert_status="failed", revert_message=message[:2000],
                revert_message_params=params or None, revert_worker_id=None)
        .execution_options(synchronize_session=False))


def _profile_holder(run: ImportRun) -> int | None:
    """The run holding `run`'s profile, read now (not from the session's copy)."""
    return db.session.scalar(select(ImportProfile.locked_by_run_id).where(
        ImportProfile.id == run.profile_id))


def _not_revertible(run: ImportRun) -> str:
    if run.reverted_at is not None:
        return _("This run was already reverted.")
    if run.is_dry_run:
        return _("A dry run changed nothing: there is nothing to revert.")
    if run.is_finished and not run.wrote_records:
        return _("This run changed no record: there is nothing to revert.")
    return _("Only a finished run can be reverted.")


def _created(entity: Entity, runs: list[ImportRun], touched: set[int]) -> set[int]:
    """The records the runs created: stamped by one of them (or by their profile, when a
    later run stamped them since) while it ran, and not among those their audit events
    name."""
    if not _started(runs):
        return set()
    return set(db.session.scalars(_stamped(entity, runs))) - touched


def _made_by_earlier_goes(entity: Entity, runs: list[ImportRun], touched: set[int]
                          ) -> set[int]:
    """Records an earlier go created (stamped by the file's profile while it ran, with no
    "create" event: a feed's creations have none) that a later go then updated, because
    someone changed them in between: created by the file, not updated by it."""
    model, earlier = entity.model, _started(runs[:-1])
    found: set[int] = set()
    for chunk in chunks(sorted(touched)) if earlier else ():
        found |= set(db.session.scalars(select(model.id).where(
            model.id.in_(chunk), or_(*(and_(*_while_it_ran(model, run),
                                            model.import_profile_id == run.profile_id)
                                       for run in earlier)),
            ~select(AuditEvent.id).where(
                AuditEvent.entity == entity.name, AuditEvent.record_id == model.id,
                AuditEvent.action == "create", _since(earlier)).exists())))
    return found


def _started(runs: list[ImportRun]) -> list[ImportRun]:
    return [run for run in runs if run.started_at is not None]


def _since(runs: list[ImportRun]) -> Any:
    """Audit events written since the first of the (started) runs began: on SQLite a
    deleted record's id is given again, and the events of the record that held it before
    are not about the one the runs created."""
    return AuditEvent.created_at >= _began(runs)


def _began(runs: list[ImportRun]) -> datetime:
    """When the first of the (started) runs began."""
    return min(run.started_at for run in _started(runs))


def _lock(entity: Entity, ids: set[int]) -> None:
    """The records a revert may write, locked until it commits (PostgreSQL; SQLite has one
    writer at a time): a save committed before is read as a change since, and the record
    left alone; a later one waits for the revert, then applies on what it gave back."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    model = entity.model
    for chunk in chunks(sorted(ids)):
        db.session.execute(select(model.id).where(model.id.in_(chunk))
                           .with_for_update()).all()


def _stamped(entity: Entity, runs: list[ImportRun]) -> Select:
    """The ids of the records created while one of the runs ran and stamped by it or its
    profile: a subquery for the set-based reads below, which a run of a million records
    would otherwise make a thousand times each, a list of ids at a time."""
    model = entity.model
    return select(model.id).where(or_(*(and_(
        *_while_it_ran(model, run),
        or_(model.import_run_id == run.id, model.import_profile_id == run.profile_id))
        for run in _started(runs))))


def _while_it_ran(model: type, run: ImportRun) -> tuple[Any, Any]:
    """Records created while the run ran."""
    end = run.finished_at or datetime.now(UTC)
    return model.created_at >= run.started_at, model.created_at <= end


def _not_stamped_by(model: type, runs: list[ImportRun], also: list[int] = ()) -> Any:
    return or_(model.import_run_id.is_(None),
               model.import_run_id.not_in([*(run.id for run in runs), *also]))


def _taken_over(entity: Entity, runs: list[ImportRun], *known: set[int]) -> set[int]:
    """Records created by a feed while one of the runs ran (no "create" event: a feed's
    creations have none), stamped since by a run of another profile that changed them (an
    event): created by these runs as far as can be told, and changed since by someone
    else. Those of the sets `known` are not looked for."""
    model = entity.model
    ids: set[int] = set()
    for run in _started(runs):
        ids |= set(db.session.scalars(select(model.id).where(
            *_while_it_ran(model, run),
            model.import_run_id.is_not(None), _not_stamped_by(model, runs),
            model.import_profile_id.is_distinct_from(run.profile_id))))
    ids = {i for i in ids if not any(i in ones for ones in known)}
    found: set[int] = set()
    for chunk in chunks(sorted(ids)):
        events = db.session.execute(select(AuditEvent.record_id, AuditEvent.action).where(
            AuditEvent.entity == entity.name, AuditEvent.record_id.in_(chunk),
            _since(runs))).all()
        made = {record_id for record_id, action in events if action == "create"}
        found |= {record_id for record_id, _action in events} - made
    return found


def _changed_since(entity: Entity, runs: list[ImportRun], first_event: int | None,
                   created: set[int]) -> set[int]:
    """The records that an audit event not of these runs changed after they first did (an
    edit between two goes of a file too: undoing the goes would undo it); `first_event`:
    the runs' first. A later run reverted since and its revert cancel out: their events are
    not changes."""
    mine = and_(AuditEvent.actor_kind == "feed",
                AuditEvent.actor_id.in_([run.id for run in runs]))
    undone = _undone_since(runs)
    if undone:
        mine = or_(mine, and_(AuditEvent.actor_kind == "feed",
                              AuditEvent.actor_id.in_([i for i, _at in undone])),
                   AuditEvent.created_at.in_([at for _i, at in undone]))
    named = []
    if first_event is not None:  # events after the runs' first one, on the records they wrote
        named.append(and_(AuditEvent.id > first_event, AuditEvent.record_id.in_(
            select(AuditEvent.record_id).where(AuditEvent.entity == entity.name, mine))))
    if created:
        named.append(and_(AuditEvent.record_id.in_(_stamped(entity, runs)), _since(runs)))
    changed: set[int] = set()
    last: dict[int, int] = {}  # by record the runs wrote: the last event of someone else
    if named:
        for record_id, event_id in db.session.execute(select(
                AuditEvent.record_id, AuditEvent.id).where(
                AuditEvent.entity == entity.name, not_(mine), or_(*named))):
            if record_id in created:
                changed.add(record_id)
            else:
                last[record_id] = max(event_id, last.get(record_id, event_id))
    firsts = _first_events(entity, runs, sorted(last))
    changed |= {record_id for record_id, event_id in last.items()
                if event_id > firsts.get(record_id, event_id)}
    if created:  # stamped since by another run (not one undone since)
        changed |= created & set(db.session.scalars(_stamped(entity, runs).where(
            _not_stamped_by(entity.model, runs, [i for i, _at in undone]))))
    return changed


def _first_events(entity: Entity, runs: list[ImportRun], ids: list[int]) -> dict[int, int]:
    """The first event of the runs on each of the records `ids` (sorted) that they wrote."""
    found: dict[int, int] = {}
    for chunk in chunks(ids):
        found.update(db.session.execute(select(
            AuditEvent.record_id, func.min(AuditEvent.id)).where(
            *_of_runs(entity, [run.id for run in runs]), *_about(chunk))
            .group_by(AuditEvent.record_id)).tuples().all())
    return found


def _undone_since(runs: list[ImportRun]) -> list[tuple[int, datetime]]:
    """The runs reverted since these began (later runs, undone before these are), with the
    moment of their revert, which its own audit events carry."""
    started = _started(runs)
    if not started:
        return []
    return [tuple(row) for row in db.session.execute(select(
        ImportRun.id, ImportRun.reverted_at).where(
        ImportRun.reverted_at >= _began(started),
        ImportRun.id.not_in([run.id for run in runs])))]


def _referred_to(entity: Entity, runs: list[ImportRun], ids: set[int]) -> set[int]:
    """Those of the records (created by the runs) that anything else now refers to: another
    record, a file, a login or an API token (a partner's), a mandate, a subscription… —
    every foreign key to the entity's table but its own lines' (which go with it) — or a file
    attached to it by someone else (the files the runs attached go with their records)."""
    if not ids:
        return set()
    table = entity.model.__table__
    columns = [mapper.get_property_by_column(key.parent).class_attribute
               for mapper in db.Model.registry.mappers if mapper.class_ is not entity.line_model
               for key in mapper.local_table.foreign_keys if key.column is table.c.id]
    created = _stamped(entity, runs)
    found: set[int] = set()
    for column in columns:
        query = select(column).where(column.in_(created))
        if column.class_ is Attachment:  # a customer's own file the runs attached goes with it
            query = query.where(Attachment.id.not_in(_attached_by(runs)))
        found |= set(db.session.scalars(query.distinct()))
    found |= set(db.session.scalars(select(Attachment.record_id).where(
        Attachment.record_type == entity.name, Attachment.record_id.in_(created),
        Attachment.id.not_in(_attached_by(runs))).distinct()))
    return found & ids


def _attached_by(runs: list[ImportRun]) -> Select:
    """The ids of the files the runs attached (an archive's documents)."""
    return select(AuditEvent.record_id).where(
        AuditEvent.entity == "attachments", AuditEvent.action == "create",
        AuditEvent.actor_kind == "feed", AuditEvent.actor_id.in_([run.id for run in runs]))


def _revert_files(entity: Entity, plan: RevertPlan, runs: list[ImportRun]) -> None:
    """The files the runs attached (an archive's documents) are deleted, and those they
    replaced attached again, on the records the revert does not leave alone — unless the
    record's files changed since (a file of the runs gone, another one added): they are
    then left as they are."""
    left = set(plan.skipped) | set(plan.archived)
    events = db.session.execute(select(AuditEvent.action, AuditEvent.record_id,
                                       AuditEvent.before, AuditEvent.after).where(
        AuditEvent.entity == "attachments", AuditEvent.actor_kind == "feed",
        AuditEvent.actor_id.in_(plan.runs), AuditEvent.action.in_(("create", "delete")))
        .order_by(AuditEvent.id)).all()
    attached: dict[int, set[int]] = {}  # by record: the files the runs attached
    replaced: dict[int, list[dict[str, Any]]] = {}  # by record: the files they deleted
    for action, attachment_id, before, after in events:
        about = (after if action == "create" else before) or {}
        record_id = about.get("record_id")
        if about.get("record_type") != entity.name or record_id in left:
            continue
        if action == "create":
            attached.setdefault(record_id, set()).add(attachment_id)
        elif attachment_id not in attached.get(record_id, ()):  # not one of their own
            replaced.setdefault(record_id, []).append(about)
    records = sorted(set(attached) | set(replaced))
    start = _began(runs)
    end = max(run.finished_at or datetime.now(UTC) for run in _started(runs))
    for chunk in chunks(records):
        files: dict[int, list[Attachment]] = {}
        for attachment in db.session.scalars(select(Attachment).where(
                Attachment.record_type == entity.name, Attachment.record_id.in_(chunk))
                .order_by(Attachment.id)):
            files.setdefault(attachment.record_id, []).append(attachment)
        for record_id in chunk:
            theirs = attached.get(record_id, set())
            present = files.get(record_id, [])
            kept = {a.id for a in present if a.id in theirs and a.created_at <= end}
            since = [a for a in present if a.id not in kept and a.created_at >= start]
            if kept != theirs or since:
                continue  # changed since by someone else: left as it is
            for attachment in present:
                if attachment.id in theirs:
                    delete_attachment(attachment)
            if record_id in plan.deleted:
                continue
            record = db.session.get(entity.model, record_id)
            for about in replaced.get(record_id, []) if record is not None else ():
                if about.get("file_name") and about.get("sha256"):
                    attach_stored(record, about["file_name"], about["sha256"])


def _delete_attachments(entity: Entity, ids: list[int]) -> None:
    """The files of records about to be deleted (those the runs attached: a record with
    another is archived instead), each deletion audited."""
    for chunk in chunks(ids):
        for attachment in db.session.scalars(select(Attachment).where(
                Attachment.record_type == entity.name, Attachment.record_id.in_(chunk))
                .order_by(Attachment.id)):
            delete_attachment(attachment)


def _unwritable(entity: Entity, kept: dict[int, dict[str, Any]], updated: set[int], *,
                freed: set[int]) -> set[int]:
    """Those of the updated records whose values of before can no longer be written: the
    record they referred to is deleted since, or their number (a unique key) is held by
    another record since — one the revert deletes first (`freed`) frees it; one the revert
    moves to another number does not (two records trading numbers would clash midway).
    They are left alone and listed, as changed since."""
    table, mapper = entity.model.__table__, db.Model.registry.mappers
    olds = {i: kept[i] for i in updated if i in kept}
    unwritable: set[int] = set()
    for column in table.c:
        keys = [key for key in column.foreign_keys if column.name not in _STAMPS]
        wanted = {i: old[column.name] for i, old in olds.items()
                  if old.get(column.name) is not None}
        if not keys or not wanted:
            continue
        target = next(m.class_ for m in mapper if m.local_table is keys[0].column.table)
        found: set[Any] = set()
        for chunk in chunks(sorted(set(wanted.values()))):
            found |= set(db.session.scalars(select(target.id).where(target.id.in_(chunk))))
        unwritable |= {i for i, value in wanted.items() if value not in found}
    model = entity.model
    for name in unique_columns(table):
        wanted = {i: _coerced(table.c[name], old[name]) for i, old in olds.items()
                  if old.get(name) is not None}
        attribute = model.__mapper__.get_property_by_column(table.c[name]).class_attribute
        holders: dict[Any, int] = {}
        for chunk in chunks(sorted(set(wanted.values()))):
            holders.update(db.session.execute(select(attribute, model.id).where(
                attribute.in_(chunk))).tuples().all())
        unwritable |= {i for i, value in wanted.items()
                       if (holder := holders.get(value, i)) != i and holder not in freed}
    return unwritable


def _restore(entity: Entity, writer: RecordWriter, plan: RevertPlan, now: datetime) -> None:
    """The updated records get back their values of before the run, lines and custom ones
    included, WRITE_CHUNK records at a time: a run may have updated every record of a
    million-row file (a column mapped wrong), and its revert holds one chunk's records, not
    all of them."""
    for ids in chunks(plan.restored, WRITE_CHUNK):
        _restore_chunk(entity, writer, plan, ids, now)


def _restore_chunk(entity: Entity, writer: RecordWriter, plan: RevertPlan, ids: list[int],
                   now: datetime) -> None:
    model, table = entity.model, entity.model.__table__
    rows, lines, audits = [], [], []
    befores = _befores(entity, plan, ids)
    query = select(model)
    if entity.line_model is not None and any("lines" in old for old in befores.values()):
        query = query.options(selectinload(model.lines))
    loaded = {record.id: record for chunk in chunks(ids)
              for record in db.session.scalars(query.where(model.id.in_(chunk)))}
    for record_id in ids:
        record = loaded.get(record_id)
        if record is None:
            continue
        old = befores.get(record_id, {})
        row: dict[str, Any] = {"id": record_id, "updated_at": now}
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for key, value in old.items():
            if key == "lines":
                current = [{k: getattr(line, k) for k in LINE_FIELDS} for line in record.lines]
                before["lines"] = jsonable(current)
                restored = [_coerced_line(entity, line) for line in value or []]
                lines.append((record_id, restored))
                after["lines"] = jsonable(restored)
                # A run audits the totals it changes with its lines; its events did not
                # before 2026-12-06: a total the lines make, not in the event, comes from
                # the lines given back. One they do not make was given, and stays.
                made = line_totals(current)
                for name, total in line_totals(restored).items():
                    if name not in old and getattr(record, name) == made.get(name):
                        before[name], row[name] = getattr(record, name), total
                        after[name] = total
            elif key == "custom":
                custom = record.custom or {}
                before["custom"] = {k: custom.get(k) for k in value}
                # The values of before the run, None removing one it added; merged into the
                # record's as they are when written (a value saved meanwhile stays).
                row["custom"] = dict(value)
                after["custom"] = dict(value)
            elif key in table.c:
                before[key] = getattr(record, key)
                row[key] = _coerced(table.c[key], value)
                after[key] = row[key]
        rows.append(row)
        audits.append(audit_row("update", entity.name, record_id, jsonable(before),
                                jsonable(after), now))
    if rows:
        writer.update(rows)
    if lines:
        writer.replace_lines(lines, [record_id for record_id, _lines in lines])
    writer.audit(audits)
    for record in loaded.values():  # read again, as written, when next used
        db.session.expire(record)


def _set_archived(entity: Entity, writer: RecordWriter, ids: list[int],
                  archived_at: datetime | None, now: datetime) -> None:
    """The records archived (`archived_at` a moment) or brought back (None), audited,
    WRITE_CHUNK at a time."""
    model = entity.model
    action = "archive" if archived_at is not None else "update"
    for chunk in chunks(ids, WRITE_CHUNK):
        was = {record_id: value for part in chunks(chunk) for record_id, value in
               db.session.execute(select(model.id, model.archived_at)
                                  .where(model.id.in_(part)))}
        writer.update([{"id": i, "archived_at": archived_at, "updated_at": now}
                       for i in chunk])
        writer.audit([audit_row(action, entity.name, i, {"archived_at": jsonable(was.get(i))},
                                {"archived_at": jsonable(archived_at)}, now) for i in chunk])
        for i in chunk:  # a copy the session holds is read again, as written, when next used
            loaded = db.session.identity_map.get(db.session.identity_key(model, i))
            if loaded is not None:
                db.session.expire(loaded)


def _coerced(column: Any, value: Any) -> Any:
    """A value as the audit trail wrote it (dates and amounts as text), as the column holds
    it."""
    if value is None or not isinstance(value, str):
        return value
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return value
    if kind is Decimal:
        return Decimal(value)
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    return value


def _coerced_line(entity: Entity, line: dict[str, Any]) -> dict[str, Any]:
    table = entity.line_model.__table__
    return {k: _coerced(table.c[k], line.get(k)) for k in LINE_FIELDS}
