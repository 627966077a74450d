"""The French catalogue covers every message of the code and templates."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
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


def _messages(catalogue) -> dict:
    """What gettext can answer from a catalogue: translated, non-fuzzy messages (as compiled)."""
    def plain(value):  # a plural's forms: a tuple from a .po, a list from a .mo
        return tuple(value) if isinstance(value, list | tuple) else value

    return {plain(m.id): plain(m.string) for m in catalogue
            if m.id and m.string and not m.fuzzy}


def test_the_committed_compiled_catalogue_is_the_po_compiled():
    # The .mo is in git so that an install from requirements.txt speaks French without
    # `make`: it must say what the .po says. Fix: .venv/bin/pybabel compile -d app/translations
    for po_path in (ROOT / "app/translations").glob("*/LC_MESSAGES/messages.po"):
        with po_path.open("rb") as fh:
            source = _messages(read_po(fh))
        with po_path.with_suffix(".mo").open("rb") as fh:
            compiled = _messages(read_mo(fh))
        assert source, po_path
        stale = sorted(str(k) for k in source.keys() ^ compiled.keys()
                       | {k for k in source.keys() & compiled.keys() if source[k] != compiled[k]})
        assert stale == [], f"{po_path.with_suffix('.mo')} is stale: pybabel compile it"


FRESH_PROCESS = """
from flask_babel import gettext
from app import create_app
app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
with app.test_request_context(headers={"Accept-Language": "fr"}):
    print(gettext("Paid"))
"""


def test_a_copy_of_the_repository_speaks_french_without_make(tmp_path):
    """What git holds, started as gunicorn or flask would: no `make`, no pybabel compile."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                                capture_output=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs a git checkout")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, tmp_path / name)
    answer = subprocess.run([sys.executable, "-c", FRESH_PROCESS], cwd=tmp_path, check=True,
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert answer.stdout.strip() == "Payée"
