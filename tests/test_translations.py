"""The French catalogue covers every message of the code and templates."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def test_every_message_has_a_french_translation(tmp_path):
    template = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "-o", str(template), "."],
        cwd=ROOT, check=True, capture_output=True)
    with template.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    with (ROOT / "app/translations/fr/LC_MESSAGES/messages.po").open("rb") as fh:
        french = {m.id: m for m in read_po(fh) if m.id}
    assert len(wanted) > 200  # the extraction found the code's messages
    def translated(message) -> bool:  # a plural needs every form
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        return all(forms)

    missing = sorted(str(i) for i in wanted if i not in french or not translated(french[i]))
    fuzzy = sorted(str(i) for i in wanted if i in french and french[i].fuzzy)
    assert missing == [] and fuzzy == []
