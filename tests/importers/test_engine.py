"""The feed engine end to end: a tenant's file, through a profile, into its records.

Each test writes a small file the way a tenant's other systems do (French headers, cp1252,
`;`, French dates and amounts), runs it as `flask feed import` would (a run created with
source "cli", executed by the job runner), and checks what the tenant then sees: the records,
the run's counts, its row errors and the errors file.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from app.entities import ENTITIES
from app.errors import ValidationError
from app.extensions import db
from app.models import AuditEvent, ImportRun, InvoiceLine, QuoteLine
from app.queries.history import readable_history
from app.services import feeds
from app.services.records import create_record
from app.tenancy import SYSTEM, tenant_context
from importers import column_import, runs
from importers.errors_csv import error_message, stream_errors_csv
from tests.importers.conftest import NBSP, NNBSP, audit_count, by_key, records, row_errors

D = Decimal
ACCOUNTS = {"Code client": "external_ref", "Raison sociale": "name", "Ville": "city"}
ACCOUNTS_WITH_COUNTRY = {**ACCOUNTS, "Pays": "country"}
INVOICES = {"N° facture": "number", "Code client": "account.external_ref",
            "Date facture": "issued_on", "Statut": "status", "Réf article": "lines.sku",
            "Désignation": "lines.label", "Qté": "lines.quantity", "PU HT": "lines.unit_price",
            "TVA": "lines.tax_rate"}
INVOICE_HEADER = ("N° facture;Code client;Date facture;Statut;Réf article;Désignation;Qté;"
                  "PU HT;TVA\n")


@pytest.fixture
def customers(make_profile, run_import, feed_file):
    """Three customers, as the nightly customer feed sends them (C001 belongs to agency P01)."""
    run_import(make_profile("partners", {"Code agence": "external_ref", "Agence": "name"}),
               feed_file("Code agence;Agence\nP01;Agence Rhône\nP02;Agence Côte d’Azur\n",
                         name="agences.csv"))
    run = run_import(make_profile("accounts", {**ACCOUNTS, "Agence": "partner.external_ref"}),
                     feed_file("Code client;Raison sociale;Ville;Agence\n"
                               "C001;Stores Dupont;Lyon;P01\nC002;Volets Martin;Nice;\n"
                               "C003;Bâtiments Leroy;Paris;P02\n", name="clients.csv"))
    assert run.counts["created"] == 3
    return by_key("accounts")


@pytest.fixture(params=["batch path", "row path"])
def either_path(request, monkeypatch) -> None:
    """A CSV file into an entity without lines, through the batch path, then the row path
    (the path of XLSX files and documents with lines)."""
    if request.param == "row path":
        monkeypatch.setattr(column_import, "applies", lambda engine, table: False)


def in_french(error) -> str:
    """The error as a French reader sees it (the catalogue's no-break spaces as spaces)."""
    with force_locale("fr"):
        return error_message(error).replace(NBSP, " ").replace(NNBSP, " ")


def in_english(error) -> str:
    with force_locale("en"):
        return error_message(error)


def one_error(run: ImportRun):
    errors = row_errors(run)
    assert len(errors) == 1, [(e.line, e.column, e.message) for e in errors]
    return errors[0]


# --- Every entity --------------------------------------------------------------------------

def test_partners_and_accounts_with_their_agency_by_reference(make_profile, run_import,
                                                              feed_file):
    run_import(make_profile("partners", {"Code agence": "external_ref", "Agence": "name",
                                         "Téléphone": "phone", "E-mail": "email"}),
               feed_file("Code agence;Agence;Téléphone;E-mail\n"
                         "P01;Agence Rhône;04 78 00 00 00;lyon@agences.example\n"))
    profile = make_profile("accounts", {
        "Code client": "external_ref", "Raison sociale": "name", "Type": "kind",
        "Adresse": "address_line", "CP": "postal_code", "Ville": "city", "Pays": "country",
        "N° TVA": "vat_number", "Agence": "partner.external_ref"})
    run = run_import(profile, feed_file(
        "Code client;Raison sociale;Type;Adresse;CP;Ville;Pays;N° TVA;Agence\n"
        "C001;Stores Dupont SARL;Entreprise;12 rue de la République;69002;Lyon;FR;"
        "FR12345678901;P01\n"
        "C002;Jeanne Martin;Particulier;3 chemin des Oliviers;06000;Nice;fr;;\n"
        "C003;Bâtiments Leroy;company;1 rue Neuve;1000;Bruxelles;BE;;P01\n"))
    assert (run.status, run.counts["created"], run.counts["failed"]) == ("succeeded", 3, 0)
    partner = by_key("partners")["P01"]
    assert (partner.name, partner.phone) == ("Agence Rhône", "04 78 00 00 00")
    accounts = by_key("accounts")
    assert accounts["C001"].kind == "company" and accounts["C002"].kind == "person"
    assert accounts["C001"].partner_id == partner.id and accounts["C002"].partner_id is None
    assert (accounts["C002"].postal_code, accounts["C002"].country) == ("06000", "FR")
    assert accounts["C003"].country == "BE"
    assert accounts["C001"].import_run_id == run.id


def test_contacts_resolve_their_customer(customers, make_profile, run_import, feed_file):
    profile = make_profile("contacts", {
        "Réf contact": "external_ref", "Code client": "account.external_ref",
        "Prénom": "first_name", "Nom": "last_name", "Fonction": "job_title", "Mail": "email"})
    run = run_import(profile, feed_file(
        "Réf contact;Code client;Prénom;Nom;Fonction;Mail\n"
        "K1;C001;Hélène;Dupont;Gérante;helene@dupont.example\n"
        "K2;C002;Éric;Martin;;\n"))
    assert run.counts["created"] == 2
    contacts = by_key("contacts")
    assert contacts["K1"].account_id == customers["C001"].id
    assert (contacts["K1"].first_name, contacts["K1"].job_title) == ("Hélène", "Gérante")
    assert contacts["K2"].account_id == customers["C002"].id and contacts["K2"].email is None


def test_deals_take_french_stage_labels_and_their_customers_agency(customers, make_profile,
                                                                   run_import, feed_file):
    profile = make_profile("deals", {
        "Réf": "external_ref", "Client": "account.external_ref", "Intitulé": "title",
        "Étape": "stage", "Montant": "amount", "Clôture prévue": "expected_close_on"})
    run = run_import(profile, feed_file(
        "Réf;Client;Intitulé;Étape;Montant;Clôture prévue\n"
        "A1;C001;Stores de la véranda;Proposition;12 500,00;30/06/2026\n"
        "A2;C002;Volets roulants;won;980;2026-07-01\n"))
    assert run.counts["created"] == 2, [e.message for e in row_errors(run)]
    deals = by_key("deals")
    assert deals["A1"].stage == "proposal" and deals["A2"].stage == "won"
    assert deals["A1"].amount == D("12500.00")
    assert deals["A1"].expected_close_on == date(2026, 6, 30)
    # A document's partner defaults to its customer's partner.
    assert deals["A1"].partner_id == customers["C001"].partner_id is not None
    assert deals["A2"].partner_id is None


@pytest.mark.usefixtures("either_path")
def test_a_document_without_partner_takes_its_customers_as_forms_give_it(
        customers, make_profile, run_import, feed_file):
    """Whenever the partner is empty, on create and on update, mapped or not."""
    p01, p02 = customers["C001"].partner_id, customers["C003"].partner_id
    with_partner = make_profile("deals", {"Réf": "external_ref", "Client": "account.external_ref",
                                          "Intitulé": "title", "Agence": "partner.external_ref"})
    run = run_import(with_partner, feed_file("Réf;Client;Intitulé;Agence\nA1;C001;Véranda;\n"
                                             "A2;C002;Volets;\nA3;C001;Pergola;P02\n"))
    assert run.counts["created"] == 3, [e.message for e in row_errors(run)]
    deals = by_key("deals")
    assert [deals[k].partner_id for k in ("A1", "A2", "A3")] == [p01, None, p02]
    # Another customer: a deal without partner takes his, a deal with one keeps it.
    run = run_import(make_profile("deals", {"Réf": "external_ref", "Intitulé": "title",
                                            "Client": "account.external_ref"}),
                     feed_file("Réf;Client;Intitulé\nA1;C003;Véranda\nA2;C003;Volets\n"))
    assert run.counts["updated"] == 2, [e.message for e in row_errors(run)]
    # The partner emptied: the customer's again.
    run = run_import(with_partner, feed_file("Réf;Client;Intitulé;Agence\nA3;C001;Pergola;\n"))
    assert run.counts["updated"] == 1, [e.message for e in row_errors(run)]
    deals = by_key("deals")
    assert [deals[k].partner_id for k in ("A1", "A2", "A3")] == [p01, p02, p01]


@pytest.mark.usefixtures("either_path")
def test_a_document_without_partner_takes_its_customers_when_the_file_names_none(
        customers, make_profile, run_import, feed_file):
    """The partner of the customer the record has (read with the record: the file does not
    name a customer), as when a form changes it."""
    deals = make_profile("deals", {"Réf": "external_ref", "Client": "account.external_ref",
                                   "Intitulé": "title"})
    run_import(deals, feed_file("Réf;Client;Intitulé\nA1;C002;Véranda\nA2;C001;Volets\n"))
    assert by_key("deals")["A1"].partner_id is None  # C002 has no agency
    run = run_import(make_profile("accounts", {**ACCOUNTS, "Agence": "partner.external_ref"}),
                     feed_file("Code client;Raison sociale;Ville;Agence\n"
                               "C002;Volets Martin;Nice;P02\n", name="clients.csv"))
    assert run.counts["updated"] == 1
    run = run_import(make_profile("deals", {"Réf": "external_ref", "Intitulé": "title"}),
                     feed_file("Réf;Intitulé\nA1;Pergola\nA2;Stores\n"))
    assert run.counts["updated"] == 2, [e.message for e in row_errors(run)]
    found = by_key("deals")
    assert (found["A1"].partner_id, found["A2"].partner_id) == (
        customers["C003"].partner_id, customers["C001"].partner_id)


def test_quotes_with_lines_and_totals_computed_from_them(customers, make_profile, run_import,
                                                         feed_file, make_deal):
    deal = make_deal(account=customers["C001"].id, external_ref="AF-9")
    profile = make_profile("quotes", {
        "N° devis": "number", "Client": "account.external_ref", "Affaire": "deal.external_ref",
        "Date": "issued_on", "Valable jusqu’au": "valid_until", "Statut": "status",
        "Article": "lines.sku", "Libellé": "lines.label", "Qté": "lines.quantity",
        "PU HT": "lines.unit_price", "TVA %": "lines.tax_rate"}, key="number")
    run = run_import(profile, feed_file(
        "N° devis;Client;Affaire;Date;Valable jusqu’au;Statut;Article;Libellé;Qté;PU HT;TVA %\n"
        "D-001;C001;AF-9;01/10/2026;31/10/2026;Envoyé;SB-4M;Store banne 4 m;1;1 234,56;20\n"
        "D-001;C001;AF-9;01/10/2026;31/10/2026;Envoyé;POSE;Pose;1;250;10\n"
        "D-001;C001;AF-9;01/10/2026;31/10/2026;Envoyé;;Déplacement;2;45,5;20\n"
        "D-002;C003;;02/10/2026;;draft;VR-120;Volet roulant 120;3;310,00;20\n"))
    assert run.status == "succeeded" and run.counts["created"] == 2
    assert run.rows_done == 4
    quotes = by_key("quotes", "number")
    first = quotes["D-001"]
    assert (first.status, first.issued_on, first.valid_until) == (
        "sent", date(2026, 10, 1), date(2026, 10, 31))
    assert [(line.position, line.sku, line.label, line.quantity, line.unit_price, line.tax_rate)
            for line in first.lines] == [
        (0, "SB-4M", "Store banne 4 m", D("1.000"), D("1234.56"), D("20.00")),
        (1, "POSE", "Pose", D("1.000"), D("250.00"), D("10.00")),
        (2, None, "Déplacement", D("2.000"), D("45.50"), D("20.00"))]
    assert first.total_excl_tax == D("1575.56")
    assert first.tax_total == D("246.91") + D("25.00") + D("18.20")
    assert first.total == first.total_excl_tax + first.tax_total
    assert first.partner_id == customers["C001"].partner_id
    assert (first.deal_id, quotes["D-002"].deal_id) == (deal.id, None)
    assert len(quotes["D-002"].lines) == 1 and quotes["D-002"].total == D("1116.00")


def test_orders_with_lines_and_their_quote(customers, make_profile, run_import, feed_file,
                                           make_quote):
    make_quote(account=customers["C001"].id, number="D-100", external_ref="DV100")
    profile = make_profile("orders", {
        "Réf commande": "external_ref", "N° commande": "number",
        "Client": "account.external_ref", "Devis": "quote.external_ref",
        "Date": "ordered_on", "Statut": "status", "Désignation": "lines.label",
        "Qté": "lines.quantity", "PU HT": "lines.unit_price"})
    run = run_import(profile, feed_file(
        "Réf commande;N° commande;Client;Devis;Date;Statut;Désignation;Qté;PU HT\n"
        "O1;CMD-001;C001;DV100;05/10/2026;Confirmée;Volet roulant;2;450\n"
        "O1;CMD-001;C001;DV100;05/10/2026;Confirmée;Motorisation;2;120,00\n"
        "O2;CMD-002;C002;;06/10/2026;in_progress;Store;1;99,90\n"))
    assert run.counts == {"created": 2, "updated": 0, "unchanged": 0, "failed": 0,
                          "archived": 0}
    orders = by_key("orders")
    assert orders["O1"].quote.number == "D-100" and orders["O2"].quote_id is None
    assert [line.label for line in orders["O1"].lines] == ["Volet roulant", "Motorisation"]
    assert orders["O1"].total_excl_tax == D("1140.00") and orders["O1"].total == D("1368.00")
    assert orders["O2"].status == "in_progress"


def test_contracts_keyed_by_their_number(customers, make_profile, run_import, feed_file):
    profile = make_profile("contracts", {
        "N° contrat": "number", "Client": "account.external_ref", "Objet": "title",
        "Début": "starts_on", "Fin": "ends_on", "Statut": "status", "Signé le": "signed_on",
        "Mensualité": "recurring_amount"}, key="number")
    path = feed_file("N° contrat;Client;Objet;Début;Fin;Statut;Signé le;Mensualité\n"
                     "CT-1;C001;Maintenance annuelle;01/01/2026;31/12/2026;Actif;15/12/2025;"
                     "49,90\n")
    assert run_import(profile, path).counts["created"] == 1
    contract = by_key("contracts", "number")["CT-1"]
    assert (contract.title, contract.status, contract.recurring_amount) == (
        "Maintenance annuelle", "active", D("49.90"))
    assert (contract.starts_on, contract.ends_on, contract.signed_on) == (
        date(2026, 1, 1), date(2026, 12, 31), date(2025, 12, 15))
    assert contract.external_ref is None
    run = run_import(profile, feed_file(
        "N° contrat;Client;Objet;Début;Fin;Statut;Signé le;Mensualité\n"
        "CT-1;C001;Maintenance annuelle;01/01/2026;31/12/2026;terminated;15/12/2025;49,90\n",
        name="contrats-2.csv"))
    assert (run.counts["updated"], run.counts["created"]) == (1, 0)
    assert by_key("contracts", "number")["CT-1"].status == "terminated"


def test_deliveries_resolve_their_order(customers, make_profile, run_import, feed_file,
                                        make_order):
    order = make_order(account=customers["C003"].id, external_ref="O77")
    profile = make_profile("deliveries", {
        "BL": "number", "Client": "account.external_ref", "Commande": "order.external_ref",
        "Statut": "status", "Expédié le": "shipped_on", "Prévu le": "expected_on",
        "Transporteur": "carrier", "Suivi": "tracking_number"}, key="number")
    run = run_import(profile, feed_file(
        "BL;Client;Commande;Statut;Expédié le;Prévu le;Transporteur;Suivi\n"
        "BL-1;C003;O77;Expédiée;02.11.2026;05.11.2026;Geodis;GE123456789FR\n"))
    assert run.counts["created"] == 1, [e.message for e in row_errors(run)]
    delivery = by_key("deliveries", "number")["BL-1"]
    assert (delivery.order_id, delivery.status, delivery.carrier) == (order.id, "shipped",
                                                                     "Geodis")
    assert delivery.shipped_on == date(2026, 11, 2)
    assert delivery.partner_id == customers["C003"].partner_id


def test_invoices_with_lines_keep_the_totals_the_file_gives(customers, make_profile,
                                                            run_import, feed_file, make_order):
    order = make_order(account=customers["C001"].id, external_ref="O-55")
    profile = make_profile("invoices", {
        **INVOICES, "Échéance": "due_on", "Total TTC": "total", "Réglé": "amount_paid",
        "Commande": "order.external_ref"}, key="number")
    run = run_import(profile, feed_file(
        "N° facture;Code client;Date facture;Échéance;Statut;Réf article;Désignation;Qté;"
        "PU HT;TVA;Total TTC;Réglé;Commande\n"
        "F-2026-001;C001;10/10/2026;10/11/2026;Émise;SB-4M;Store banne;1;1 234,56;20;"
        "1 481,47;500;O-55\n"
        "F-2026-001;C001;10/10/2026;10/11/2026;Émise;POSE;Pose;1;250;20;1 481,47;500;O-55\n"
        "F-2026-002;C002;11/10/2026;;Payée;VR;Volet;1;100;5,5;;105,50;\n", encoding="cp1252"))
    assert run.counts["created"] == 2, [e.message for e in row_errors(run)]
    invoices = by_key("invoices", "number")
    first = invoices["F-2026-001"]
    assert len(first.lines) == 2 and first.total_excl_tax == D("1484.56")
    assert first.total == D("1481.47")  # as the ERP says, even when it differs
    assert first.amount_paid == D("500.00") and first.due_on == date(2026, 11, 10)
    assert first.partner_id == customers["C001"].partner_id and first.order_id == order.id
    second = invoices["F-2026-002"]
    assert (second.status, second.tax_total, second.total) == ("paid", D("5.50"), D("105.50"))


def test_lines_past_what_forms_accept_are_row_errors_naming_the_cell(customers, make_profile,
                                                                     run_import, feed_file):
    # Lines are held to the API's bounds: a quantity under a billion once rounded to 3 places,
    # a unit price under 10¹², a tax rate from 0 to 100, a total under 10¹². Before, the
    # database refused them with its own words (PostgreSQL) or kept them (SQLite), and a
    # quantity times a price past 28 digits stopped the whole run.
    profile = make_profile("invoices", INVOICES, key="number")
    run = run_import(profile, feed_file(INVOICE_HEADER + "".join(
        f"F-{n};C001;10/10/2026;Émise;;Pose;{quantity};{price};{rate}\n"
        for n, (quantity, price, rate) in enumerate([
            ("999999999,9999", "1", "20"), ("1", "1 000 000 000 000", "20"),
            ("999999999999999", "999999999999999", "20"), ("1", "1", "100,01"),
            ("1", "1", "-5"), ("999999999", "999999999999", "20"),
            ("999999999,999", "1", "0"), ("1", "999999999999,99", "0")])), encoding="cp1252"))
    assert (run.status, run.counts["created"], run.counts["failed"]) == ("partial", 2, 6)
    errors = sorted(row_errors(run), key=lambda e: (e.line, e.column or ""))
    assert [(e.line, e.column, in_french(e)) for e in errors] == [
        (2, "Qté", "Le nombre est trop grand."), (3, "PU HT", "Le montant est trop élevé."),
        (4, "PU HT", "Le montant est trop élevé."), (4, "Qté", "Le nombre est trop grand."),
        (5, "TVA", "Saisissez un taux de TVA entre 0 et 100."),
        (6, "TVA", "Saisissez un taux de TVA entre 0 et 100."),
        (7, None, "Le total est trop élevé.")]
    invoices = by_key("invoices", "number")
    assert sorted(invoices) == ["F-6", "F-7"]
    assert invoices["F-6"].lines[0].quantity == D("999999999.999")
    assert invoices["F-7"].total == D("999999999999.99")


def test_an_unknown_reference_is_a_row_error_naming_it(customers, make_profile, run_import,
                                                       feed_file):
    profile = make_profile("contacts", {"Réf": "external_ref", "Code client":
                                        "account.external_ref", "Nom": "last_name"})
    run = run_import(profile, feed_file("Réf;Code client;Nom\nK1;C001;Dupont\n"
                                        "K2;C999;Inconnu\nK3;C002;Martin\n"))
    assert (run.status, run.counts["created"], run.counts["failed"]) == ("partial", 2, 1)
    error = one_error(run)
    assert (error.line, error.column, error.value) == (3, "Code client", "C999")
    assert "C999" in error.message
    assert in_french(error) == "Aucun client avec la référence « C999 »."
    assert sorted(by_key("contacts")) == ["K1", "K3"]


@pytest.mark.usefixtures("either_path")
def test_a_row_with_a_bad_cell_also_names_its_unknown_customer(customers, make_profile,
                                                               run_import, feed_file):
    """Every error of a row at once: the customer need not wait for the mail to be fixed."""
    profile = make_profile("contacts", {"Réf": "external_ref", "Code client":
                                        "account.external_ref", "Nom": "last_name",
                                        "Courriel": "email"})
    run = run_import(profile, feed_file(
        "Réf;Code client;Nom;Courriel\nK1;C001;Dupont;dupont@example.fr\n"
        "K2;C999;Inconnu;pas-un-courriel\nK3;C002;Martin;pas-un-courriel\n"
        "K4;C998;Leroy;leroy@example.fr\nK4;C997;Leroy;leroy@example.fr\n"))
    assert (run.counts["created"], run.counts["failed"]) == (1, 4)
    errors = [(e.line, e.column, e.value) for e in sorted(
        row_errors(run), key=lambda e: (e.line, e.id))]
    assert errors == [(3, "Courriel", "pas-un-courriel"), (3, "Code client", "C999"),
                      (4, "Courriel", "pas-un-courriel"), (5, "Code client", "C998"),
                      (6, "Réf", "K4"), (6, "Code client", "C997")]
    assert sorted(by_key("contacts")) == ["K1"]


@pytest.mark.usefixtures("either_path")
def test_an_unknown_reference_reads_in_english_too(customers, make_profile, run_import,
                                                   feed_file):
    profile = make_profile("contacts", {"Réf": "external_ref", "Code client":
                                        "account.external_ref", "Nom": "last_name"})
    run = run_import(profile, feed_file("Réf;Code client;Nom\nK2;C999;Inconnu\n"))
    assert in_english(one_error(run)) == "No customer with the reference “C999”."


def test_references_resolve_inside_the_tenant_only(tenant, other_tenant, make_profile,
                                                   run_import, feed_file):
    with tenant_context(other_tenant.id, SYSTEM):
        from app.services.records import create_record

        create_record(ENTITIES["accounts"], {"name": "Chez Beta", "external_ref": "C001"})
        db.session.commit()
    profile = make_profile("contacts", {"Réf": "external_ref", "Code client":
                                        "account.external_ref", "Nom": "last_name"})
    run = run_import(profile, feed_file("Réf;Code client;Nom\nK1;C001;Dupont\n"))
    assert (run.status, run.counts["failed"]) == ("failed", 1)
    assert one_error(run).value == "C001" and records("contacts") == []


def test_keys_are_the_tenants_own(tenant, other_tenant, make_profile, run_import, feed_file):
    with tenant_context(other_tenant.id, SYSTEM):
        from app.services.records import create_record

        theirs = create_record(ENTITIES["accounts"], {"name": "Chez Beta", "city": "Gand",
                                                      "external_ref": "C1"})
        db.session.commit()
    profile = make_profile("accounts", ACCOUNTS, full_sync=True)
    run = run_import(profile, feed_file("Code client;Raison sociale;Ville\nC1;Dupont;Lyon\n"))
    assert run.counts["created"] == 1
    run = run_import(profile, feed_file("Code client;Raison sociale;Ville\nC2;Martin;Nice\n",
                                        name="j2.csv"))
    assert run.counts["archived"] == 1
    with tenant_context(other_tenant.id, SYSTEM):
        db.session.expire_all()
        mine = records("accounts")
        assert [(a.id, a.name, a.city, a.archived_at) for a in mine] == [
            (theirs.id, "Chez Beta", "Gand", None)]


def test_custom_fields_are_checked_like_forms(make_profile, run_import, feed_file,
                                              make_custom_field):
    make_custom_field("accounts", "surface", "decimal")
    make_custom_field("accounts", "pose_le", "date")
    make_custom_field("accounts", "vip", "boolean")
    make_custom_field("accounts", "gamme", "choice", choices=["Confort", "Prestige"])
    make_custom_field("accounts", "site", "url")
    profile = make_profile("accounts", {**ACCOUNTS, "Surface m²": "custom.surface",
                                        "Posé le": "custom.pose_le", "VIP": "custom.vip",
                                        "Gamme": "custom.gamme", "Site": "custom.site"})
    run = run_import(profile, feed_file(
        "Code client;Raison sociale;Ville;Surface m²;Posé le;VIP;Gamme;Site\n"
        "C1;Dupont;Lyon;1 234,5;31/12/2025;oui;prestige;https://dupont.example\n"
        "C2;Martin;Nice;douze;01/01/2026;non;Confort;\n"
        "C3;Leroy;Paris;;;;;\n"
        "C4;Bernard;Metz;12;;peut-être;Luxe;ftp://bernard\n", encoding="cp1252"))
    assert (run.counts["created"], run.counts["failed"]) == (2, 2)
    accounts = by_key("accounts")
    assert accounts["C1"].custom == {"surface": "1234.5", "pose_le": "2025-12-31", "vip": True,
                                     "gamme": "Prestige", "site": "https://dupont.example"}
    assert accounts["C3"].custom == {}
    errors = sorted(row_errors(run), key=lambda e: (e.line, e.column))
    assert [(e.line, e.column, e.value) for e in errors] == [
        (3, "Surface m²", "douze"), (5, "Gamme", "Luxe"), (5, "Site", "ftp://bernard"),
        (5, "VIP", "peut-être")]
    assert [in_french(e) for e in (errors[0], errors[3])] == [
        "Saisissez un nombre, par exemple 1 234,56.", "Saisissez oui ou non."]


def test_numbers_of_custom_fields_past_what_lists_filter_are_row_errors(
        make_profile, run_import, feed_file, make_custom_field):
    make_custom_field("accounts", "surface", "decimal")
    make_custom_field("accounts", "pieces", "integer")
    profile = make_profile("accounts", {**ACCOUNTS, "Surface": "custom.surface",
                                        "Pièces": "custom.pieces"})
    run = run_import(profile, feed_file(
        "Code client;Raison sociale;Ville;Surface;Pièces\n"
        f"C1;Dupont;Lyon;0,{'0' * 400}1;\nC2;Martin;Nice;;{'9' * 19}\n"
        f"C3;Leroy;Paris;0,{'0' * 19}1;{'9' * 18}\n"))
    assert (run.counts["created"], run.counts["failed"]) == (1, 2)
    errors = sorted(row_errors(run), key=lambda e: e.line)
    assert [(e.line, e.column, in_french(e)) for e in errors] == [
        (2, "Surface", "20 chiffres après la virgule au maximum."),
        (3, "Pièces", "Le nombre est trop grand.")]
    assert by_key("accounts")["C3"].custom == {"surface": "0." + "0" * 19 + "1",
                                               "pieces": 10 ** 18 - 1}


# --- Formats -------------------------------------------------------------------------------

@pytest.mark.parametrize("bom", [False, True], ids=["utf8", "utf8-bom"])
def test_utf8_with_or_without_bom(bom, make_profile, run_import, feed_file):
    path = feed_file("Code client;Raison sociale;Ville\nC1;Société Générale;Évry\n", bom=bom)
    run = run_import(make_profile("accounts", ACCOUNTS), path)
    assert run.counts["created"] == 1
    account = by_key("accounts")["C1"]
    assert (account.name, account.city) == ("Société Générale", "Évry")


def test_cp1252_french_text_is_read_exactly(make_profile, run_import, feed_file):
    make_profile_columns = {**ACCOUNTS, "Adresse": "address_line"}
    text = ("Code client;Raison sociale;Ville;Adresse\n"
            "C1;Bœuf & Cœur — Traiteur;L’Haÿ-les-Roses;12 € la part, rue de l’Œuvre\n")
    path = feed_file(text, encoding="cp1252")
    assert "€".encode("cp1252") in path.read_bytes()
    run = run_import(make_profile("accounts", make_profile_columns), path)
    assert run.counts["created"] == 1
    account = by_key("accounts")["C1"]
    assert (account.name, account.city, account.address_line) == (
        "Bœuf & Cœur — Traiteur", "L’Haÿ-les-Roses", "12 € la part, rue de l’Œuvre")


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"], ids=["semicolon", "comma", "tab",
                                                                   "pipe"])
def test_every_usual_delimiter_is_recognised(delimiter, make_profile, run_import, feed_file):
    rows = [["Code client", "Raison sociale", "Ville"],
            ["C1", f"Dupont{delimiter} Fils & Cie", "Lyon"],
            ["C2", "Martin", "Saint-Étienne"]]
    run = run_import(make_profile("accounts", ACCOUNTS), feed_file(rows, delimiter=delimiter))
    assert run.counts["created"] == 2
    assert by_key("accounts")["C1"].name == f"Dupont{delimiter} Fils & Cie"


def test_quoted_newlines_keep_the_line_numbers_of_later_errors(make_profile, run_import,
                                                                feed_file):
    profile = make_profile("accounts", {**ACCOUNTS_WITH_COUNTRY, "Adresse": "address_line"})
    run = run_import(profile, feed_file(
        'Code client;Raison sociale;Ville;Pays;Adresse\n'
        'C1;"Dupont; Fils";Lyon;FR;"Bâtiment B\n3e étage\n12 rue Neuve"\n'
        'C2;"Martin ""le jeune""";Nice;FR;1 place Masséna\n'
        'C3;Leroy;Paris;ZZ;\n'))
    assert (run.counts["created"], run.counts["failed"]) == (2, 1)
    error = one_error(run)
    assert (error.line, error.column, error.value) == (6, "Pays", "ZZ")
    accounts = by_key("accounts")
    assert accounts["C1"].name == "Dupont; Fils"
    assert accounts["C1"].address_line == "Bâtiment B\n3e étage\n12 rue Neuve"
    assert accounts["C2"].name == 'Martin "le jeune"'


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"], ids=["crlf", "lf", "cr"])
def test_line_endings_leave_no_trace(newline, make_profile, run_import, feed_file):
    path = feed_file("Code client;Raison sociale;Ville\nC1;Dupont;Lyon\nC2;Martin;Nice\n",
                     newline=newline)
    run = run_import(make_profile("accounts", ACCOUNTS), path)
    assert run.counts["created"] == 2
    assert [(a.external_ref, a.city) for a in records("accounts")] == [("C1", "Lyon"),
                                                                       ("C2", "Nice")]


def deal_profile(make_profile, **options):
    return make_profile("deals", {"Réf": "external_ref", "Client": "account.external_ref",
                                  "Intitulé": "title", "Montant": "amount",
                                  "Clôture": "expected_close_on"}, **options)


@pytest.mark.usefixtures("either_path")
def test_cells_beyond_the_header_read_right_for_one_and_for_several(
        customers, make_profile, run_import, feed_file):
    run = run_import(deal_profile(make_profile), feed_file(
        "Réf;Client;Intitulé;Montant;Clôture\n"
        "A1;C001;Store;1;31/12/2025;en trop\n"
        "A2;C001;Store;1;31/12/2025;en trop;encore\n"))
    assert [in_french(e) for e in row_errors(run)] == [
        "Cellules au-delà de l’en-tête (1).", "Cellules au-delà de l’en-tête (2)."]


def test_the_three_french_date_forms(customers, make_profile, run_import, feed_file):
    run = run_import(deal_profile(make_profile), feed_file(
        "Réf;Client;Intitulé;Montant;Clôture\nA1;C001;Store;1;31/12/2025\n"
        "A2;C001;Store;1;31.12.2025\nA3;C001;Store;1;2025-12-31\nA4;C001;Store;1;31/13/2025\n"))
    assert (run.counts["created"], run.counts["failed"]) == (3, 1)
    assert {d.expected_close_on for d in records("deals")} == {date(2025, 12, 31)}
    error = one_error(run)
    assert (error.line, error.column, error.value) == (5, "Clôture", "31/13/2025")


def test_a_pinned_date_format_reads_american_dates(customers, make_profile, run_import,
                                                   feed_file):
    profile = deal_profile(make_profile, date_format="%m/%d/%Y")
    run = run_import(profile, feed_file("Réf;Client;Intitulé;Montant;Clôture\n"
                                        "A1;C001;Store;1;12/31/2025\n"
                                        "A2;C001;Store;1;31/12/2025\n"))
    assert (run.counts["created"], run.counts["failed"]) == (1, 1)
    assert by_key("deals")["A1"].expected_close_on == date(2025, 12, 31)
    error = one_error(run)
    assert (error.line, error.value) == (3, "31/12/2025")
    # The format expected, as a date written in it.
    assert "12/31/2025" in in_english(error) and "%m" not in in_english(error)


def test_a_custom_date_follows_the_profile_s_month_first_date_format(
        customers, make_profile, run_import, make_custom_field, feed_file):
    """03/04/2025 is the 4th of March in a %m/%d/%Y feed, in a custom field as in the record's
    own dates: never silently the 3rd of April."""
    make_custom_field("contacts", "dispo", "date")
    profile = make_profile("contacts", {"Réf": "external_ref", "Client": "account.external_ref",
                                        "Nom": "last_name", "Dispo": "custom.dispo"},
                           date_format="%m/%d/%Y")
    run = run_import(profile, feed_file("Réf;Client;Nom;Dispo\nK1;C001;Martin;03/04/2025\n"
                                        "K2;C001;Durand;03/15/2025\n"))
    assert (run.created, run.failed) == (2, 0), [e.message for e in row_errors(run)]
    assert {c.external_ref: c.custom["dispo"] for c in records("contacts")} == {
        "K1": "2025-03-04", "K2": "2025-03-15"}


def test_a_custom_decimal_follows_the_profile_s_decimal_point(
        customers, make_profile, run_import, make_custom_field, feed_file):
    """With the decimal point pinned to ".", 1,234 is a thousand and more, as in an amount."""
    make_custom_field("contacts", "cout", "decimal")
    profile = make_profile("contacts", {"Réf": "external_ref", "Client": "account.external_ref",
                                        "Nom": "last_name", "Coût": "custom.cout"},
                           decimal=".", delimiter=";")
    run = run_import(profile, feed_file("Réf;Client;Nom;Coût\nK1;C001;Martin;1,234\n"))
    assert (run.created, run.failed) == (1, 0), [e.message for e in row_errors(run)]
    assert records("contacts")[0].custom["cout"] == "1234"


@pytest.mark.parametrize("amount", [
    f"1{NBSP}234,56", f"1{NNBSP}234,56", "1 234,56", "1234,56", "1.234,56", "1,234.56",
    "1234.56", "1 234,56 €"])
def test_french_and_english_numbers(amount, customers, make_profile, run_import, feed_file):
    run = run_import(deal_profile(make_profile),
                     feed_file(f"Réf;Client;Intitulé;Montant;Clôture\nA1;C001;Store;{amount};\n",
                               encoding="cp1252" if NNBSP not in amount else "utf-8"))
    assert run.counts["created"] == 1, [e.message for e in row_errors(run)]
    assert by_key("deals")["A1"].amount == D("1234.56")


def test_yes_and_no_in_every_usual_spelling(make_profile, run_import, feed_file,
                                            make_custom_field):
    make_custom_field("accounts", "vip", "boolean")
    words = ["oui", "Non", "VRAI", "faux", "yes", "no", "1", "0", "x", ""]
    rows = [["Code client", "Raison sociale", "Ville", "Client VIP"]] + [
        [f"C{n}", "Client", "Lyon", word] for n, word in enumerate(words)]
    profile = make_profile("accounts", {**ACCOUNTS, "Client VIP": "custom.vip"})
    run = run_import(profile, feed_file(rows))
    assert run.counts["created"] == len(words)
    accounts = by_key("accounts")
    assert [accounts[f"C{n}"].custom.get("vip") for n in range(len(words))] == [
        True, False, True, False, True, False, True, False, True, None]


def test_empty_cells_are_empty_values_and_an_empty_key_is_an_error(make_profile, run_import,
                                                                     feed_file):
    profile = make_profile("accounts", {**ACCOUNTS, "Téléphone": "phone"})
    run = run_import(profile, feed_file("Code client;Raison sociale;Ville;Téléphone\n"
                                        "C1;Dupont;;\n;Sans code;Lyon;0478\n"
                                        "C3;;Paris;\n"))
    assert (run.counts["created"], run.counts["failed"]) == (1, 2)
    account = by_key("accounts")["C1"]
    assert (account.city, account.phone, account.country) == (None, None, "FR")
    errors = row_errors(run)
    assert [(e.line, e.column) for e in errors] == [(3, "Code client"), (4, "Raison sociale")]
    assert in_french(errors[0]) == "La clé est vide."
    assert in_french(errors[1]) == "Nom est obligatoire pour créer un enregistrement."


def empty_a_required_field(make_profile, run_import, feed_file) -> ImportRun:
    profile = make_profile("accounts", ACCOUNTS)
    run_import(profile, feed_file("Code client;Raison sociale;Ville\nC1;Dupont;Lyon\n"
                                  "C2;Martin;Nice\n"))
    return run_import(profile, feed_file("Code client;Raison sociale;Ville\nC1;;Lyon\n"
                                         "C2;Martin;Cannes\n", name="j2.csv"))


def test_emptying_a_required_field_of_an_existing_record_refuses_the_row(
        make_profile, run_import, feed_file):
    run = empty_a_required_field(make_profile, run_import, feed_file)
    assert (run.counts["failed"], run.counts["updated"]) == (1, 1)
    assert one_error(run).line == 2
    accounts = by_key("accounts")
    assert (accounts["C1"].name, accounts["C2"].city) == ("Dupont", "Cannes")


@pytest.mark.usefixtures("either_path")
def test_emptying_a_required_field_names_the_column(make_profile, run_import, feed_file):
    error = one_error(empty_a_required_field(make_profile, run_import, feed_file))
    assert error.column == "Raison sociale"
    assert "constraint" not in error.message  # not the database's words
    assert (in_french(error), in_english(error)) == ("Ce champ est obligatoire.",
                                                     "This field is required.")


@pytest.mark.usefixtures("either_path")
def test_emptying_a_required_customer_or_custom_field_names_the_column(
        customers, make_custom_field, make_profile, run_import, feed_file):
    make_custom_field("contacts", "badge", "text", is_required=True)
    profile = make_profile("contacts", {"Réf": "external_ref", "Code client":
                                        "account.external_ref", "Nom": "last_name",
                                        "Badge": "custom.badge"})
    header = "Réf;Code client;Nom;Badge\n"
    run_import(profile, feed_file(header + "K1;C001;Dupont;B1\nK2;C001;Martin;B2\n"))
    run = run_import(profile, feed_file(header + "K1;;Dupont;B1\nK2;C001;Martin;\n",
                                        name="j2.csv"))
    assert (run.status, run.counts["updated"]) == ("failed", 0)
    assert [(e.line, e.column) for e in row_errors(run)] == [(2, "Code client"), (3, "Badge")]
    contacts = by_key("contacts")
    assert (contacts["K1"].account_id, contacts["K2"].custom) == (customers["C001"].id,
                                                                  {"badge": "B2"})


def test_an_empty_cell_of_a_new_record_takes_the_fields_default(make_profile, run_import,
                                                                 feed_file):
    profile = make_profile("accounts", {**ACCOUNTS_WITH_COUNTRY, "Type": "kind"})
    run = run_import(profile, feed_file("Code client;Raison sociale;Ville;Pays;Type\n"
                                        "C1;Dupont;Lyon;;\n"))
    assert run.counts["created"] == 1, [e.message for e in row_errors(run)]
    account = by_key("accounts")["C1"]
    assert (account.country, account.kind) == ("FR", "company")


def test_trailing_empty_columns_are_ignored(make_profile, run_import, feed_file):
    run = run_import(make_profile("accounts", ACCOUNTS), feed_file(
        "Code client;Raison sociale;Ville;;;\nC1;Dupont;Lyon;;;\nC2;Martin;Nice;;\n"))
    assert (run.status, run.counts["created"]) == ("succeeded", 2)


def test_cells_beyond_the_header_are_a_row_error(make_profile, run_import, feed_file):
    run = run_import(make_profile("accounts", ACCOUNTS), feed_file(
        "Code client;Raison sociale;Ville\nC1;Dupont;Lyon\nC2;Martin;Nice;06000\n"))
    assert (run.counts["created"], run.counts["failed"]) == (1, 1)
    assert one_error(run).line == 3


def test_headers_match_whatever_their_case_and_accents(make_profile, run_import, feed_file):
    profile = make_profile("accounts", {"Code client": "external_ref", "Dénomination": "name",
                                        "Ville": "city"})
    run = run_import(profile, feed_file("CODE CLIENT ; denomination;ville\nC1;Dupont;Lyon\n"))
    assert run.counts["created"] == 1


def test_a_missing_column_fails_the_run_naming_it(make_profile, run_import, feed_file):
    run = run_import(make_profile("accounts", ACCOUNTS),
                     feed_file("Code client;Raison sociale\nC1;Dupont\n"))
    assert run.status == "failed" and "Ville" in run.message
    assert records("accounts") == []


def test_an_xlsx_workbook_with_real_excel_dates(customers, make_profile, run_import, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Réf", "Client", "Intitulé", "Montant", "Clôture"])
    sheet.append(["A1", "C001", "Store véranda", 1234.56, datetime(2026, 6, 30)])
    sheet.append(["A2", "C002", "Volets", 980, date(2026, 7, 1)])
    sheet.append([None, None, None, None, None])
    sheet.append(["A3", "C003", "Pergola", "12 500,00", "pas de date"])
    sheet["E2"].number_format = "DD/MM/YYYY"
    path = tmp_path / "affaires.xlsx"
    workbook.save(path)
    profile = deal_profile(make_profile)
    run = run_import(profile, path)
    assert (run.counts["created"], run.counts["failed"]) == (2, 1)
    deals = by_key("deals")
    assert (deals["A1"].amount, deals["A1"].expected_close_on) == (D("1234.56"),
                                                                   date(2026, 6, 30))
    assert (deals["A2"].amount, deals["A2"].expected_close_on) == (D("980.00"),
                                                                   date(2026, 7, 1))
    error = one_error(run)
    assert (error.line, error.column, error.value) == (5, "Clôture", "pas de date")
    # The errors file of a workbook is a CSV the tenant fixes and sends back.
    _text, rows = read_errors_csv(run)
    assert rows[1][:6] == ["A3", "C003", "Pergola", "12 500,00", "pas de date", "5"]
    rows[1][4] = "15/09/2026"
    fixed = tmp_path / "affaires-erreurs.csv"
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows(rows)
    fixed.write_text(buffer.getvalue(), encoding="utf-8")
    assert run_import(profile, fixed).counts["created"] == 1
    assert by_key("deals")["A3"].expected_close_on == date(2026, 9, 15)


# --- Modes ---------------------------------------------------------------------------------

def test_upsert_creates_updates_and_leaves_the_rest_unchanged(make_profile, run_import,
                                                              feed_file):
    profile = make_profile("accounts", ACCOUNTS)
    first = run_import(profile, feed_file("Code client;Raison sociale;Ville\n"
                                          "C1;Dupont;Lyon\nC2;Martin;Nice\n"))
    second = run_import(profile, feed_file("Code client;Raison sociale;Ville\n"
                                           "C1;Dupont;Villeurbanne\nC2;Martin;Nice\n"
                                           "C3;Leroy;Paris\n", name="j2.csv"))
    assert second.counts == {"created": 1, "updated": 1, "unchanged": 1, "failed": 0,
                             "archived": 0}
    accounts = by_key("accounts")
    assert accounts["C1"].city == "Villeurbanne" and len(accounts) == 3
    assert accounts["C1"].import_run_id == second.id
    assert accounts["C2"].import_run_id == first.id
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "accounts", AuditEvent.action == "update")).one()
    # With the run that wrote the record before (a revert gives it back), not shown as a
    # change in its history.
    assert (event.record_id, event.before, event.after) == (
        accounts["C1"].id, {"city": "Lyon", "import_run_id": first.id},
        {"city": "Villeurbanne", "import_run_id": second.id})
    assert event.actor_kind == "feed" and f"#{second.id}" in event.actor_label
    assert [c.key for c in readable_history([("accounts", event.before, event.after)])[0]] \
        == ["city"]
    assert second.diff_sample == [{"line": 2, "key": "C1", "before": {"city": "Lyon"},
                                   "after": {"city": "Villeurbanne"}}]


def test_insert_only_leaves_existing_records_untouched(make_account, make_profile, run_import,
                                                       feed_file):
    existing = make_account(external_ref="C1", name="Dupont (saisi à la main)", city="Lyon")
    stamp = existing.updated_at
    profile = make_profile("accounts", ACCOUNTS, mode="insert")
    run = run_import(profile, feed_file("Code client;Raison sociale;Ville\n"
                                        "C1;Dupont;Paris\nC2;Martin;Nice\n"))
    assert run.counts == {"created": 1, "updated": 0, "unchanged": 1, "failed": 0,
                          "archived": 0}
    db.session.refresh(existing)
    assert (existing.name, existing.city) == ("Dupont (saisi à la main)", "Lyon")
    assert existing.updated_at == stamp and existing.import_run_id is None


def test_update_only_reports_unknown_keys(make_account, make_profile, run_import, feed_file):
    make_account(external_ref="C1", name="Dupont", city="Lyon")
    profile = make_profile("accounts", ACCOUNTS, mode="update")
    run = run_import(profile, feed_file("Code client;Raison sociale;Ville\n"
                                        "C1;Dupont;Paris\nC2;Martin;Nice\n"))
    assert (run.counts["updated"], run.counts["failed"], run.counts["created"]) == (1, 1, 0)
    error = one_error(run)
    assert (error.line, error.value) == (3, "C2") and "C2" in error.message
    assert sorted(by_key("accounts")) == ["C1"]


def test_full_sync_archives_only_this_feeds_records_and_brings_them_back(
        make_account, make_profile, run_import, feed_file):
    by_hand = make_account(external_ref="M1", name="Saisi à la main")
    other_feed = make_profile("accounts", ACCOUNTS)
    run_import(other_feed, feed_file("Code client;Raison sociale;Ville\nX1;Autre flux;Lyon\n",
                                     name="autre.csv"))
    profile = make_profile("accounts", ACCOUNTS, full_sync=True)
    header = "Code client;Raison sociale;Ville\n"
    run_import(profile, feed_file(header + "C1;Dupont;Lyon\nC2;Martin;Nice\nC3;Leroy;Paris\n"))
    run = run_import(profile, feed_file(header + "C1;Dupont;Lyon\nC3;Leroy;Paris\n",
                                        name="j2.csv"))
    assert run.counts == {"created": 0, "updated": 0, "unchanged": 2, "failed": 0,
                          "archived": 1}
    accounts = by_key("accounts")
    assert len(accounts) == 5  # archived, never deleted
    assert accounts["C2"].archived_at is not None
    assert all(accounts[k].archived_at is None for k in ("C1", "C3", "M1", "X1"))
    assert accounts["M1"].id == by_hand.id
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "archive", AuditEvent.record_id == accounts["C2"].id)) == 1
    back = run_import(profile, feed_file(header + "C3;Leroy;Paris\nC2;Martin;Nice\n"
                                         "C1;Dupont;Lyon\n", name="j3.csv"))
    assert back.counts == {"created": 0, "updated": 1, "unchanged": 2, "failed": 0,
                           "archived": 0}
    db.session.expire_all()
    assert by_key("accounts")["C2"].archived_at is None


@pytest.mark.usefixtures("either_path")
def test_full_sync_keeps_a_record_whose_row_failed(make_profile, run_import, feed_file):
    profile = make_profile("accounts", ACCOUNTS_WITH_COUNTRY, full_sync=True)
    header = "Code client;Raison sociale;Ville;Pays\n"
    run_import(profile, feed_file(header + "C1;Dupont;Lyon;FR\nC2;Martin;Nice;FR\n"))
    run = run_import(profile, feed_file(header + "C1;Dupont;Lyon;FR\nC2;Martin;Nice;XX\n",
                                        name="j2.csv"))
    assert (run.counts["failed"], run.counts["archived"]) == (1, 0)
    assert by_key("accounts")["C2"].archived_at is None


@pytest.mark.usefixtures("either_path")
@pytest.mark.parametrize("rows", ["", ";Dupont;Lyon\n;Martin;Nice\n"],
                         ids=["header only", "no key"])
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry run"])
def test_full_sync_refuses_to_archive_everything_for_a_file_with_no_keys(
        make_profile, run_import, feed_file, rows, dry_run):
    profile = make_profile("accounts", ACCOUNTS, full_sync=True)
    header = "Code client;Raison sociale;Ville\n"
    run_import(profile, feed_file(header + "C1;Dupont;Lyon\nC2;Martin;Nice\n"))
    run = run_import(profile, feed_file(header + rows, name="j2.csv"), dry_run=dry_run)
    assert (run.status, run.counts["archived"]) == ("failed", 0)
    assert run.message.replace(NBSP, " ") == (
        "Le fichier ne contient aucune ligne avec une clé : la synchronisation complète "
        "archiverait tous les enregistrements, rien n’a donc été archivé.")
    assert all(a.archived_at is None for a in records("accounts"))
    assert audit_count("accounts") == 0


def test_full_sync_in_a_dry_run_reports_without_archiving(make_profile, run_import,
                                                          feed_file):
    profile = make_profile("accounts", ACCOUNTS, full_sync=True)
    header = "Code client;Raison sociale;Ville\n"
    run_import(profile, feed_file(header + "C1;Dupont;Lyon\nC2;Martin;Nice\n"))
    run = run_import(profile, feed_file(header + "C1;Dupont;Lyon\n", name="j2.csv"),
                     dry_run=True)
    assert run.counts["archived"] == 1
    assert all(a.archived_at is None for a in records("accounts"))


# --- Dry run -------------------------------------------------------------------------------

def test_a_dry_run_computes_everything_and_writes_nothing(make_profile, run_import, feed_file):
    profile = make_profile("accounts", ACCOUNTS_WITH_COUNTRY)
    header = "Code client;Raison sociale;Ville;Pays\n"
    run_import(profile, feed_file(header + "C1;Dupont;Lyon;FR\nC2;Martin;Nice;FR\n"))
    before = {a.external_ref: (a.name, a.city, a.updated_at, a.import_run_id)
              for a in records("accounts")}
    audits = audit_count("accounts")
    run = run_import(profile, feed_file(header + "C1;Dupont & Fils;Villeurbanne;FR\n"
                                        "C2;Martin;Nice;FR\nC3;Leroy;Paris;FR\n"
                                        "C4;Bernard;Metz;XX\n", name="j2.csv"), dry_run=True)
    assert run.is_dry_run and run.status == "partial"
    assert run.counts == {"created": 1, "updated": 1, "unchanged": 1, "failed": 1,
                          "archived": 0}
    assert run.diff_sample == [{"line": 2, "key": "C1",
                                "before": {"name": "Dupont", "city": "Lyon"},
                                "after": {"name": "Dupont & Fils", "city": "Villeurbanne"}}]
    db.session.expire_all()
    assert {a.external_ref: (a.name, a.city, a.updated_at, a.import_run_id)
            for a in records("accounts")} == before
    assert audit_count("accounts") == audits
    assert one_error(run).line == 5  # the errors are shown, as they would be


def test_a_dry_run_of_documents_writes_no_document_and_no_line(customers, make_profile,
                                                               run_import, feed_file):
    profile = make_profile("invoices", INVOICES, key="number")
    path = feed_file(INVOICE_HEADER + "F1;C001;10/10/2026;Émise;SB;Store;1;100;20\n"
                     "F1;C001;10/10/2026;Émise;POSE;Pose;1;50;20\n", encoding="cp1252")
    run = run_import(profile, path, dry_run=True)
    assert run.counts["created"] == 1
    assert records("invoices") == []
    assert db.session.scalar(select(func.count()).select_from(InvoiceLine)) == 0
    # A dry run is not an import: the same file then really goes in.
    real = run_import(profile, path)
    assert real.counts["created"] == 1 and len(records("invoices")[0].lines) == 2


def test_a_dry_run_shows_the_line_changes_of_a_document(customers, make_profile, run_import,
                                                        feed_file):
    profile = make_profile("invoices", INVOICES, key="number")
    run_import(profile, feed_file(INVOICE_HEADER + "F1;C001;10/10/2026;Émise;SB;Store;1;100;20\n"))
    run = run_import(profile, feed_file(
        INVOICE_HEADER + "F1;C001;10/10/2026;Émise;SB;Store;2;100;20\n", name="j2.csv"),
        dry_run=True)
    assert run.counts["updated"] == 1
    diff = run.diff_sample[0]
    assert diff["before"]["lines"][0]["quantity"] == "1.000"
    assert diff["after"]["lines"][0]["quantity"] == "2.000"
    assert diff["after"]["total"] == "240.00"
    line = db.session.scalars(select(InvoiceLine)).one()
    assert line.quantity == D("1.000")


# --- Row errors and the errors file --------------------------------------------------------

def test_a_row_error_says_where_what_and_why_in_french_or_english(make_profile, run_import,
                                                                  feed_file):
    run = run_import(make_profile("accounts", ACCOUNTS_WITH_COUNTRY), feed_file(
        "Code client;Raison sociale;Ville;Pays\nC1;Dupont;Lyon;FR\nC2;Martin;Nice;Francia\n"))
    error = one_error(run)
    assert (error.line, error.column, error.value) == (3, "Pays", "Francia")
    assert error.raw == ["C2", "Martin", "Nice", "Francia"]
    assert in_french(error) == "« Francia » n’est pas un code pays comme FR."
    assert in_english(error) == "“Francia” is not a country code such as FR."


def bad_date_and_number(customers, make_profile, run_import, feed_file):
    run = run_import(deal_profile(make_profile), feed_file(
        "Réf;Client;Intitulé;Montant;Clôture\nA1;C001;Store;douze;31/12/2025\n"
        "A2;C001;Store;12;32/12/2025\n"))
    errors = row_errors(run)
    assert [(e.line, e.column, e.value) for e in errors] == [
        (2, "Montant", "douze"), (3, "Clôture", "32/12/2025")]
    return errors


def test_a_bad_date_or_number_says_so(customers, make_profile, run_import, feed_file):
    errors = bad_date_and_number(customers, make_profile, run_import, feed_file)
    assert [in_french(e) for e in errors] == [
        "« douze » n’est pas un nombre : écrivez-le comme 1234,56.",
        "« 32/12/2025 » n’est pas une date : écrivez-la comme 31/12/2025."]


@pytest.mark.usefixtures("either_path")
def test_a_bad_date_or_number_reads_in_english_too(customers, make_profile, run_import,
                                                   feed_file):
    errors = bad_date_and_number(customers, make_profile, run_import, feed_file)
    assert [in_english(e) for e in errors] == [
        "“douze” is not a number: write it as 1234,56.",
        "“32/12/2025” is not a date: write it as 31/12/2025."]


def read_errors_csv(run: ImportRun) -> tuple[str, list[list[str]]]:
    text = "".join(stream_errors_csv(run))
    assert text.startswith("\ufeff")
    return text, list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


def test_the_errors_file_holds_the_failing_rows_and_goes_back_in_once_fixed(
        customers, make_profile, run_import, feed_file, tmp_path):
    profile = make_profile("contacts", {"Réf": "external_ref", "Code client":
                                        "account.external_ref", "Nom": "last_name",
                                        "Note": "job_title"})
    run = run_import(profile, feed_file(
        "Réf;Code client;Nom;Note\nK1;C001;Dupont;Gérant\n"
        'K2;C999;Martin;"Responsable\nachats; export"\n'
        "K3;C002;;Comptable\nK4;C003;Leroy;\n", encoding="cp1252"))
    assert (run.counts["created"], run.counts["failed"]) == (2, 2)
    with force_locale("fr"):
        _text, rows = read_errors_csv(run)
    assert rows[0] == ["Réf", "Code client", "Nom", "Note", "Ligne", "Erreur"]
    assert [row[:5] for row in rows[1:]] == [
        ["K2", "C999", "Martin", "Responsable\nachats; export", "3"],
        ["K3", "C002", "", "Comptable", "5"]]
    assert "C999" in rows[1][5] and "Code client" in rows[1][5]
    # The tenant fixes the two rows in the errors file and sends just that file back.
    rows[1][1], rows[2][2] = "C001", "Bernard"
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    fixed = tmp_path / "erreurs-corrigees.csv"
    fixed.write_bytes(("\ufeff" + buffer.getvalue()).encode("utf-8"))
    again = run_import(profile, fixed)
    assert again.counts == {"created": 2, "updated": 0, "unchanged": 0, "failed": 0,
                            "archived": 0}
    contacts = by_key("contacts")
    assert contacts["K2"].job_title == "Responsable\nachats; export"
    assert contacts["K3"].last_name == "Bernard" and len(contacts) == 4


# --- Guarantees ----------------------------------------------------------------------------

def test_good_rows_are_kept_when_the_database_refuses_one(customers, make_profile,
                                                          run_import, feed_file):
    profile = make_profile("invoices", {"Réf": "external_ref", "N°": "number",
                                        "Client": "account.external_ref"})
    run = run_import(profile, feed_file("Réf;N°;Client\nI1;F-1;C001\nI2;F-1;C002\n"
                                        "I3;F-3;C003\n"))
    assert (run.counts["created"], run.counts["failed"]) == (2, 1)
    assert sorted(by_key("invoices")) == ["I1", "I3"]
    error = one_error(run)
    assert error.line == 3 and error.message


def test_a_document_goes_in_whole_or_not_at_all(customers, make_profile, run_import,
                                                feed_file):
    profile = make_profile("invoices", INVOICES, key="number")
    run = run_import(profile, feed_file(
        INVOICE_HEADER + "F1;C001;10/10/2026;Émise;SB;Store;1;100;20\n"
        "F1;C001;10/10/2026;Émise;POSE;Pose;1;50;20\n"
        "F1;C001;10/10/2026;Émise;KIT;Kit;deux;10;20\n"
        "F2;C002;10/10/2026;Émise;VR;Volet;1;300;20\n"))
    assert (run.counts["created"], run.counts["failed"]) == (1, 1)
    assert sorted(by_key("invoices", "number")) == ["F2"]
    assert db.session.scalar(select(func.count()).select_from(InvoiceLine)) == 1
    errors = row_errors(run)
    assert [(e.line, e.column) for e in errors] == [(2, None), (3, None), (4, "Qté")]


def test_a_document_whose_first_line_fails_takes_its_lines_along(customers, make_profile,
                                                                 run_import, feed_file):
    profile = make_profile("quotes", {**{k: v for k, v in INVOICES.items() if k != "N° facture"},
                                      "N° devis": "number"}, key="number")
    run = run_import(profile, feed_file(
        "N° devis;Code client;Date facture;Statut;Réf article;Désignation;Qté;PU HT;TVA\n"
        "D1;C999;10/10/2026;sent;SB;Store;1;100;20\nD1;C999;10/10/2026;sent;POSE;Pose;1;50;20\n"
        "D2;C001;10/10/2026;sent;VR;Volet;1;300;20\n"))
    assert (run.counts["created"], run.counts["failed"]) == (1, 1)
    assert db.session.scalar(select(func.count()).select_from(QuoteLine)) == 1
    errors = row_errors(run)
    assert [(e.line, e.column) for e in errors] == [(2, "Code client"), (3, None)]
    assert in_french(errors[1]) == "Non importée : la ligne 2 du même document est en erreur."
    assert errors[1].raw[:2] == ["D1", "C999"]


def test_a_key_repeated_in_one_file_is_reported_with_both_lines(make_profile, run_import,
                                                                feed_file):
    run = run_import(make_profile("accounts", ACCOUNTS), feed_file(
        "Code client;Raison sociale;Ville\nC1;Dupont;Lyon\nC2;Martin;Nice\nC1;Dupont;Paris\n"))
    assert (run.counts["created"], run.counts["failed"]) == (2, 1)
    error = one_error(run)
    assert (error.line, error.value) == (4, "C1")
    assert in_french(error) == "La clé « C1 » est répétée : ligne 2 et ligne 4."
    assert by_key("accounts")["C1"].city == "Lyon"  # never silently merged


@pytest.mark.usefixtures("either_path")
def test_a_key_repeated_after_a_failed_row_is_a_repeat_too(make_profile, run_import,
                                                          feed_file):
    run = run_import(make_profile("accounts", ACCOUNTS_WITH_COUNTRY), feed_file(
        "Code client;Raison sociale;Ville;Pays\nC1;Dupont;Lyon;FR\nC2;Martin;Nice;XX\n"
        "C2;Martin;Nice;FR\n"))
    assert (run.counts["created"], run.counts["failed"]) == (1, 2)
    errors = row_errors(run)
    assert [(e.line, e.column) for e in errors] == [(3, "Pays"), (4, "Code client")]
    assert in_english(errors[1]) == "The key “C2” is repeated: line 3 and line 4."


def test_a_document_key_coming_back_later_in_the_file_is_a_repeat(customers, make_profile,
                                                                  run_import, feed_file):
    run = run_import(make_profile("invoices", INVOICES, key="number"), feed_file(
        INVOICE_HEADER + "F1;C001;10/10/2026;Émise;SB;Store;1;100;20\n"
        "F2;C002;10/10/2026;Émise;VR;Volet;1;300;20\n"
        "F1;C001;10/10/2026;Émise;POSE;Pose;1;50;20\n"))
    assert (run.counts["created"], run.counts["failed"]) == (2, 1)
    error = one_error(run)
    assert error.line == 4 and error.message_params["first"] == 2
    assert len(by_key("invoices", "number")["F1"].lines) == 1


def test_the_same_file_again_is_recognised_and_forced_changes_nothing(
        customers, make_profile, run_import, feed_file, make_custom_field):
    make_custom_field("invoices", "chantier", "text")
    make_custom_field("invoices", "surface", "decimal")
    profile = make_profile("invoices", {**INVOICES, "Chantier": "custom.chantier",
                                        "Surface": "custom.surface", "Échéance": "due_on"},
                           key="number")
    path = feed_file(
        "N° facture;Code client;Date facture;Statut;Réf article;Désignation;Qté;PU HT;TVA;"
        "Chantier;Surface;Échéance\n"
        "F1;C001;10/10/2026;Émise;SB;Store banne;1;1 234,56;20;Villa Les Pins;12,5;\n"
        "F1;C001;10/10/2026;Émise;POSE;Pose;1,5;80;10;Villa Les Pins;12,5;\n"
        "F2;C002;11/10/2026;Payée;VR;Volet;3;99,99;5,5;;;30/11/2026\n", encoding="cp1252")
    first = run_import(profile, path)
    assert first.counts["created"] == 2
    copy = path.with_name("copie du fichier.csv")
    copy.write_bytes(path.read_bytes())
    again = run_import(profile, copy)
    assert again.status == "succeeded" and again.rows_done == 0
    assert f"#{first.id}" in again.message or f"n°{first.id}" in again.message
    assert again.counts["created"] == 0
    forced = run_import(profile, copy, force=True)
    assert forced.counts == {"created": 0, "updated": 0, "unchanged": 2, "failed": 0,
                             "archived": 0}
    assert len(records("invoices")) == 2
    assert db.session.scalar(select(func.count()).select_from(InvoiceLine)) == 3


def test_two_runs_of_one_profile_never_run_at_once(make_profile, feed_file, tenant):
    profile = make_profile("accounts", ACCOUNTS)
    other = make_profile("accounts", ACCOUNTS)

    def queued(p, text, name):
        path = feed_file(text, name=name)
        with path.open("rb") as stream:
            run = feeds.create_run(p, stream, name, source="cli")
        db.session.commit()
        return run

    first = queued(profile, "Code client;Raison sociale;Ville\nC1;Dupont;Lyon\n", "a.csv")
    second = queued(profile, "Code client;Raison sociale;Ville\nC2;Martin;Nice\n", "b.csv")
    elsewhere = queued(other, "Code client;Raison sociale;Ville\nC3;Leroy;Paris\n", "c.csv")
    assert runs.claim(first) is True
    assert runs.claim(second) is False
    assert runs.holder(second) == first.id
    assert runs.run_import(second.id, tenant.id, max_wait=0).status == "queued"
    assert runs.claim(elsewhere) is True  # another profile is not held up
    runs.release(elsewhere)
    runs.execute_run(first)
    runs.release(first)
    assert runs.run_import(second.id, tenant.id, max_wait=0).status == "succeeded"
    assert runs.holder(second) is None
    assert sorted(by_key("accounts")) == ["C1", "C2"]


def test_a_file_over_the_size_limit_is_refused_clearly(app, make_profile, run_import,
                                                       feed_file, monkeypatch):
    profile = make_profile("accounts", ACCOUNTS)
    big = feed_file("Code client;Raison sociale;Ville\n" + "C1;Dupont;Lyon\n" * 80_000)
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 1024 * 1024)
    with big.open("rb") as stream, pytest.raises(ValidationError) as refused:
        feeds.create_run(profile, stream, big.name, source="cli")
    db.session.rollback()
    assert "1 MB" in refused.value.errors["file"] or "1 Mo" in refused.value.errors["file"]
    # The limit lowered after the file was queued: the run fails with the same message.
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 500 * 1024 * 1024)
    with big.open("rb") as stream:
        run = feeds.create_run(profile, stream, big.name, source="cli")
    db.session.commit()
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 1024 * 1024)
    run = runs.run_import(run.id, profile.tenant_id, max_wait=0)
    assert run.status == "failed" and "1" in run.message
    assert records("accounts") == [] and runs.holder(run) is None


def test_a_file_over_the_row_limit_fails_its_run_clearly(app, make_profile, run_import,
                                                         feed_file, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 3)
    run = run_import(make_profile("accounts", ACCOUNTS), feed_file(
        "Code client;Raison sociale;Ville\n" + "".join(f"C{n};Client;Lyon\n" for n in range(5))))
    assert run.status == "failed"
    with force_locale("fr"):
        assert "3 lignes" in run.message
    assert records("accounts") == []


@pytest.mark.usefixtures("either_path")
def test_a_field_over_the_length_limit_is_refused_clearly(app, make_profile, run_import,
                                                          feed_file, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_FIELD_LENGTH", 50)
    profile = make_profile("accounts", {**ACCOUNTS, "Adresse": "address_line"})
    run = run_import(profile, feed_file("Code client;Raison sociale;Ville;Adresse\n"
                                        f"C1;Dupont;Lyon;{'12 rue de la Paix ' * 5}\n"))
    assert run.status == "failed" and records("accounts") == []
    error = one_error(run)
    assert (error.line, error.column) == (2, "Adresse") and "50" in error.message


def test_a_record_beyond_any_reason_fails_the_run_not_the_process(app, make_profile,
                                                                   run_import, feed_file,
                                                                   monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_FIELD_LENGTH", 50)
    run = run_import(make_profile("accounts", ACCOUNTS), feed_file(
        'Code client;Raison sociale;Ville\nC1;Dupont;Lyon\nC2;"Martin;Nice\n'
        + "x" * (1024 * 1024 + 10) + "\n"))
    assert run.status == "failed" and run.finished_at is not None
    assert "4" in run.message and "1048576" in run.message  # the line, and the limit
    assert runs.holder(run) is None


def test_a_run_records_what_the_tenant_reads_every_morning(make_profile, run_import,
                                                           feed_file):
    profile = make_profile("accounts", ACCOUNTS)
    path = feed_file("Code client;Raison sociale;Ville\nC1;Dupont;Lyon\n", name="clients.csv")
    run = run_import(profile, path)
    import hashlib

    assert (run.source, run.file_name, run.file_size) == ("cli", "clients.csv",
                                                         path.stat().st_size)
    assert run.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (run.profile_version, run.rows_done, run.rows_total) == (1, 1, 1)
    assert run.started_at <= run.finished_at and run.started_by == "system"
    finished = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "import_runs", AuditEvent.action == "finish")).one()
    assert finished.after["status"] == "succeeded"


def test_an_invalid_email_is_a_row_error_as_in_forms(make_profile, run_import, feed_file):
    profile = make_profile("accounts", {**ACCOUNTS, "E-mail": "email"})
    run = run_import(profile, feed_file("Code client;Raison sociale;Ville;E-mail\n"
                                        "C1;Dupont;Lyon;contact@dupont.example\n"
                                        "C2;Martin;Nice;martin at nice\n"))
    assert (run.counts["created"], run.counts["failed"]) == (1, 1)
    assert (one_error(run).line, one_error(run).column) == (3, "E-mail")


def test_the_same_file_after_a_profile_change_is_imported_again(make_profile, run_import,
                                                                 feed_file):
    profile = make_profile("accounts", {"Code client": "external_ref",
                                        "Raison sociale": "name"})
    path = feed_file("Code client;Raison sociale;Ville\nC1;Dupont;Lyon\n")
    run_import(profile, path)
    assert by_key("accounts")["C1"].city is None
    feeds.update_profile(profile, {**profile.definition, "columns": ACCOUNTS})
    db.session.commit()
    run = run_import(profile, path)  # the tenant mapped the forgotten column
    assert run.profile_version == 2 and run.counts["updated"] == 1
    assert by_key("accounts")["C1"].city == "Lyon"


def test_an_older_file_sent_again_after_another_one_is_imported(make_profile, run_import,
                                                                feed_file):
    profile = make_profile("accounts", ACCOUNTS)
    monday = feed_file("Code client;Raison sociale;Ville\nC1;Dupont;Lyon\n", name="lundi.csv")
    run_import(profile, monday)
    run_import(profile, feed_file("Code client;Raison sociale;Ville\nC1;Dupont;Paris\n",
                                  name="mardi.csv"))
    wednesday = run_import(profile, monday)  # the ERP sends Monday's state back
    assert wednesday.counts["updated"] == 1
    assert by_key("accounts")["C1"].city == "Lyon"


def test_a_partly_failed_file_sent_again_is_retried(make_account, make_profile, run_import,
                                                    feed_file):
    make_account(external_ref="C0")
    contacts = make_profile("contacts", {"Réf": "external_ref", "Client":
                                         "account.external_ref", "Nom": "last_name"})
    path = feed_file("Réf;Client;Nom\nK0;C0;Martin\nK1;C1;Dupont\n", name="contacts.csv")
    assert run_import(contacts, path).status == "partial"
    run_import(make_profile("accounts", ACCOUNTS),
               feed_file("Code client;Raison sociale;Ville\nC1;Dupont;Lyon\n"))
    again = run_import(contacts, path)  # the customer came in meanwhile
    assert (again.counts["created"], again.counts["unchanged"]) == (1, 1)
    assert again.message is None


def test_row_errors_name_the_allowed_values_and_read_in_either_language(
        customers, make_profile, run_import, feed_file, make_custom_field):
    make_custom_field("invoices", "gamme", "choice", choices=["Confort", "Prestige"])
    make_custom_field("invoices", "chantier", "text", is_required=True, label_fr="Chantier",
                      label_en="Site")
    profile = make_profile("invoices", {"Réf": "external_ref", "N°": "number",
                                        "Client": "account.external_ref", "Statut": "status",
                                        "Gamme": "custom.gamme", "Site": "custom.chantier"})
    run = run_import(profile, feed_file(
        "Réf;N°;Client;Statut;Gamme;Site\nI1;F-1;C001;Réglée;Confort;Lyon\n"
        "I2;F-2;C001;Payée;Luxe;Nice\nI3;F-3;C001;Payée;Confort;\n"))
    errors = sorted(row_errors(run), key=lambda e: e.line)
    assert [(e.line, e.column, e.value) for e in errors] == [
        (2, "Statut", "Réglée"), (3, "Gamme", "Luxe"), (4, "Site", None)]
    status, choice, required = errors
    assert status.message_id == "“%(value)s” is not one of: %(choices)s."
    assert status.message_params["choice_codes"][:2] == ["draft", "issued"]
    assert in_french(status).startswith("« Réglée » ne fait pas partie des valeurs : "
                                        "Brouillon, Émise, Payée")
    assert in_english(status).startswith("“Réglée” is not one of: Draft, Issued, Paid")
    assert in_french(choice) == "« Luxe » ne fait pas partie des valeurs : Confort, Prestige."
    assert in_english(choice) == "“Luxe” is not one of: Confort, Prestige."
    # The custom field's label follows the reader, whatever the language of the run.
    assert in_french(required) == "Chantier est obligatoire pour créer un enregistrement."
    assert in_english(required) == "Site is required to create a record."


def test_an_error_stored_as_text_before_ids_reads_as_it_was(customers, make_profile,
                                                            run_import, feed_file):
    profile = make_profile("accounts", ACCOUNTS)
    run = run_import(profile, feed_file("Code client;Raison sociale;Ville\n;Dupont;Lyon\n"))
    error = row_errors(run)[0]
    error.message_id, error.message_params = None, None
    error.message = "La clé est vide."
    db.session.flush()
    assert in_english(error) == in_french(error) == "La clé est vide."


CUSTOM_COLUMNS = {"Code": "external_ref", "Nom": "name", "P": "custom.promoteur",
                  "N": "custom.niveau"}


def _promoter_and_level(make_custom_field):
    make_custom_field("accounts", "promoteur", "text")
    make_custom_field("accounts", "niveau", "integer")


def _account_updates(record_id):
    return db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "accounts", AuditEvent.record_id == record_id,
        AuditEvent.action == "update").order_by(AuditEvent.id)).all()


def test_the_history_of_a_feeds_update_names_only_the_custom_value_it_changed(
        make_profile, feed_file, run_import, make_custom_field):
    _promoter_and_level(make_custom_field)
    profile = make_profile("accounts", CUSTOM_COLUMNS)
    run_import(profile, feed_file("Code;Nom;P;N\nA1;Dupont;Nexity;3\n"))
    run = run_import(profile, feed_file("Code;Nom;P;N\nA1;Dupont;Ogic;3\n"))
    assert run.updated == 1
    (event,) = _account_updates(by_key("accounts")["A1"].id)
    (changes,) = readable_history([("accounts", event.before, event.after)])
    """A feed changes one custom value of a record that has two: its history says so, not
    "Niveau: — → 3" as well."""
    assert [change.key for change in changes] == ["custom.promoteur"], \
        (event.before, event.after)


def test_a_custom_value_a_feed_empties_is_removed_as_the_api_removes_it(
        make_profile, feed_file, run_import, make_custom_field, api_client):
    """A custom cell left empty removes the record's value, as a PATCH with null does: the
    API does not answer "promoteur": null for one and nothing for the other."""
    _promoter_and_level(make_custom_field)
    profile = make_profile("accounts", CUSTOM_COLUMNS)
    run_import(profile, feed_file("Code;Nom;P;N\nA1;Dupont;Nexity;3\n"))
    run_import(profile, feed_file("Code;Nom;P;N\nA1;Dupont;;3\n"))

    made = api_client.post("/api/v1/accounts", json={
        "external_ref": "B1", "name": "Dupont", "custom": {"promoteur": "Nexity", "niveau": 3}})
    url = f"/api/v1/accounts/{made.get_json()['id']}"
    patched = api_client.patch(url, json={"custom": {"promoteur": None}},
                               headers={"If-Match": api_client.get(url).headers["ETag"]})
    assert patched.get_json()["custom"] == {"niveau": 3}

    fed = api_client.get(f"/api/v1/accounts/{by_key('accounts')['A1'].id}").get_json()
    assert fed["custom"] == {"niveau": 3}


# --- The checks of every write -----------------------------------------------------------

CONTRACTS = {"Réf": "external_ref", "N°": "number", "Titre": "title",
             "Client": "account.external_ref", "Début": "starts_on", "Fin": "ends_on",
             "Statut": "status", "Devise": "currency"}
GOOD_CONTRACT = {"Début": "01/01/2026", "Fin": "31/12/2026", "Devise": "usd"}
# A cell of the file, and the value a form or the API is given for it.
REFUSED_CELLS = {
    "currency cut to three letters": ({"Devise": "Dollars"}, {"currency": "Dollars"}),
    "currency not a code": ({"Devise": "€"}, {"currency": "€"}),
    "date before 1900": ({"Début": "01/01/0202"}, {"starts_on": date(202, 1, 1)}),
    "end before start": ({"Fin": "31/12/2025"}, {"ends_on": date(2025, 12, 31)}),
}


def _contract_file(tmp_path, kind: str, **cells: str):
    row = {"Réf": "K1", "N°": "CT-1", "Titre": "Maintenance", "Client": "C1",
           "Statut": "active", **GOOD_CONTRACT, **cells}
    if kind == "csv":
        path = tmp_path / "contrats.csv"
        path.write_text(";".join(CONTRACTS) + "\n" + ";".join(row[h] for h in CONTRACTS)
                        + "\n", encoding="utf-8")
        return path
    workbook = openpyxl.Workbook()
    workbook.active.append(list(CONTRACTS))
    workbook.active.append([row[h] for h in CONTRACTS])
    path = tmp_path / "contrats.xlsx"
    workbook.save(path)
    return path


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@pytest.mark.parametrize("case", list(REFUSED_CELLS))
def test_a_feed_refuses_the_contract_every_other_path_refuses(make_account, make_profile,
                                                              run_import, tmp_path, case, kind):
    """A currency that is no code, a date before 1900, an end before the start: the form and
    the API refuse the contract, and so does its feed, by a row error naming the column, on
    the column path (CSV) and the row path (XLSX) alike."""
    account = make_account(external_ref="C1")
    cells, values = REFUSED_CELLS[case]
    with pytest.raises(ValidationError):
        create_record(ENTITIES["contracts"], {
            "external_ref": "API-1", "number": "CT-API", "title": "Maintenance",
            "account": account.id, "status": "active", "starts_on": date(2026, 1, 1),
            "ends_on": date(2026, 12, 31), "currency": "USD", **values})
    run = run_import(make_profile("contracts", CONTRACTS), _contract_file(tmp_path, kind, **cells))
    assert records("contracts") == []
    assert [e.column for e in row_errors(run)] == list(cells)


def test_a_contracts_end_moved_before_its_start_is_refused_and_the_contract_kept(
        make_account, make_profile, run_import, tmp_path):
    make_account(external_ref="C1")
    profile = make_profile("contracts", CONTRACTS)
    run_import(profile, _contract_file(tmp_path, "csv"))
    run = run_import(profile, _contract_file(tmp_path, "csv", Fin="31/12/2025"))
    with force_locale("en"):
        assert [(e.column, error_message(e)) for e in row_errors(run)] == [
            ("Fin", "This date is before Starts on.")]
    (contract,) = records("contracts")
    assert (contract.currency, contract.ends_on) == ("USD", date(2026, 12, 31))
