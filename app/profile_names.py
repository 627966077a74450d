"""Profile names: written as people type them (Word's en dash, curly quotes, accents), found
again when typed plainly.

A name is shown in pages, named on the command line (`flask feed import --profile NAME`) and in
the API (`"profile": NAME`), and printed in logs; pages and the API address a profile by its id,
never by its name, so no slug is needed. What stays refused is what would break those uses:
control and invisible characters (a name on two lines in a log, a name that looks like another),
slashes (a name is a folder of the SFTP inbox to come), and more than 100 characters.
"""
from __future__ import annotations

import re
import unicodedata

NAME_LENGTH = 100
# Typographic characters and the plain ones a keyboard or a shell gives.
_PLAIN = str.maketrans({
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2033": '"',
})


def is_valid_name(name: str) -> bool:
    """Letters of any language, digits, spaces and punctuation, slashes excepted; 1–100."""
    if not name or len(name) > NAME_LENGTH or name != name.strip():
        return False
    return not any(
        char in "/\\" or unicodedata.category(char)[0] in "CZ" and char != " "
        for char in name)


def plain_name(name: str) -> str:
    """What two names that read the same share: "Clients – import nocturne" and
    "clients - import  nocturne" give the same plain name."""
    text = unicodedata.normalize("NFKC", name or "").translate(_PLAIN)
    text = re.sub(r"\s*\"\s*", '"', text)  # « Société » and "Société"
    return re.sub(r"\s+", " ", text).strip().casefold()
