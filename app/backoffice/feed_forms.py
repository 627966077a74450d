"""Forms of the feeds pages: a profile's options and column mapping, its JSON, a run."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.backoffice.feed_mapping import SAMPLE_ROWS, Sample, suggest, targets
from app.backoffice.forms import options
from app.entities import ENTITIES, REF
from app.errors import ValidationError
from app.json_input import JSONInputError, load_json
from app.services.feeds import kept_maps
from importers.profile import normalized

MODE_LABELS = {"upsert": _l("Create or update"), "insert": _l("Create only"),
               "update": _l("Update only")}
OPTION_FIELDS = ("name", "entity", "mode", "key", "encoding", "delimiter", "date_format",
                 "decimal", "full_sync", "sheet")
TAB = "\t"


class ProfileForm(FlaskForm):
    # Choices are checked by importers.profile, whose messages say what is expected.
    name = StringField(_l("Name"), validators=[Length(max=100)])
    entity = SelectField(_l("Entity fed"), validate_choice=False)
    mode = SelectField(_l("Mode"), choices=options(MODE_LABELS.items()), validate_choice=False)
    key = SelectField(_l("Key identifying a record between runs"), validate_choice=False,
                      choices=options([("external_ref", REF), ("number", _l("Number"))]))
    encoding = StringField(_l("Encoding"), default="auto", validators=[Length(max=30)])
    delimiter = SelectField(_l("Delimiter"), validate_choice=False, choices=options(
        [("auto", _l("Detect")), (";", ";"), (",", ","), ("tab", _l("Tab")), ("|", "|")]))
    date_format = StringField(_l("Date format"), default="auto", validators=[Length(max=30)])
    decimal = SelectField(_l("Decimal separator"), validate_choice=False, choices=options(
        [("auto", _l("Detect")), (",", ","), (".", ".")]))
    full_sync = BooleanField(_l("Full sync: archive this feed's records missing from a file"))
    sheet = StringField(_l("Worksheet (XLSX; empty: the first one)"), validators=[Length(max=31)])
    documents_column = StringField(
        _l("Documents column (ZIP archives of documents; empty: none)"),
        validators=[Length(max=255)])
    sample = FileField(_l("Sample file (CSV or XLSX)"))
    version = HiddenField()  # the version shown: saved since by another, the edit is refused

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entity.choices = options([("", "—"), *((name, entity.label) for name, entity
                                                     in ENTITIES.items()
                                                     if name != "attachments")])


class ProfileJsonForm(FlaskForm):
    definition = TextAreaField(_l("Profile (JSON)"), validators=[Length(max=200_000)])
    version = HiddenField()


def seen_version(form: FlaskForm) -> int | None:
    """The profile's version the page showed (None for a new profile, or a form without)."""
    text = (form.version.data or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


class RunForm(FlaskForm):
    file = FileField(_l("File to import (CSV or XLSX)"), validators=[FileRequired()])
    dry_run = BooleanField(_l("Dry run: compute everything, write nothing"))
    force = BooleanField(_l("Import even a file already imported"))


class CorrectedFileForm(FlaskForm):
    file = FileField(_l("Corrected file (CSV or XLSX)"), validators=[FileRequired()])


@dataclass
class MappingColumn:
    """One column of the file on the mapping screen."""

    header: str
    target: str = ""
    samples: list[str] = field(default_factory=list)
    error: str | None = None


def posted_columns(formdata: Any) -> list[MappingColumn]:
    headers = formdata.getlist("column_header")  # past a file's columns: the profile says so
    chosen = formdata.getlist("column_target")
    return [MappingColumn(header, chosen[i] if i < len(chosen) else "",
                          formdata.getlist(f"column_sample_{i}")[:SAMPLE_ROWS])
            for i, header in enumerate(headers)]


def profile_columns(definition: dict[str, Any] | None) -> list[MappingColumn]:
    columns = (definition or {}).get("columns") or {}
    return [MappingColumn(str(header), str(target or "")) for header, target in columns.items()]


def fill_form(form: ProfileForm, definition: dict[str, Any] | None) -> None:
    """Show a stored profile's options in the form."""
    values = normalized(definition or {"name": ""})
    for name in OPTION_FIELDS:
        value = values.get(name)
        form[name].data = "tab" if name == "delimiter" and value == TAB else value
    form.documents_column.data = (values.get("documents") or {}).get("column", "")


def form_definition(form: ProfileForm, columns: list[MappingColumn],
                    previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The profile JSON the form describes (checked by importers.profile); the value mappings
    of the previous version kept for the columns that still go to the same target."""
    definition = {name: form[name].data for name in OPTION_FIELDS}
    definition["name"] = (definition["name"] or "").strip()
    definition["encoding"] = (definition["encoding"] or "").strip() or "auto"
    definition["date_format"] = (definition["date_format"] or "").strip() or "auto"
    definition["sheet"] = (definition["sheet"] or "").strip() or None
    documents = (form.documents_column.data or "").strip()
    if documents:
        definition["documents"] = {"column": documents}
    if definition["delimiter"] == "tab":
        definition["delimiter"] = TAB
    definition["columns"] = {c.header: c.target for c in columns}
    definition["value_maps"] = kept_maps(previous, definition)
    return definition


def with_sample(form: ProfileForm, columns: list[MappingColumn],
                sample: Sample) -> list[MappingColumn]:
    """The sample's columns: a known header keeps its target, a new one gets a guess."""
    known = {c.header.casefold(): c.target for c in columns}
    headers = [header for header, _values in sample.columns]
    guesses = suggest(ENTITIES.get(form.entity.data or ""), headers)
    return [MappingColumn(header, known.get(header.casefold(), guesses.get(header, "")), values)
            for header, values in sample.columns]


def resuggest(form: ProfileForm, columns: list[MappingColumn]) -> list[MappingColumn]:
    """Guesses again, for the entity now chosen."""
    guesses = suggest(ENTITIES.get(form.entity.data or ""), [c.header for c in columns])
    return [MappingColumn(c.header, guesses.get(c.header, ""), c.samples) for c in columns]


def show_errors(form: ProfileForm, columns: list[MappingColumn],
                errors: dict[str, str]) -> list[str]:
    """Put each message by its field or column; return the others."""
    by_header = {f"columns.{c.header}": c for c in columns}
    others = []
    for key, message in errors.items():
        if key in by_header:
            by_header[key].error = message
        elif key in form:
            form[key].errors = [*form[key].errors, message]
        else:
            others.append(message)
    return others


def target_choices(form: ProfileForm):
    return targets(ENTITIES.get(form.entity.data or ""))


def parse_json(text: str | None) -> Any:
    try:
        value = load_json((text or "").encode())
    except JSONInputError as exc:
        raise ValidationError({"": str(exc)}) from None
    except json.JSONDecodeError as exc:
        raise ValidationError({"": _("This is not valid JSON (line %(line)d, column "
                                     "%(column)d).", line=exc.lineno, column=exc.colno)}) from None
    # json keeps the last of a key given twice: a column mapped twice would lose one mapping
    # without a word.
    json.loads(text or "", object_pairs_hook=_refuse_repeated_keys)
    return value


def _refuse_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            raise ValidationError({"": _("“%(key)s” is given twice in the same object: give "
                                         "it once.", key=key[:100])})
        seen.add(key)
    return dict(pairs)


def json_text(definition: dict[str, Any]) -> str:
    return json.dumps(definition, indent=2, ensure_ascii=False)
