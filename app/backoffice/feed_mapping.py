"""The mapping screen's help: what a column may go to, a guess for each header, and a
sample file's columns with a few values."""
from __future__ import annotations

import codecs
import os
import shutil
import tempfile
import unicodedata
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any

from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.custom_fields import definitions
from app.entities import ENTITIES, REF, Entity
from importers.profile import DELIMITERS, LINE_TARGETS, MAX_COLUMNS
from importers.readers import open_table
from importers.runs import limits
from importers.vocabulary import HEADER_WORDS

SAMPLE_ROWS = 3
SAMPLE_CHARS = 60
LINE_LABELS = {"sku": _l("SKU"), "label": _l("Label"), "quantity": _l("Quantity"),
               "unit_price": _l("Unit price"), "tax_rate": _l("Tax rate")}

# Header words of real files folded onto the words of the labels ("N°", "Code", "Qté").
SYNONYMS = {"n": "numero", "no": "numero", "num": "numero", "nr": "numero", "number": "numero",
            "ref": "reference", "code": "reference", "id": "reference",
            "identifiant": "reference", "montant": "total", "amount": "total",
            "qte": "quantite", "qty": "quantite", "quantity": "quantite", "mail": "email",
            "courriel": "email", "tel": "telephone", "phone": "telephone"}
STOP_WORDS = {"de", "du", "des", "la", "le", "les", "d", "l", "a", "au", "aux", "en", "par",
              "the", "of", "on", "in", "by"}
REF_WORDS = {"reference", "numero"}



def tokens(text: str) -> frozenset[str]:
    """A header's words, case, accents, punctuation and small words aside."""
    folded = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in folded.casefold()).split()
    return frozenset(SYNONYMS.get(w, w) for w in words if w not in STOP_WORDS)


def _both(label: Any) -> list[str]:
    """A label in French and in English."""
    texts = []
    for locale in ("fr", "en"):
        with force_locale(locale):
            texts.append(str(label))
    return texts


@dataclass
class Target:
    value: str
    label: str
    group: str
    keys: set[frozenset[str]] = field(default_factory=set)

    def add(self, *texts: Any) -> None:
        self.keys.update(k for k in map(tokens, texts) if k)


def targets(entity: Entity | None) -> list[Target]:
    """Every target a column of `entity`'s files may map to, with the words that name it."""
    if entity is None:
        return []
    locale = str(get_locale() or "fr")
    found = [Target("external_ref", str(REF), str(_("Fields")))]
    found[0].add(*_both(REF), "external_ref")
    for spec in entity.fields:
        if spec.name == "external_ref" or spec.ref == "users":
            continue
        if spec.type == "ref":
            related = ENTITIES[spec.ref]
            target = Target(f"{spec.name}.external_ref",
                            _("%(field)s (external reference)", field=spec.label),
                            str(_("Related records")))
            target.add(*_both(spec.label), *_both(related.singular), *_both(related.label),
                       spec.name, target.value)
        else:
            target = Target(spec.name, str(spec.label), str(_("Fields")))
            target.add(*_both(spec.label), spec.name)
            if spec.name == entity.date_field:
                target.add("date")
        found.append(target)
    for cf in definitions(entity.name):
        target = Target(f"custom.{cf.key}", cf.label(locale), str(_("Custom fields")))
        target.add(cf.label_fr, cf.label_en, cf.key, target.value)
        found.append(target)
    if entity.line_model is not None:
        for name in LINE_TARGETS:
            target = Target(f"lines.{name}", str(LINE_LABELS[name]), str(_("Lines")))
            target.add(*_both(LINE_LABELS[name]), name, target.value)
            found.append(target)
    for target in found:
        target.add(*HEADER_WORDS.get(target.value, ()),
                   *HEADER_WORDS.get(f"{entity.name}:{target.value}", ()))
    return found


def grouped(options: list[Target]) -> list[tuple[str, list[Target]]]:
    """Targets by group, for a select's optgroups."""
    groups: dict[str, list[Target]] = {}
    for target in options:
        groups.setdefault(target.group, []).append(target)
    return list(groups.items())


def _score(target: Target, words: frozenset[str], stripped: frozenset[str]) -> int:
    if words in target.keys:
        return 3
    if stripped in target.keys:
        return 2
    if target.value.endswith(".external_ref") and (stripped - REF_WORDS) in target.keys:
        return 2
    if any(stripped < key for key in target.keys):
        return 1
    return 0


def suggest(entity: Entity | None, headers: list[str],
            options: list[Target] | None = None) -> dict[str, str]:
    """The likeliest target of each header (best matches first, each target once)."""
    options = targets(entity) if options is None else options
    if entity is None:
        return {}
    # "N° Facture" in an invoices file is the invoice's number: the entity's name aside.
    entity_words = set().union(*map(tokens, (*_both(entity.label), *_both(entity.singular))))
    candidates = []
    for index, header in enumerate(headers):
        words = tokens(header)
        stripped = (words - entity_words) or words
        scored = [(_score(t, words, stripped), t.value) for t in options] if words else []
        best = max((score for score, _value in scored), default=0)
        tops = [value for score, value in scored if score == best]
        if best > 1 or (best == 1 and len(tops) == 1):
            candidates += [(-best, index, position, value)
                           for position, value in enumerate(tops)]
    chosen: dict[str, str] = {}
    for _best, index, _position, value in sorted(candidates):
        if headers[index] not in chosen and value not in chosen.values():
            chosen[headers[index]] = value
    return chosen


@dataclass
class Sample:
    kind: str
    encoding: str | None
    delimiter: str | None
    columns: list[tuple[str, list[str]]]


def read_sample(stream: IO[bytes], encoding: str, delimiter: str,
                sheet: str | None = None) -> Sample:
    """A sample file's header and first rows, read from a temporary copy (never kept)."""
    root = Path(current_app.config["FILES_DIR"]) / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=root, suffix=".sample")
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
        table = open_table(name, encoding=_encoding(encoding), limits=limits(),
                           delimiter=delimiter if delimiter in DELIMITERS else "auto",
                           sheet=sheet)
        with closing(table.rows()) as rows:
            first = list(islice(rows, SAMPLE_ROWS))
    finally:
        os.unlink(name)
    columns = [(header, [_shown(row.cells[i]) for row in first])
               for i, header in enumerate(table.header[:MAX_COLUMNS]) if header.strip()]
    return Sample(table.kind, table.encoding, table.delimiter, columns)


def _encoding(name: str) -> str:
    try:
        codecs.lookup(name)
        return name
    except LookupError:
        return "auto"


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        value = value.isoformat()
    text = str(value)
    return text if len(text) <= SAMPLE_CHARS else text[:SAMPLE_CHARS - 1] + "…"
