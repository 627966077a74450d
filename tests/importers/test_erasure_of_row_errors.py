"""A person erased (anonymised) no longer reads in the row errors of feed runs: neither
their cells, nor their values, nor their messages."""
from __future__ import annotations

from app.extensions import db
from tests.importers.conftest import by_key, row_errors


def test_an_erased_persons_email_leaves_the_messages_of_a_runs_errors(
        make_profile, run_import, feed_file, make_account, api_client):
    """A contact's reference is his e-mail, given twice: the later row fails "The key “…” is
    repeated". Erased, he no longer reads in the run's errors: neither in the row and the
    value, nor in the message and its values."""
    from app.services.erasure import anonymise_contact

    make_account(external_ref="C001", name="Client Un")
    email = "jean.dupont@example.com"
    profile = make_profile("contacts", {"Réf": "external_ref", "Compte": "account.external_ref",
                                        "Nom": "last_name", "Mail": "email"})
    run = run_import(profile, feed_file(
        f"Réf;Compte;Nom;Mail\n{email};C001;Dupont;{email}\n{email};C001;Dupont;{email}\n"))
    assert run.failed == 1
    contact = by_key("contacts")[email]
    anonymise_contact(contact)
    db.session.commit()
    [error] = row_errors(run)
    assert error.value is None and error.raw is None
    body = api_client.get(f"/api/v1/imports/{run.id}/errors",
                          headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert email not in body and "anonymised" in body


def test_an_erased_persons_accented_name_leaves_the_failed_rows(
        make_profile, run_import, feed_file, make_account, make_contact):
    """A failed row names Hélène Bérégovoy (no e-mail in the file): erased, her cells go too,
    accents and all (SQLite keeps the row's JSON with its accents escaped)."""
    from app.services.erasure import anonymise_contact

    account = make_account(external_ref="C001", name="Client Un")
    profile = make_profile("contacts", {"Réf": "external_ref", "Compte": "account.external_ref",
                                        "Prénom": "first_name", "Nom": "last_name"})
    run = run_import(profile, feed_file(
        "Réf;Compte;Prénom;Nom\nK1;C404;Hélène;Bérégovoy\n"))
    assert run.failed == 1
    contact = make_contact(account=account.id, external_ref="K2", first_name="Hélène",
                           last_name="Bérégovoy")
    anonymise_contact(contact)
    db.session.commit()
    [error] = row_errors(run)
    assert error.raw is None, error.raw
