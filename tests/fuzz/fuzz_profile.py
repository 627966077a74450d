"""An import profile's JSON as an integrator may post it or an admin type it, checked by
importers/profile.py against a tenant that has a custom field of every type, then compiled to
the converters of a file's header: a profile is refused only with ValidationError.

Input: the JSON document (what app/json_input.py lets through, and more: the parser must not
rely on that gate), then optionally a line of headers.
"""
from __future__ import annotations

import json

import atheris

with atheris.instrument_imports(include=["importers.profile", "importers.convert"]):
    from importers.convert import compile_columns
    from importers.profile import parse_profile

from app.custom_fields import definitions
from app.errors import ValidationError
from tests.fuzz.common import tenant_app


def fuzz(data: bytes) -> None:
    tenant_app()
    document, _sep, header_line = data.partition(b"\n#header\n")
    try:
        definition = json.loads(document.decode("utf-8", errors="surrogatepass"))
    except (ValueError, RecursionError):
        return
    try:
        profile = parse_profile(definition)
    except ValidationError as exc:
        assert exc.errors and all(isinstance(m, str) for m in exc.errors.values()), exc.errors
        return
    json.dumps(profile.definition)  # what is stored
    header = header_line.decode("utf-8", errors="replace").split(";") if header_line else \
        [target.header for target in profile.targets]
    custom = {field.key: field for field in definitions(profile.entity.name)}
    columns, missing = compile_columns(profile, header, custom)
    assert len(columns) + len(missing) == len(profile.targets)
