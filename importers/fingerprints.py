"""Fingerprints of feed rows: a row byte for byte the one that made its record, recognised
without converting a cell.

A row's fingerprint is a BLAKE2b digest (16 bytes) of its mapped cells as read, in the
profile's column order and joined by NUL (which the CSV reader never leaves in a cell: the
join cannot be ambiguous), salted with what else decides what the row converts to: the
profile's definition at the run's version (columns, options, value maps) and its columns'
order (two versions may map the same columns in another order: the same cells joined in
another order), the entity's custom field definitions, the longest cell allowed, and FORMAT,
raised whenever the engine's conversion rules change. The digest is stored on the record
(`import_digest`) when the run creates it, or finds it equal to the row and unwritten since
it read it (a record the run changes takes it when a later run finds it equal); any other
write empties it (app/services/fingerprints.py). A later row of the same profile with the
same digest is then unchanged: its record is what it would write.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from app.models import CustomField
from app.values import local_zone
from importers.profile import Profile

# Raise when a change of the engine makes a row convert differently. 2: currencies, years
# and date order checked as every write checks them; custom dates and numbers read in the
# profile's formats.
FORMAT = 2
DIGEST_BYTES = 16
SEPARATOR = "\x00"


def salt(
    profile_id: int, profile: Profile, custom_fields: dict[str, CustomField], max_field_length: int
) -> bytes:
    """What a row's conversion depends on besides its cells, as BLAKE2b's 16-byte salt."""
    definitions = sorted(
        (cf.key, cf.type, bool(cf.is_required), list(cf.choices or ()), bool(cf.is_active))
        for cf in custom_fields.values()
    )
    parts: list[Any] = [FORMAT, profile_id, profile.definition,
                        [t.header for t in profile.targets], definitions, max_field_length]
    if _reads_moments(profile, custom_fields):  # a time without an offset is local time
        parts.append(["zone", str(local_zone())])
    text = json.dumps(
        parts,
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _reads_moments(profile: Profile, custom_fields: dict[str, CustomField]) -> bool:
    """Whether a column of the profile is a date and time, read in the app's zone."""
    fields = {f.name: f for f in profile.entity.fields}
    for target in profile.targets:
        spec = fields.get(target.name) if target.kind == "field" \
            else custom_fields.get(target.name) if target.kind == "custom" else None
        if getattr(spec, "type", None) == "datetime":
            return True
    return False


def row_digests(
    salt: bytes, indexes: Sequence[int], width: int
) -> Callable[[list[list[str]]], list[bytes]]:
    """The function giving a batch's rows (cells of `width`) their fingerprints, over the
    cells at `indexes` (the mapped columns, in the profile's order)."""
    join = SEPARATOR.join
    # One salted hash object copied for each row: the salt and parameters set once (a third
    # faster than a new blake2b(…, salt=…) per row, same digests).
    base = hashlib.blake2b(digest_size=DIGEST_BYTES, salt=salt)
    picked: Any = None
    if list(indexes) != list(range(width)):
        picked = (itemgetter(*indexes) if len(indexes) > 1
                  else (lambda cells, at=indexes[0]: (cells[at],)))

    def digests(rows: list[list[str]]) -> list[bytes]:
        texts = map(join, rows if picked is None else map(picked, rows))
        try:
            encoded = list(map(str.encode, texts))  # UTF-8, strict
        except UnicodeEncodeError:  # a lone surrogate: as surrogatepass writes it
            texts = map(join, rows if picked is None else map(picked, rows))
            encoded = [text.encode("utf-8", "surrogatepass") for text in texts]
        found = []
        append, copy = found.append, base.copy
        for data in encoded:
            digest = copy()
            digest.update(data)
            append(digest.digest())
        return found

    return digests
