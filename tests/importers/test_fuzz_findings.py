"""What the fuzzers (tests/fuzz) found in the feed parsers, kept as regression tests; each
crash input also stays in the seed corpus (tests/fuzz/corpus/TARGET/crash-*), replayed by
every fuzz run."""
from __future__ import annotations

from decimal import Decimal

import pytest

from app.errors import ValidationError
from importers.profile import parse_profile
from importers.values import InvalidValue, parse_bool

INVOICES = {"name": "factures", "entity": "invoices", "key": "number",
            "columns": {"N° facture": "number", "Montant TTC": "total"}}


@pytest.mark.parametrize("encoding", ["cp1252\x00", "\ud800cp1252"])
def test_a_profile_whose_encoding_no_codec_can_be_named_by_is_refused_on_that_option(
        app_ctx, tenant, encoding):
    # codecs.lookup raised ValueError (NUL) or UnicodeEncodeError (a lone surrogate), not
    # LookupError: the check let them escape instead of naming the option.
    with pytest.raises(ValidationError) as refused:
        parse_profile({**INVOICES, "encoding": encoding})
    assert set(refused.value.errors) == {"encoding"}


@pytest.mark.parametrize("raw", [Decimal("sNaN"), Decimal("-sNaN")])
def test_a_signaling_nan_is_refused_as_no_yes_or_no(raw):
    # Comparing it with 1 raised decimal.InvalidOperation instead of the converter's own error.
    with pytest.raises(InvalidValue) as refused:
        parse_bool(raw)
    assert "is not yes or no" in str(refused.value)
