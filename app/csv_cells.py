"""The one rule for a text cell of a CSV that leaves Relais: a formula is neutralised.

Excel and LibreOffice evaluate a cell that starts with =, +, -, @ (and tab or CR, which they
strip first); a downloaded file could then run a formula that its author slipped into a name
or a feed. Every CSV writer (exports, errors files of import runs) passes its cells here.
"""
from __future__ import annotations

import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A negative number as written in a file (-12,50, -1.234,5): shown as the number it is, since
# nothing in it can be evaluated as a formula.
_NEGATIVE_NUMBER = re.compile(r"-\d+(?:[.,]\d+)*")
# The same test in PostgreSQL's regular expressions (exports written by COPY).
NEGATIVE_NUMBER_SQL = r"^-[0-9]+([.,][0-9]+)*$"


def safe_cell(text: str) -> str:
    """`text`, with a leading quote when a spreadsheet would read it as a formula."""
    if text.startswith(FORMULA_START) and not _NEGATIVE_NUMBER.fullmatch(text):
        # A leading quote makes Excel and LibreOffice show the text instead of evaluating it.
        return "'" + text
    return text
