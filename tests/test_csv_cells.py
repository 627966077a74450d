"""The one rule every CSV that leaves Relais follows: formulas are shown, never evaluated."""
from __future__ import annotations

import pytest

from app.csv_cells import safe_cell


@pytest.mark.parametrize("text", ["=1+2", "+33 6 12 34 56 78", "-2+3", "@SUM(A1)", "\t=1",
                                  "\r=1", "-", "-1e3", "-A1"])
def test_a_formula_gets_a_leading_quote(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["-12,50", "-1.234,56", "-7", "Durand", "", "12", "a=b"])
def test_numbers_and_plain_text_are_kept(text):
    assert safe_cell(text) == text
