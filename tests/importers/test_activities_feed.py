"""A call report as a feed: each row an activity on the customer it names by reference."""
from __future__ import annotations

from datetime import UTC, datetime

from tests.importers.conftest import by_key, row_errors

CALL_REPORT = {"N° appel": "external_ref", "Code client": "account.external_ref",
               "Type": "kind", "Date": "done_at", "Objet": "subject", "Compte rendu": "body"}


def test_a_call_report_creates_activities_on_the_customers_it_names(
        make_profile, run_import, feed_file, make_account):
    dupont = make_account(name="Stores Dupont", external_ref="C001")
    profile = make_profile("activities", CALL_REPORT)
    run = run_import(profile, feed_file(
        "N° appel;Code client;Type;Date;Objet;Compte rendu\n"
        "A1;C001;Appel;04/12/2026 14:30;Relance devis;Rappeler lundi\n"
        "A2;C999;Appel;04/12/2026 15:00;Inconnu;\n"
        "A3;C001;Rendez-vous;demain;Visite;\n"))
    assert (run.counts["created"], run.failed) == (1, 2)
    call = by_key("activities")["A1"]
    assert (call.account_id, call.kind, call.subject, call.body) == (
        dupont.id, "call", "Relance devis", "Rappeler lundi")
    assert call.done_at == datetime(2026, 12, 4, 13, 30, tzinfo=UTC)  # Paris time in the file
    errors = {e.line: e.message for e in row_errors(run)}
    assert "C999" in errors[3]
    assert 4 in errors


def test_a_feed_cannot_put_an_activity_on_another_customers_record(
        make_profile, run_import, feed_file, make_account, make_contact):
    dupont = make_account(name="Stores Dupont", external_ref="C001")
    martin = make_account(name="Volets Martin", external_ref="C002")
    make_contact(account=martin.id, external_ref="K2", last_name="Martin")
    make_contact(account=dupont.id, external_ref="K1", last_name="Dupont")
    profile = make_profile("activities", {**CALL_REPORT, "Contact": "contact.external_ref"})
    run = run_import(profile, feed_file(
        "N° appel;Code client;Type;Date;Objet;Compte rendu;Contact\n"
        "A1;C001;Appel;04/12/2026 14:30;Relance;;K1\n"
        "A2;C001;Appel;04/12/2026 15:00;Mauvais contact;;K2\n"))
    assert (run.counts["created"], run.failed) == (1, 1)
    [error] = row_errors(run)
    assert error.line == 3 and error.column == "Contact"
    assert set(by_key("activities")) == {"A1"}
