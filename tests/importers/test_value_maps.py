"""Value mappings in the engine: applied before conversion, per column, as written or whatever
the case and accents, on CSV (the column path) and XLSX (the row path) alike."""
from __future__ import annotations

from datetime import datetime

import openpyxl
import pytest
from sqlalchemy.orm.attributes import flag_modified

from app.errors import ValidationError
from app.extensions import db
from app.services import feeds
from importers.convert import _choice_converter
from importers.profile import normalized
from importers.value_maps import mapped_converter, unmapped_values
from importers.values import InvalidValue
from tests.importers.conftest import by_key, row_errors

ACCOUNTS = {"Code": "external_ref", "Nom": "name", "Segment": "custom.segment",
            "Apporteur": "partner.external_ref", "Type": "kind"}


def test_a_mapping_is_matched_as_written_then_folded_and_only_then():
    convert = mapped_converter(_choice_converter(("draft", "issued", "paid")),
                               {"Réglée": "paid", "A régler": "issued"})
    assert convert("Réglée") == "paid" and convert("  reglee ") == "paid"
    assert convert("A REGLER") == "issued" and convert("Payée") == "paid"  # labels still read
    assert convert(None) is None and convert("") is None
    with pytest.raises(InvalidValue):
        convert("Soldée")


@pytest.fixture
def segment(make_custom_field):
    return make_custom_field("accounts", "segment", "choice", choices=["PME", "Grand compte"])


def test_custom_choices_kinds_and_partner_codes_are_mapped_in_an_xlsx_file(
        make_profile, run_import, make_partner, segment, tmp_path):
    make_partner(external_ref="NEX01", name="Nexity")
    profile = make_profile("accounts", ACCOUNTS, value_maps={
        "Segment": {"GC": "Grand compte"}, "Type": {"SARL": "company"},
        "Apporteur": {"4200": "NEX01"}})
    workbook = openpyxl.Workbook()
    for row in (["Code", "Nom", "Segment", "Apporteur", "Type"],
                ["C1", "Un", "gc", 4200, "sarl"], ["C2", "Deux", "PME", "4200", "SARL"],
                ["C3", "Trois", "PME", 4300, "SARL"], ["C4", "Quatre", "ETI", None, "SARL"]):
        workbook.active.append(row)
    workbook.save(tmp_path / "clients.xlsx")
    run = run_import(profile, tmp_path / "clients.xlsx")
    accounts = by_key("accounts")
    assert accounts["C1"].custom["segment"] == "Grand compte" and accounts["C1"].kind == "company"
    assert accounts["C1"].partner.external_ref == "NEX01"
    assert accounts["C2"].partner.external_ref == "NEX01"
    assert "C3" not in accounts and "C4" not in accounts
    assert sorted((e.column, e.value) for e in row_errors(run)) == [
        ("Apporteur", "4300"), ("Segment", "ETI")]


def test_a_mapping_to_a_choice_that_is_not_one_is_refused(make_profile, segment):
    with pytest.raises(ValidationError) as refused:
        make_profile("accounts", ACCOUNTS, value_maps={"Segment": {"GC": "Enorme"}})
    assert "value_maps.Segment.GC" in refused.value.errors


def test_a_run_applies_its_version_as_saved_after_the_record_is_gone(
        make_profile, run_import, make_partner, feed_file, segment):
    from app.extensions import db

    partner = make_partner(external_ref="NEX01", name="Nexity")
    profile = make_profile("accounts", ACCOUNTS, value_maps={"Apporteur": {"NX": "NEX01"}})
    partner.external_ref = "NEX02"
    db.session.commit()
    run = run_import(profile, feed_file("Code;Nom;Segment;Apporteur;Type\n"
                                        "C1;Un;PME;NX;Entreprise\n"))
    assert run.status == "failed"  # a row error, not a profile that no longer opens
    # The error keeps the file's value; its message names the reference it was mapped to.
    assert [(e.column, e.value, e.message_params) for e in row_errors(run)] == [
        ("Apporteur", "NX", {"ref": "NEX01"})]


def test_a_partner_is_found_by_its_exact_name_in_capitals_with_accents(make_profile,
                                                                         make_partner, segment):
    from app.extensions import db
    from app.services import feeds

    make_partner(external_ref="P9", name="ÉTABLISSEMENTS DURAND")
    make_partner(external_ref="P10", name="Établissements Durand et Fils")
    profile = make_profile("accounts", ACCOUNTS)
    for typed in ("ÉTABLISSEMENTS DURAND", "établissements durand", "Etablissements Durand"):
        saved = feeds.map_value(profile, "Apporteur", typed, typed)
        db.session.commit()
        assert saved.definition["value_maps"]["Apporteur"][typed] == "P9"


STATUS_COLUMNS = {"Réf": "external_ref", "N°": "number", "Client": "account.external_ref",
                  "Statut": "status", "Total": "total"}


def test_a_profile_saved_with_two_spellings_mapped_apart_still_imports(
        tenant, make_account, make_profile, feed_file, run_import):
    """Two spellings of one value mapped to two values are refused when saved, not when a
    run applies a version saved before that rule: a run takes its mappings as saved."""
    make_account(external_ref="C1", name="Client Un")
    profile = make_profile("invoices", STATUS_COLUMNS, name="factures-statut",
                           value_maps={"Statut": {"Réglée": "paid"}})
    # As a profile saved before the rule holds them (its definition as stored then).
    profile.definition = {**profile.definition,
                          "value_maps": {"Statut": {"Réglée": "paid", "REGLEE": "cancelled"}}}
    flag_modified(profile, "definition")
    db.session.commit()
    path = feed_file("Réf;N°;Client;Statut;Total\nR1;F-001;C1;Réglée;120,00\n", name="n.csv")
    run = run_import(profile, path)
    assert run.status == "succeeded", run.message
    assert by_key("invoices")["R1"].status == "paid"


def test_a_profile_turned_to_another_entity_does_not_keep_mappings_to_values_it_lacks(
        tenant, make_account, make_profile, feed_file, run_import):
    """An invoices profile maps "Réglée" to paid. Turned to quotes (the mapping screen's
    entity, or a PATCH of `entity`), its "Statut" column still goes to `status`, but its
    mappings are checked again: "paid" is no quote status. Refused, naming the mapping, or
    dropped: never saved to fail every such row of every run."""
    make_account(external_ref="C1", name="Client Un")
    profile = make_profile("invoices", STATUS_COLUMNS, name="factures-statut",
                           value_maps={"Statut": {"Réglée": "paid"}})
    try:
        feeds.update_profile(profile, {**normalized(profile.definition), "entity": "quotes"})
        db.session.commit()
    except ValidationError:
        db.session.rollback()
        return  # refused, naming the mapping: fine
    maps = profile.definition.get("value_maps") or {}
    path = feed_file("Réf;N°;Client;Statut;Total\nR1;D-001;C1;Réglée;120,00\n", name="q.csv")
    run = run_import(profile, path)
    assert maps.get("Statut", {}).get("Réglée") != "paid", (
        f"quotes profile saved mapping Réglée → paid; its run: {run.status}, "
        f"{run.failed} failed")


def test_a_number_cell_offered_to_map_is_mapped_as_the_run_reads_it(
        make_profile, run_import, make_custom_field, tmp_path):
    """An XLSX column of segment codes, numbers formatted "#,##0" and "0.00": the pages offer
    the values to map, the admin maps each one offered (the one-click's map_value), and the
    next run of the same file must import the rows."""
    make_custom_field("accounts", "segment", "choice", choices=["PME", "Grand compte"])
    profile = make_profile("accounts", {"Code": "external_ref", "Nom": "name",
                                        "Segment": "custom.segment"})
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in (["Code", "Nom", "Segment"], ["C1", "Un", 1000], ["C2", "Deux", 3]):
        sheet.append(row)
    sheet["C2"].number_format = "#,##0"
    sheet["C3"].number_format = "0.00"
    workbook.save(tmp_path / "clients.xlsx")
    run = run_import(profile, tmp_path / "clients.xlsx")
    assert run.failed == 2
    offered, _total = unmapped_values(run, profile)
    assert len(offered) == 2
    for value in offered:
        feeds.map_value(profile, value.column, value.value, "PME")
        db.session.commit()
    again = run_import(profile, tmp_path / "clients.xlsx", force=True)
    assert (again.failed, [e.value for e in row_errors(again)]) == (0, [])
    assert by_key("accounts")["C1"].custom["segment"] == "PME"


def test_an_unknown_reference_keeps_the_files_value_on_the_row_path_too(
        make_profile, run_import, make_account, make_partner, feed_file):
    """An invoice file with lines, read row by row: "NX", mapped to a partner whose code
    changed since, fails its row with the file's value, as on the column path (above)."""
    make_account(external_ref="C1", name="Un")
    partner = make_partner(external_ref="NEX01", name="Nexity")
    profile = make_profile("invoices", {
        "N°": "number", "Client": "account.external_ref", "Apporteur": "partner.external_ref",
        "Article": "lines.sku", "Qté": "lines.quantity", "PU": "lines.unit_price"},
        key="number", value_maps={"Apporteur": {"NX": "NEX01"}})
    partner.external_ref = "NEX02"
    db.session.commit()
    run = run_import(profile, feed_file("N°;Client;Apporteur;Article;Qté;PU\n"
                                        "F1;C1;NX;A;1;10,00\n"))
    assert [(e.column, e.value, e.message_params) for e in row_errors(run)] == [
        ("Apporteur", "NX", {"ref": "NEX01"})]


def test_a_workbook_date_offered_to_map_is_mapped_as_the_run_reads_it(
        make_profile, run_import, make_partner, tmp_path):
    """Excel turned the partner code "1-2" into a date: the run page offers the value to map,
    the admin maps it to the partner, and the next run of the same file must take it."""
    make_partner(external_ref="NEX01", name="Nexity")
    profile = make_profile("accounts", {"Code": "external_ref", "Nom": "name",
                                        "Apporteur": "partner.external_ref"})
    workbook = openpyxl.Workbook()
    for row in (["Code", "Nom", "Apporteur"], ["C1", "Un", datetime(2026, 1, 2)]):
        workbook.active.append(row)
    workbook.save(tmp_path / "clients.xlsx")
    run = run_import(profile, tmp_path / "clients.xlsx")
    assert run.failed == 1
    offered, _total = unmapped_values(run, profile)
    assert len(offered) == 1
    feeds.map_value(profile, offered[0].column, offered[0].value, "NEX01")
    db.session.commit()
    again = run_import(profile, tmp_path / "clients.xlsx", force=True)
    assert (again.failed, [(e.value, e.message) for e in row_errors(again)]) == (0, [])
    assert by_key("accounts")["C1"].partner.external_ref == "NEX01"


def test_the_last_runs_values_are_still_offered_once_a_header_changes_case(
        make_profile, run_import, make_account, feed_file):
    """The last run failed "Réglée" in the column "Statut". The admin then saves the mapping
    screen from a sample whose header reads "STATUT" (headers match whatever their case: the
    same column, its mappings kept). The run's value to map must still be offered, and
    mapping it must take at the next run."""
    make_account(external_ref="C1", name="Client Un")
    columns = {"Réf": "external_ref", "N°": "number", "Client": "account.external_ref",
               "Statut": "status", "Total": "total"}
    profile = make_profile("invoices", columns, name="factures-statut")
    path = feed_file("Réf;N°;Client;Statut;Total\nR1;F-001;C1;Réglée;120,00\n", name="n.csv")
    run = run_import(profile, path)
    assert run.failed == 1
    assert [v.value for v in unmapped_values(run, profile)[0]] == ["Réglée"]
    renamed = {("STATUT" if k == "Statut" else k): v for k, v in columns.items()}
    feeds.update_profile(profile, {**profile.definition, "columns": renamed})
    db.session.commit()
    offered, _total = unmapped_values(run, profile)
    assert [v.value for v in offered] == ["Réglée"]
    feeds.map_value(profile, offered[0].column, offered[0].value, "paid")
    db.session.commit()
    again = run_import(profile, path, force=True)
    assert again.failed == 0 and by_key("invoices")["R1"].status == "paid"
