"""The search text: one folding for records and words, kept by every write, erasure included."""
from __future__ import annotations

from sqlalchemy import select

from app.entities import ENTITIES
from app.extensions import db
from app.models import Account, Contact
from app.search_text import fold, matches, search_text, words
from app.services.erasure import anonymise_contact
from app.services.record_batches import RecordWriter


def test_folding_drops_accents_capitals_and_extra_spaces():
    assert fold("  Hôtel\tDU   Lac ") == "hotel du lac"
    assert fold("Crème BRÛLÉE ÇA") == "creme brulee ca"
    assert fold("Straße") == "strasse"
    assert fold(None) == "" and words("  ") == []
    assert words("Atelier  André") == ["atelier", "andre"]
    text = search_text(ENTITIES["accounts"], {"name": "Hôtel du Lac", "city": "Annecy",
                                              "external_ref": "C-1"})
    assert text == "hotel du lac annecy\x1ec-1"


def _found(model, q: str) -> list[int]:
    return list(db.session.scalars(select(model.id).where(matches(model, q))))


def test_a_change_without_the_other_fields_reads_them_after_the_write(tenant, make_account):
    account = make_account(name="Atelier Dupont", city="Évian")
    # Neither a state nor a read of the record before: the writer reads it back after.
    RecordWriter(ENTITIES["accounts"]).update([{"id": account.id, "name": "Atelier André"}])
    assert _found(Account, "andre evian") == [account.id]
    assert _found(Account, "dupont") == []


def test_an_erased_contact_is_no_longer_found_by_his_name(tenant, make_contact):
    contact = make_contact(first_name="Hélène", last_name="Lefèvre")
    assert _found(Contact, "helene lefevre") == [contact.id]
    anonymise_contact(contact)
    db.session.commit()
    assert _found(Contact, "lefevre") == []
    assert _found(Contact, "anonymised") == [contact.id]
