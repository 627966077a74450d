"""What the fuzzers found (tests/fuzz), kept as regression tests where a client meets it."""
from __future__ import annotations

import pytest

from importers.values import InvalidValue, make_date_parser
from tests.api.conftest import problem

# A date format whose directives repeat: strptime raises re.error, not ValueError.
BROKEN_FORMATS = ["%d%d", "%Y-%m-%d %Y", "%H:%M:%M"]


@pytest.mark.parametrize("date_format", BROKEN_FORMATS)
def test_a_profile_with_a_repeated_date_directive_is_a_422_naming_the_field(
        api_client, date_format):
    body = problem(api_client.post("/api/v1/import-profiles", json={
        "name": "dates", "entity": "accounts", "date_format": date_format,
        "columns": {"Code": "external_ref", "Nom": "name"}}), 422)
    assert "date_format" in str(body)


@pytest.mark.parametrize("date_format", BROKEN_FORMATS)
def test_the_date_converter_refuses_a_repeated_directive_with_its_message(app_ctx, date_format):
    with pytest.raises(InvalidValue) as caught:
        make_date_parser(date_format)
    assert date_format in str(caught.value)
