"""A feed's choices (statuses, stages, kinds) in French or English whatever the case and
accents, and whether or not the translation catalogue was compiled: what a file means never
depends on how the application was started."""
from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale, get_babel, gettext

from app.entities import ENTITIES, STATUS_LABELS
from importers.vocabulary import CHOICE_WORDS, folded
from tests.importers.conftest import by_key, row_errors

CATALOGUE = Path(__file__).resolve().parents[2] / "app/translations/fr/LC_MESSAGES/messages.po"


@pytest.fixture
def no_compiled_catalogue(app, app_ctx, tmp_path, monkeypatch):
    """The application as installed without `make`: no messages.mo anywhere it looks."""
    babel = get_babel(app)
    monkeypatch.setattr(babel, "translation_directories", [str(tmp_path)])
    monkeypatch.setattr(babel.instance.domain_instance, "cache", {})
    with force_locale("fr"):
        assert gettext("Paid") == "Paid"  # French is really gone


def test_an_invoice_file_in_french_imports_without_the_compiled_catalogue(
        no_compiled_catalogue, make_account, make_profile, run_import, feed_file):
    make_account(external_ref="C001")
    profile = make_profile("invoices", {"Réf": "external_ref", "N°": "number",
                                        "Client": "account.external_ref", "Statut": "status"})
    run = run_import(profile, feed_file(
        "Réf;N°;Client;Statut\nI1;F-1;C001;Émise\nI2;F-2;C001;Payée\nI3;F-3;C001;PAYEE\n"
        "I4;F-4;C001;  en retard \nI5;F-5;C001;Paid\nI6;F-6;C001;cancelled\n"))
    assert run.counts["created"] == 6, [e.message for e in row_errors(run)]
    assert {ref: i.status for ref, i in by_key("invoices").items()} == {
        "I1": "issued", "I2": "paid", "I3": "paid", "I4": "overdue", "I5": "paid",
        "I6": "cancelled"}


def test_a_word_of_another_field_is_still_refused(make_account, make_profile, run_import,
                                                  feed_file):
    make_account(external_ref="C001")
    profile = make_profile("invoices", {"Réf": "external_ref", "Client": "account.external_ref",
                                        "Statut": "status"})
    run = run_import(profile, feed_file("Réf;Client;Statut\nI1;C001;Gagnée\n"))
    assert run.counts["failed"] == 1
    assert "Gagnée" in str(row_errors(run)[0].message)


def test_the_vocabulary_knows_every_choice_by_the_names_the_screens_show():
    with CATALOGUE.open("rb") as fh:
        french = {m.id: m.string for m in read_po(fh) if m.id}
    codes = {code for entity in ENTITIES.values() for field in entity.fields
             if field.type == "choice" for code in field.choices or ()}
    assert codes and codes <= set(CHOICE_WORDS)
    for code in codes:
        words = {folded(word) for word in CHOICE_WORDS[code]}
        english = STATUS_LABELS[code]._args[0]  # the msgid: the English label
        assert {folded(english), folded(french[english])} <= words, code
