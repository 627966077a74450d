"""What a feed writes is found by search, accents and capitals aside: new records, and
records changed by a file that gives only some of the searched fields."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Account
from app.search_text import matches


def _found(q: str) -> list[str]:
    return sorted(db.session.scalars(select(Account.name).where(matches(Account, q))))


def test_an_import_creates_and_changes_what_search_finds(feed_file, make_profile, run_import,
                                                         make_account):
    make_account(name="Atelier Dupont", city="Évian", external_ref="C1")
    profile = make_profile("accounts", {"Code": "external_ref", "Nom": "name"}, mode="upsert")
    run = run_import(profile, feed_file("Code;Nom\nC1;Atelier André\nC2;Hôtel du Lac\n"))
    assert (run.created, run.updated, run.failed) == (1, 1, 0), run.counts
    assert _found("atelier andre") == ["Atelier André"]
    assert _found("andre evian") == ["Atelier André"]  # the city the file does not give
    assert _found("HOTEL DU LAC") == ["Hôtel du Lac"]
    assert _found("dupont") == []
    assert db.session.scalar(select(Account.search_text).where(Account.external_ref == "C2")) \
        == "hotel du lac\x1ec2"
