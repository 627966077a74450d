"""Value mappings of a profile: per column, a source value of the tenant's files → the Relais
value it stands for (`"Réglée" → paid`, `"NEXITY SA" → NEX01`, the key of a partner).

They sit in the profile's versioned JSON (`value_maps`: {column: {source: target}}), so a run
names the mappings it applied. A mapping is applied before conversion, on the stripped cell,
matched as written or whatever its case and accents: one dict lookup per cell, only in the
columns that have mappings. A value mapped to nothing stays a row error, as before.

Only choice columns (statuses, stages, kinds, custom choice fields) and reference columns
(`<ref>.external_ref`) take mappings: their targets are a choice's code, or the key
(external_ref) of an existing record, which a record's exact name also finds.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import false, func, or_, select

from app.custom_fields import definitions
from app.entities import ENTITIES, STATUS_LABELS, Entity
from app.errors import ValidationError
from app.extensions import db
from app.models import ImportProfile, ImportRowError, ImportRun
from app.search_text import fold, matches, words
from app.services.record_rules import chunks
from importers.values import cell_text, header_key
from importers.vocabulary import choice_lookup, folded

MAX_SOURCE = 255
MAX_PER_PROFILE = 5000  # mappings of one profile, all columns together
SEEN_LIMIT = 10_000  # distinct texts of a column remembered while a run converts it
UNMAPPED_LIMIT = 50  # distinct unmapped values a page lists

ValueMaps = dict[str, dict[str, str]]


def mappable_kind(entity: Entity, kind: str, name: str) -> str | None:
    """'choice' or 'ref' for a column that takes mappings (a target's kind and name), else None."""
    if kind == "ref":
        return "ref"
    if kind == "field":
        spec = next((f for f in entity.fields if f.name == name), None)
        return "choice" if spec is not None and spec.type == "choice" else None
    if kind == "custom":
        field = next((cf for cf in definitions(entity.name) if cf.key == name), None)
        return "choice" if field is not None and field.type == "choice" else None
    return None


def choices_of(entity: Entity, kind: str, name: str) -> list[tuple[str, str]]:
    """A choice column's codes and their labels (for the mapping forms)."""
    if kind == "field":
        spec = entity.field(name)
        return [(code, str(STATUS_LABELS.get(code, code))) for code in spec.choices]
    field = next((cf for cf in definitions(entity.name) if cf.key == name), None)
    return [(str(c), str(c)) for c in (field.choices if field else [])]


def record_key(entity: Entity, name: str, value: str) -> str | None:
    """The key of the record a reference mapping names (by its key, else its exact name)."""
    model = ENTITIES[entity.field(name).ref].model
    key = db.session.scalar(select(model.external_ref).where(model.external_ref == value)
                            .limit(1))
    if key is None and hasattr(model, "name"):
        wanted = fold(value)
        archived = model.archived_at.is_not(None) if hasattr(model, "archived_at") \
            else false()
        found = [(ref, gone) for ref, name, gone in db.session.execute(select(
            model.external_ref, model.name, archived).where(
            _named(model, value), model.external_ref.is_not(None), model.external_ref != ""))
            if fold(name) == wanted]
        # A record archived since (a partner whose code changed in the ERP) does not make
        # the live one of the same name ambiguous.
        live = [ref for ref, gone in found if not gone]
        found_refs = live or [ref for ref, _gone in found]
        key = found_refs[0] if len(found_refs) == 1 else None
    return key


def _named(model: Any, value: str) -> Any:
    """The records that may be named `value`, whatever its case and accents (SQLite's lower()
    folds ASCII letters only): those holding its words; the caller compares the names."""
    if hasattr(model, "search_text") and words(value):
        return or_(func.lower(model.name) == value.lower(), matches(model, value))
    return func.lower(model.name) == value.lower()


def _without_key(entity: Entity, name: str, value: str) -> bool:
    """Whether a record the reference mapping names by its name has no key: a feed names
    records by their key only, so it cannot be mapped to yet."""
    model = ENTITIES[entity.field(name).ref].model
    if not hasattr(model, "name"):
        return False
    wanted = fold(value)
    return any(fold(found) == wanted for found in db.session.scalars(select(model.name).where(
        _named(model, value), or_(model.external_ref.is_(None), model.external_ref == ""))))


def parse_value_maps(entity: Entity, targets: list[Any], raw: Any,
                     errors: dict[str, str], check_values: bool = True,
                     saved_maps: Any = None) -> ValueMaps:
    """Check `value_maps` against the profile's columns; the targets as stored (codes, keys).
    A mapping found as it is in `saved_maps` (the edited version's) is kept as saved."""
    saved = saved_maps if isinstance(saved_maps, dict) else {}
    if raw in (None, {}):
        return {}
    if not isinstance(raw, dict):
        errors["value_maps"] = _("value_maps maps a column to its values: "
                                 "{column: {value in the file: value in Relais}}.")
        return {}
    # Counted as sent, before any is looked up: each may cost a query, and the profile is
    # held while it is saved.
    if sum(len(m) for m in raw.values() if isinstance(m, dict)) > MAX_PER_PROFILE:
        errors["value_maps"] = _("At most %(n)d value mappings per profile.", n=MAX_PER_PROFILE)
        return {}
    by_header = {t.header: t for t in targets}
    maps: ValueMaps = {}
    for header, mapping in raw.items():
        header = str(header).strip()
        where = f"value_maps.{header[:60]}"
        target = by_header.get(header)
        if target is None:
            errors[where] = _("“%(column)s” is not a mapped column of the profile.",
                              column=header[:60])
            continue
        kind = mappable_kind(entity, target.kind, target.name)
        if kind is None:
            # Saved while its field took mappings (a choice field turned to text since): kept
            # as saved, so that they never block another edit, and applied by no run.
            if check_values and mapping == saved.get(header):
                maps[header] = dict(mapping)
            elif check_values:
                errors[where] = _("Only choice and reference columns take value mappings.")
            continue
        if not isinstance(mapping, dict):
            errors[where] = _("Map each value of the file to a value in Relais.")
            continue
        resolve = _resolver(entity, target, kind) if check_values else _as_saved
        kept = saved.get(header) if isinstance(saved.get(header), dict) else {}
        clean: dict[str, str] = {}
        for source, value in mapping.items():
            source = str(source).strip()
            value = str(value).strip() if isinstance(value, str | int) else ""
            if not source or len(source) > MAX_SOURCE:
                errors[where] = _("A mapped value has 1 to %(n)d characters.", n=MAX_SOURCE)
                continue
            resolved = (value if kept.get(source) == value else resolve(value)) \
                if value else None
            if resolved is None:
                errors[f"{where}.{source[:40]}"] = _(
                    "“%(value)s” has no external reference in Relais: give it one (on its "
                    "page) to map values to it.", value=value[:60]) \
                    if kind == "ref" and check_values and value \
                    and _without_key(entity, target.name, value) else _(
                    "“%(value)s” is not a valid value for the column “%(column)s”.",
                    value=value[:60], column=header[:60])
            else:
                clean[source] = resolved
        if check_values:  # a run applies them as saved
            _refuse_ambiguous(clean, kept, where, header, errors)
        if clean:
            maps[header] = clean
    return maps


def _refuse_ambiguous(clean: dict[str, str], kept: dict[str, str], where: str, header: str,
                      errors: dict[str, str]) -> None:
    """Two values of one column that differ only by case or accents mapped to two different
    values: a run matches cells whatever their case and accents, so a third spelling would
    take either. Refused when one of them is new or changed (those saved stay as saved)."""
    by_folded: dict[str, list[tuple[str, str]]] = {}
    for source, target in clean.items():
        group = by_folded.setdefault(fold(source), [])
        # Every earlier spelling is compared, not only the first: beside two saved ones
        # mapped apart, a new one agrees with one and differs from the other.
        other = next((o for o in group if o[1] != target and (
            kept.get(source) != target or kept.get(o[0]) != o[1])), None)
        group.append((source, target))
        if other is not None:
            errors[f"{where}.{source[:40]}"] = _(
                "“%(value)s” and “%(other)s” differ only by case or accents: map them to the "
                "same value in the column “%(column)s”.", value=source[:60],
                other=other[0][:60], column=header[:60])


def _as_saved(value: str) -> str:
    return value


def _resolver(entity: Entity, target: Any, kind: str) -> Callable[[str], str | None]:
    if kind == "ref":
        return lambda value: record_key(entity, target.name, value)
    codes = [code for code, _label in choices_of(entity, target.kind, target.name)]
    lookup = choice_lookup(codes)
    return lambda value: lookup.get(folded(value))


def mapped_converter(convert: Callable[[Any], Any], mapping: dict[str, str]
                     ) -> Callable[[Any], Any]:
    """`convert`, after the column's mappings: a mapped cell converts its target instead.

    Each distinct text is folded once: `seen` remembers what it maps to (or that it maps to
    nothing), so a cell costs one dict lookup."""
    seen: dict[str, str | None] = dict(mapping)
    loose = {fold(source): target for source, target in mapping.items()}

    def target_of(text: str) -> str | None:
        try:
            return seen[text]
        except KeyError:
            if len(seen) > SEEN_LIMIT:
                seen.clear()
                seen.update(mapping)
            target = seen[text] = loose.get(fold(text)) if text else None
            return target

    def convert_mapped(raw: Any) -> Any:
        if raw is None:
            return convert(raw)
        if isinstance(raw, str):
            target = target_of(raw.strip())
        else:  # a workbook's cell: its text (1000), else the text its format shows (1,000),
            # which the run's errors show and the values to map offer
            target = target_of(cell_text(raw).strip())
            if target is None and getattr(raw, "shown", None) is not None:
                target = target_of(str(raw).strip())
        return convert(raw) if target is None else convert(target)

    return convert_mapped


@dataclass
class SavedMapping:
    """A mapping of the profile as its page shows it: the target with its label (a choice's
    label in the reader's language, a record's name)."""

    column: str
    source: str
    target: str
    label: str


def saved_mappings(profile: ImportProfile) -> list[SavedMapping]:
    """The profile's mappings, column by column, each target with its label (the target
    itself where none is found: a choice or a record removed since)."""
    maps: ValueMaps = profile.definition.get("value_maps") or {}
    if not maps:
        return []
    parsed, kinds = _mappable_columns(profile)
    targets = {t.header: t for t in parsed.targets} if parsed is not None else {}
    saved: list[SavedMapping] = []
    for column, values in maps.items():
        target, kind = targets.get(column), kinds.get(column)
        labels: dict[str, str] = {}
        if kind == "choice":
            labels = dict(choices_of(parsed.entity, target.kind, target.name))
        elif kind == "ref":
            labels = _record_names(parsed.entity, target.name, set(values.values()))
        saved += [SavedMapping(column, source, code, labels.get(code, code))
                  for source, code in values.items()]
    return saved


def _record_names(entity: Entity, name: str, keys: set[str]) -> dict[str, str]:
    """The names of the records a reference column's mappings name, by key."""
    model = ENTITIES[entity.field(name).ref].model
    if not hasattr(model, "name"):
        return {}
    found: dict[str, str] = {}
    for chunk in chunks(sorted(keys)):
        found.update(db.session.execute(select(model.external_ref, model.name)
                                        .where(model.external_ref.in_(chunk))).all())
    return {key: f"{name} ({key})" for key, name in found.items()}


@dataclass
class UnmappedValue:
    """A value of a run's files that no mapping took and that failed its rows."""

    column: str
    value: str
    rows: int
    kind: str  # choice | ref
    choices: list[tuple[str, str]]  # a choice column's codes and labels


def _maps_of_run(run: ImportRun, profile: ImportProfile) -> ValueMaps:
    """The value mappings of the version `run` applied."""
    from app.queries.feeds import definition_at

    maps = definition_at(profile, run.profile_version).get("value_maps")
    return maps if isinstance(maps, dict) else {}


def _mappable_messages() -> list[str]:
    from importers.convert import NOT_ONE_OF
    from importers.engine import NO_REFERENCE

    return [NOT_ONE_OF._args[0], *(message._args[0] for message in NO_REFERENCE.values())]


def _mappable_columns(profile: ImportProfile) -> tuple[Any, dict[str, str]]:
    """The profile parsed, and its columns that take mappings with their kind ({} when it
    cannot be read)."""
    from importers.profile import parse_profile

    try:
        parsed = parse_profile(profile.definition, check_values=False)
    except ValidationError:
        return None, {}
    return parsed, {t.header: kind for t in parsed.targets
                    if (kind := mappable_kind(parsed.entity, t.kind, t.name)) is not None}


def _unmapped_errors(run: ImportRun) -> Any:
    """The conditions of `run`'s errors that a mapping would have avoided (those of columns
    that take none, and those mapped since, are left out by `unmapped_values`)."""
    return (ImportRowError.run_id == run.id,
            ImportRowError.message_id.in_(_mappable_messages()),
            ImportRowError.value.is_not(None))


def unmapped_values(run: ImportRun, profile: ImportProfile,
                    limit: int = UNMAPPED_LIMIT) -> tuple[list[UnmappedValue], int]:
    """The distinct values that failed `run` for want of a mapping, less those the profile
    maps by now: the `limit` with the most rows, and how many there are in all. A value is
    its cell stripped as a run strips it (padded spellings are one value), and one the
    profile maps whatever its case and accents is mapped."""
    parsed, kinds = _mappable_columns(profile)
    if not kinds:
        return [], 0
    rows = db.session.execute(
        select(ImportRowError.column, ImportRowError.value, func.count())
        .where(*_unmapped_errors(run))
        .group_by(ImportRowError.column, ImportRowError.value)
        .execution_options(yield_per=1000)).tuples()
    # Headers match whatever their case and accents, as runs match them: a value the run
    # failed under "Statut" is offered under the profile's "STATUT" now.
    header_of = {header_key(header): header for header in kinds}
    ran = {header_of[key]: maps for column, maps in _maps_of_run(run, profile).items()
           if (key := header_key(column)) in header_of}
    # Per column, worked out once: the sources mapped by now and by the run, folded; the
    # run's targets and the sources it mapped to each; a choice column's codes.
    loose = {column: {fold(source): target for source, target in sources.items()}
             for column, sources in parsed.value_maps.items()}
    ran_loose = {column: {fold(source): target for source, target in sources.items()}
                 for column, sources in ran.items()}
    choices = {header: choices_of(parsed.entity, t.kind, t.name) for t in parsed.targets
               if (header := t.header) in kinds and kinds[header] == "choice"}
    codes = {header: {code for code, _label in found} for header, found in choices.items()}
    sources_of: dict[str, dict[str, list[str]]] = {}
    for column, used in ran.items():
        for source, target in used.items():
            sources_of.setdefault(column, {}).setdefault(target, []).append(source)
    rows_of: dict[tuple[str, str], int] = {}
    for failed_column, value, count in rows:
        column = header_of.get(header_key(failed_column or ""))
        if column is None:
            continue
        failed, mapped = value.strip(), parsed.value_maps.get(column, {})
        now = mapped.get(failed) or loose.get(column, {}).get(fold(failed))
        then = ran.get(column, {}).get(failed) or ran_loose.get(column, {}).get(fold(failed))
        if then is not None:
            # A row error holds the file's value: the run mapped it, and the mapping's
            # target did not take (a choice removed, a partner's code changed since). It is
            # offered again, unless mapped by now to another partner, or to a choice that
            # is one (again).
            if now is not None and (now in codes[column] if column in codes else now != then):
                continue
            texts = [failed]
        else:
            # Errors of runs before 2026-12-07 hold a reference mapping's target instead:
            # the values of the file mapped to it are the ones to map again, unless mapped
            # to another value by now.
            texts = [source for source in sources_of.get(column, {}).get(failed, ())
                     if mapped.get(source) in (None, failed)]
            if not texts:
                if not failed or len(failed) > MAX_SOURCE or now is not None \
                        or failed in sources_of.get(column, {}):
                    continue  # mapped by now, or too long to be (it stays a row error)
                texts = [failed]
        for text in texts:
            rows_of[column, text] = rows_of.get((column, text), 0) + count
    top = heapq.nsmallest(limit, rows_of.items(), key=lambda item: (-item[1], item[0]))
    return [UnmappedValue(column, text, count, kinds[column], choices.get(column, []))
            for (column, text), count in top], len(rows_of)
