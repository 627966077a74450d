"""Import profiles: the JSON that says how a feed's columns map onto an entity, checked once.

```json
{"name": "factures-nuit", "entity": "invoices", "mode": "upsert",
 "columns": {"N° facture": "number", "Code client": "account.external_ref",
             "Date": "issued_on", "Montant TTC": "total", "Promoteur": "custom.promoteur"},
 "key": "external_ref", "encoding": "auto", "delimiter": "auto", "date_format": "auto",
 "decimal": "auto", "full_sync": false, "sheet": "Factures"}
```

A profile with `"documents": {"column": "CV"}` also takes ZIP archives of a metadata file and
documents, each row attaching the document its `CV` cell names (importers/documents.py).
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _

from app.custom_fields import definitions
from app.entities import ENTITIES, Entity
from app.errors import ValidationError
from app.profile_names import is_valid_name
from importers.readers import Limits
from importers.value_maps import parse_value_maps

MODES = ("upsert", "insert", "update")
DELIMITERS = ("auto", ";", ",", "\t", "|")
DECIMALS = ("auto", ",", ".")
LINE_TARGETS = ("sku", "label", "quantity", "unit_price", "tax_rate")
KEY_FIELDS = ("external_ref", "number")
SHEET_NAME_LENGTH = 31  # Excel's limit on a worksheet's name
HEADER_LENGTH = 255
MAX_COLUMNS = Limits.max_columns  # a file's, which the reader refuses past it


@dataclass(frozen=True)
class Target:
    """Where one column goes: a field, a related record's reference, a custom field, a line."""

    kind: str  # field | ref | custom | line
    name: str  # field name, ref field name, custom key or line attribute
    header: str

    @property
    def label(self) -> str:
        prefix = {"ref": "", "custom": "custom.", "line": "lines.", "field": ""}[self.kind]
        suffix = ".external_ref" if self.kind == "ref" else ""
        return f"{prefix}{self.name}{suffix}"


@dataclass(frozen=True)
class Profile:
    name: str
    entity: Entity
    mode: str
    key: str
    targets: tuple[Target, ...]
    encoding: str = "auto"
    delimiter: str = "auto"
    date_format: str = "auto"
    decimal: str = "auto"
    full_sync: bool = False
    sheet: str | None = None  # XLSX: the worksheet to read (None: the first one)
    # Per column, a source value → the Relais value it stands for (importers/value_maps.py).
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    # The column naming each row's document, in a ZIP archive of documents (None: no documents).
    documents_column: str | None = None
    definition: dict[str, Any] = field(default_factory=dict)

    @property
    def has_lines(self) -> bool:
        return any(t.kind == "line" for t in self.targets)

    def target_for(self, header: str) -> Target | None:
        for target in self.targets:
            if target.header == header:
                return target
        return None


def parse_profile(definition: Any, *, check_values: bool = True,
                  saved_maps: Any = None) -> Profile:
    """Check a profile's JSON; raise ValidationError with a message per wrong part.

    A run reads its version with `check_values=False`: its value mappings apply as saved (a
    record deleted since is a row error of the run, not a profile that no longer opens).
    `saved_maps`, the mappings of the version being edited: those kept as they were are not
    checked again, so that a mapping gone stale (its partner's code changed since) never
    blocks the edit of another, nor its own removal."""
    if not isinstance(definition, dict):
        raise ValidationError({"": _("A profile is a JSON object.")})
    errors: dict[str, str] = {}
    name = str(definition.get("name") or "").strip()
    if not is_valid_name(name):
        errors["name"] = _("Give the profile a name of at most 100 characters, on one line "
                           "and without slashes.")
    entity_name = definition.get("entity")
    entity = ENTITIES.get(entity_name) if isinstance(entity_name, str) else None
    if entity is None or entity.name == "attachments":
        errors["entity"] = _("Choose the entity the file feeds.")
    mode = definition.get("mode", "upsert")
    if mode not in MODES:
        errors["mode"] = _("The mode is upsert, insert or update.")
    options = _options(definition, errors)
    targets: list[Target] = []
    if entity is not None:
        targets = _targets(entity, definition.get("columns"), errors)
    key = definition.get("key", "external_ref")
    if key not in KEY_FIELDS:
        errors["key"] = _("The key is external_ref or number.")
    elif entity is not None and not any(t.kind == "field" and t.name == key for t in targets):
        errors["key"] = _("Map a column to %(key)s: it identifies records between runs.",
                          key=key)
    elif entity is not None and key == "number" and not hasattr(entity.model, "number"):
        errors["key"] = _("This entity has no number.")
    value_maps = parse_value_maps(entity, targets, definition.get("value_maps"), errors,
                                  check_values, saved_maps) \
        if entity is not None else {}
    if errors:
        raise ValidationError(errors)
    # Stored as read: an option left empty (null) is stored as what it means ("auto"), so that
    # what the API answers is what it takes back, and the same profile is the same version.
    spelled = {"name": name, "mode": mode, "key": key, "value_maps": value_maps,
               **{option: options[option] for option in (
                   "encoding", "delimiter", "date_format", "decimal", "full_sync")}}
    return Profile(name=name, entity=entity, mode=mode, key=key, targets=tuple(targets),
                   definition=normalized({**definition, **spelled}),
                   value_maps=value_maps, **options)


def _options(definition: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    encoding = str(definition.get("encoding") or "auto")
    if encoding != "auto":
        try:
            codecs.lookup(encoding)
        # ValueError: a name holding NUL; UnicodeEncodeError (one too): a lone surrogate.
        except (LookupError, ValueError):
            errors["encoding"] = _("Unknown encoding “%(value)s”.", value=encoding[:30])
    delimiter = definition.get("delimiter") or "auto"
    if delimiter not in DELIMITERS:
        errors["delimiter"] = _("The delimiter is auto, ; , tab or |.")
    date_format = str(definition.get("date_format") or "auto")
    if date_format != "auto" and not _valid_date_format(date_format):
        errors["date_format"] = _("Write the date format like %(example)s.",
                                  example="%d/%m/%Y")
    decimal = definition.get("decimal") or "auto"
    if decimal not in DECIMALS:
        errors["decimal"] = _("The decimal separator is auto, “,” or “.”.")
    full_sync = definition.get("full_sync", False)
    if not isinstance(full_sync, bool):
        errors["full_sync"] = _("full_sync is true or false.")
    sheet = definition.get("sheet")
    if sheet is not None and (not isinstance(sheet, str) or not sheet.strip()
                              or len(sheet) > SHEET_NAME_LENGTH):
        errors["sheet"] = _("sheet is the name of a worksheet of the XLSX file (at most "
                            "%(n)d characters).", n=SHEET_NAME_LENGTH)
    return {"encoding": encoding, "delimiter": delimiter, "date_format": date_format,
            "decimal": decimal, "full_sync": bool(full_sync),
            "sheet": sheet if isinstance(sheet, str) and sheet.strip() else None,
            "documents_column": _documents_column(definition.get("documents"), errors)}


def _documents_column(documents: Any, errors: dict[str, str]) -> str | None:
    """`{"column": "CV"}`: the header of the column naming each row's document."""
    if documents is None:
        return None
    column = documents.get("column") if isinstance(documents, dict) else None
    if not isinstance(column, str) or not column.strip() or len(column) > HEADER_LENGTH \
            or set(documents) - {"column"}:
        errors["documents"] = _("documents is {\"column\": \"…\"}: the column of the file that "
                                "names each row's document in the ZIP archive.")
        return None
    return column.strip()


def _valid_date_format(fmt: str) -> bool:
    if "%" not in fmt or len(fmt) > 30:
        return False
    try:
        sample = date(2025, 12, 31).strftime(fmt)
        from datetime import datetime

        return datetime.strptime(sample, fmt).date() == date(2025, 12, 31)
    except (ValueError, re.error):  # re.error: a repeated directive ("%d%d")
        return False


def _targets(entity: Entity, columns: Any, errors: dict[str, str]) -> list[Target]:
    if not isinstance(columns, dict) or not columns:
        errors["columns"] = _("Map at least one column of the file.")
        return []
    if len(columns) > MAX_COLUMNS:  # no file it reads has more: refused, never cut short
        errors["columns"] = _("A profile names at most %(limit)s columns, as many as a file "
                              "may have.", limit=format_decimal(MAX_COLUMNS))
        return []
    custom_keys = {cf.key for cf in definitions(entity.name)}
    fields = {f.name: f for f in entity.fields}
    targets, used = [], set()
    for header, raw in columns.items():
        spec = str(raw or "").strip()
        if not spec:
            continue  # an unmapped column is ignored
        target = _target(entity, str(header).strip(), spec, fields, custom_keys)
        if target is None:
            errors[f"columns.{header}"] = _("“%(target)s” is not a field of %(entity)s.",
                                            target=spec[:60], entity=entity.label)
        elif target.label in used:
            errors[f"columns.{header}"] = _("Two columns go to “%(target)s”.", target=spec[:60])
        else:
            used.add(target.label)
            targets.append(target)
    return targets


def _target(entity: Entity, header: str, spec: str, fields: dict, custom_keys: set[str]):
    if spec.startswith("custom."):
        key = spec.removeprefix("custom.")
        return Target("custom", key, header) if key in custom_keys else None
    if spec.startswith("lines."):
        name = spec.removeprefix("lines.")
        ok = entity.line_model is not None and name in LINE_TARGETS
        return Target("line", name, header) if ok else None
    if spec.endswith(".external_ref"):
        name = spec.removesuffix(".external_ref")
        field_spec = fields.get(name)
        ok = field_spec is not None and field_spec.type == "ref" and field_spec.ref != "users"
        return Target("ref", name, header) if ok else None
    field_spec = fields.get(spec)
    if field_spec is None or field_spec.type == "ref":
        return None
    return Target("field", spec, header)


def normalized(definition: dict[str, Any]) -> dict[str, Any]:
    """The profile JSON with every option spelled out (what is stored and versioned); `sheet`
    and `value_maps` only when they say something, so that profiles saved before they existed
    compare equal."""
    keys = ("name", "entity", "mode", "columns", "key", "encoding", "delimiter",
            "date_format", "decimal", "full_sync")
    defaults = {"mode": "upsert", "key": "external_ref", "encoding": "auto",
                "delimiter": "auto", "date_format": "auto", "decimal": "auto",
                "full_sync": False}
    spelled = {k: definition.get(k, defaults.get(k)) for k in keys}
    if definition.get("sheet") is not None:
        spelled["sheet"] = definition["sheet"]
    if definition.get("value_maps"):
        spelled["value_maps"] = definition["value_maps"]
    documents = definition.get("documents")
    if isinstance(documents, dict) and isinstance(documents.get("column"), str):
        spelled["documents"] = {"column": documents["column"].strip()}
    return spelled
