"""A person erased (anonymised) no longer reads in the row errors of feed runs: neither
their cells, nor their values, nor their messages."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.services.erasure import anonymise_contact, anonymise_customer
from tests.importers.conftest import all_errors, by_key, row_errors


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


@pytest.mark.parametrize("written", ["Hélène;Bérégovoy", "HÉLÈNE;BÉRÉGOVOY"])
def test_an_erased_persons_accented_name_leaves_the_failed_rows(
        make_profile, run_import, feed_file, make_account, make_contact, written):
    """A failed row names Hélène Bérégovoy (no e-mail in the file), as she is written or in
    capitals: erased, her cells go too, accents and all (SQLite keeps the row's JSON with its
    accents escaped, and its lower() folds ASCII letters only)."""
    from app.services.erasure import anonymise_contact

    account = make_account(external_ref="C001", name="Client Un")
    profile = make_profile("contacts", {"Réf": "external_ref", "Compte": "account.external_ref",
                                        "Prénom": "first_name", "Nom": "last_name"})
    run = run_import(profile, feed_file(f"Réf;Compte;Prénom;Nom\nK1;C404;{written}\n"))
    assert run.failed == 1
    contact = make_contact(account=account.id, external_ref="K2", first_name="Hélène",
                           last_name="Bérégovoy")
    anonymise_contact(contact)
    db.session.commit()
    [error] = row_errors(run)
    assert error.raw is None, error.raw


def test_erasing_a_person_leaves_the_errors_of_other_rows_whose_message_lists_his_choice(
        make_profile, run_import, feed_file, make_account, make_contact, make_custom_field,
        api_client):
    """Claire's segment is "Prospect" (a choice). Another contact's row failed on its segment
    ("Inconnu" is not one of: Prospect, Fidèle): nothing of Claire is in that row. Erasing
    Claire must not wipe that row's cells and value, nor rewrite its message's choices."""
    from app.services.erasure import anonymise_contact

    account = make_account(external_ref="C001", name="Client Un")
    make_custom_field("contacts", "segment", "choice", choices=["Prospect", "Fidèle"])
    profile = make_profile("contacts", {"Réf": "external_ref", "Compte": "account.external_ref",
                                        "Nom": "last_name", "Segment": "custom.segment"})
    run = run_import(profile, feed_file("Réf;Compte;Nom;Segment\nK1;C001;Durand;Inconnu\n"))
    assert run.failed == 1
    claire = make_contact(account=account.id, external_ref="K9", last_name="Lenoir",
                          custom={"segment": "Prospect"})
    anonymise_contact(claire)
    db.session.commit()
    [error] = row_errors(run)
    assert error.value == "Inconnu" and error.raw is not None, (error.value, error.raw)
    assert "anonymised" not in error.message, error.message


def test_erasing_a_client_contact_leaves_every_unknown_customer_error_of_the_tenant(
        make_profile, run_import, feed_file, make_account, make_contact, make_custom_field,
        api_client):
    """Contacts have a "Type" (Client / Prospect). Erasing one whose type is "Client" must not
    touch a run's "Aucun client avec la référence « C404 »" (the run ran in French): that
    row names no one, and its value C404 is what tells the user which customer is missing."""
    from app.services.erasure import anonymise_contact

    account = make_account(external_ref="C001", name="Société Un")
    make_custom_field("contacts", "type", "choice", choices=["Client", "Prospect"])
    profile = make_profile("contacts", {"Réf": "external_ref", "Compte": "account.external_ref",
                                        "Nom": "last_name"})
    run = run_import(profile, feed_file("Réf;Compte;Nom\nK1;C404;Durand\n"))
    [error] = row_errors(run)
    assert error.value == "C404" and "client" in error.message, error.message
    someone = make_contact(account=account.id, external_ref="K9", first_name="Jo",
                           last_name="Lenoir", custom={"type": "Client"})
    anonymise_contact(someone)
    db.session.commit()
    [error] = all_errors(api_client, run.id, language="fr")
    assert error["value"] == "C404", error


def test_an_erased_contacts_values_leave_the_changes_a_run_shows(
        make_profile, run_import, feed_file, make_account, admin_client, api_client):
    """A nightly run changed Jean's e-mail and phone: its page shows the change ("E-mail:
    old → new"). Jean erased, his audit trail loses both values; the run's page must too."""
    make_account(external_ref="C001", name="Client Un")
    profile = make_profile("contacts", {"Réf": "external_ref", "Compte": "account.external_ref",
                                        "Nom": "last_name", "Mail": "email",
                                        "Tél": "phone"})
    run_import(profile, feed_file(
        "Réf;Compte;Nom;Mail;Tél\nK1;C001;Dupont;jean.dupont@example.com;0612345678\n",
        name="day1.csv"))
    run = run_import(profile, feed_file(
        "Réf;Compte;Nom;Mail;Tél\nK1;C001;Dupontel;jean.dupontel@example.org;0698765432\n",
        name="day2.csv"))
    assert run.updated == 1 and run.diff_sample, run.diff_sample
    anonymise_contact(by_key("contacts")["K1"])
    db.session.commit()
    page = admin_client.get(f"/alpha/feeds/runs/{run.id}").get_data(as_text=True)
    for personal in ("jean.dupont@example.com", "jean.dupontel@example.org", "Dupontel",
                     "0698765432"):
        assert personal not in page, personal
    api = api_client.get(f"/api/v1/imports/{run.id}").get_data(as_text=True)
    assert "jean.dupont@example.com" not in api and "Dupontel" not in api, api


def test_erasing_a_prospect_leaves_the_failed_rows_of_the_other_prospects(
        make_profile, run_import, feed_file, make_account, make_contact, make_custom_field):
    """Claire's segment is "Prospect" (a choice every other prospect has too). Durand's row,
    a prospect too, failed on its customer (C404): nothing of Claire is in it. Erasing Claire
    must leave Durand's cells, which the errors file needs to send the row again."""
    account = make_account(external_ref="C001", name="Client Un")
    make_custom_field("contacts", "segment", "choice", choices=["Prospect", "Fidèle"])
    profile = make_profile("contacts", {"Réf": "external_ref", "Compte": "account.external_ref",
                                        "Nom": "last_name", "Segment": "custom.segment"})
    run = run_import(profile, feed_file("Réf;Compte;Nom;Segment\nK1;C404;Durand;Prospect\n"))
    assert run.failed == 1
    claire = make_contact(account=account.id, external_ref="K9", last_name="Lenoir",
                          custom={"segment": "Prospect"})
    anonymise_contact(claire)
    db.session.commit()
    [error] = row_errors(run)
    assert error.raw == ["K1", "C404", "Durand", "Prospect"] and error.value == "C404", \
        (error.raw, error.value)


def test_erasing_a_private_customer_leaves_the_failed_rows_of_other_customers_of_his_town(
        make_profile, run_import, feed_file, make_account):
    """Paul, a private customer, lives in Toulouse. A company of Toulouse failed in the
    customers' feed (its partner is unknown). Erasing Paul must not wipe that company's row,
    nor rewrite its message."""
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name", "Ville": "city",
                                        "Apporteur": "partner.external_ref"})
    run = run_import(profile, feed_file(
        "Réf;Nom;Ville;Apporteur\nTOULOUSE-01;Garage du Capitole;Toulouse;P404\n"))
    assert run.failed == 1
    [before] = row_errors(run)
    paul = make_account(external_ref="CLI-9", name="Paul Roux", kind="person",
                        city="Toulouse", email="paul.roux@example.com")
    anonymise_customer(paul)
    db.session.commit()
    db.session.expire_all()
    [error] = row_errors(run)
    assert error.raw == ["TOULOUSE-01", "Garage du Capitole", "Toulouse", "P404"], error.raw
    assert error.message == before.message, error.message


def test_erasing_martin_leaves_the_failed_row_of_martine(
        make_profile, run_import, feed_file, make_account, make_contact):
    """Erasing Paul Martin must not wipe the failed row of Martine Lefort (another person):
    "Martin" is only a part of her first name."""
    account = make_account(external_ref="C001", name="Client Un")
    profile = make_profile("contacts", {"Réf": "external_ref", "Compte": "account.external_ref",
                                        "Prénom": "first_name", "Nom": "last_name"})
    run = run_import(profile, feed_file("Réf;Compte;Prénom;Nom\nK7;C404;Martine;Lefort\n"))
    assert run.failed == 1
    paul = make_contact(account=account.id, external_ref="K9", first_name="Paul",
                        last_name="Martin", email="p.martin@example.com")
    anonymise_contact(paul)
    db.session.commit()
    [error] = row_errors(run)
    assert error.raw == ["K7", "C404", "Martine", "Lefort"], error.raw


def test_an_erased_contacts_failed_row_found_by_his_reference_loses_his_cells(
        make_profile, run_import, feed_file, make_account, make_contact, api_client):
    """docs/operations.md: the failed rows of imports that held his e-mail, phone or
    reference lose their cells. Léa Roux (reference CT-000042) came in a row whose e-mail was
    mistyped: the row failed. Erased, her name must no longer read in that row."""
    account = make_account(external_ref="C001", name="Client Un")
    lea = make_contact(account=account.id, external_ref="CT-000042", first_name="Léa",
                       last_name="Roux", email="lea.roux@example.com")
    profile = make_profile("contacts", {"Réf": "external_ref", "Compte": "account.external_ref",
                                        "Prénom": "first_name", "Nom": "last_name",
                                        "Mail": "email"})
    run = run_import(profile, feed_file(
        "Réf;Compte;Prénom;Nom;Mail\nCT-000042;C001;Léa;Roux;lea.roux(at)example\n"))
    assert run.failed == 1
    anonymise_contact(lea)
    db.session.commit()
    [error] = row_errors(run)
    assert error.raw is None, error.raw
    body = api_client.get(f"/api/v1/imports/{run.id}/errors",
                          headers={"Accept": "text/csv"}).get_data(as_text=True)
    assert "Roux" not in body, body
