"""What a feed writes is found by search, accents and capitals aside: new records, and
records changed by a file that gives only some of the searched fields."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Account, Invoice
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


def test_a_feed_with_lines_changes_what_search_finds_too(feed_file, make_profile, run_import,
                                                          make_account, make_invoice):
    # Documents with lines go through the engine's row path, not the column path above.
    account = make_account(name="Hôtel du Lac", external_ref="C1")
    invoice = make_invoice(account=account.id, number="FA-ANCIEN", external_ref="ERP-1")
    profile = make_profile("invoices", {
        "Code": "external_ref", "Numéro": "number", "Client": "account.external_ref",
        "Libellé": "lines.label", "Prix": "lines.unit_price"}, mode="upsert", decimal=".")
    run = run_import(profile, feed_file("Code;Numéro;Client;Libellé;Prix\n"
                                        "ERP-1;FA-NOUVEAU;C1;Pose;100\n"))
    assert (run.updated, run.failed) == (1, 0), run.counts
    found = list(db.session.scalars(select(Invoice.id).where(matches(Invoice, "fa-nouveau"))))
    assert found == [invoice.id]
    assert list(db.session.scalars(select(Invoice.id).where(matches(Invoice, "ancien")))) == []
    assert list(db.session.scalars(select(Invoice.id).where(matches(Invoice, "erp-1")))) \
        == [invoice.id]
