"""Undoing an import run: what it created goes (or is archived when referred to since), what
it updated gets its values of before back (custom fields and lines included), what it
archived comes back; a record changed since by someone else is left alone and listed; a dry
run announces the same and writes nothing; the revert is audited."""
from __future__ import annotations

import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask_babel import gettext
from sqlalchemy import select

from app.entities import ENTITIES
from app.errors import ValidationError
from app.extensions import db
from app.models import ApiToken, Attachment, AuditEvent, ImportRun, User
from app.services.import_revert import revert_run
from app.services.record_rules import snapshot
from app.services.records import create_record, update_record
from app.services.tokens import create_token
from importers import runs
from tests.backoffice.conftest import count_statements
from tests.importers.conftest import by_key, records
from tests.importers.test_archives import pdf_file
from tests.importers.test_empty_cells import IMPORTABLE, _cell, _columns, _mapped


def _file(path: Path, entity: str, specs: list[Any], kind: str, refs: list[str]) -> Path:
    lines = ENTITIES[entity].line_model is not None
    header = ["Réf", *(f"Col {spec.name}" for spec in specs), "Note",
              *(["Article", "Qté"] if lines else [])]
    rows = [[ref, *(_cell(spec, kind, n) for spec in specs), f"{kind} {n}",
             *([f"SKU-{kind}", "2" if kind == "filled" else "1"] if lines else [])]
            for n, ref in enumerate(refs)]
    path.write_text("\n".join(";".join(row) for row in [header, *rows]) + "\n",
                    encoding="utf-8")
    return path


def _profile(make_profile, make_custom_field, entity: str, specs: list[Any], **options: Any):
    make_custom_field(entity, "note", "text")
    columns = {**_columns(specs), "Note": "custom.note"}
    if ENTITIES[entity].line_model is not None:
        columns.update({"Article": "lines.sku", "Qté": "lines.quantity"})
    return make_profile(entity, columns, **options)


@pytest.fixture
def base_records(tenant) -> None:
    create_record(ENTITIES["partners"], {"name": "Partenaire", "external_ref": "P1"})
    create_record(ENTITIES["accounts"], {"name": "Client", "external_ref": "C1"})
    db.session.commit()


def _states(entity: str) -> dict[Any, dict[str, Any]]:
    db.session.expire_all()
    return {r.id: snapshot(ENTITIES[entity], r) for r in records(entity)}


def _revert(run: ImportRun, dry_run: bool = False):
    plan = revert_run(db.session.get(ImportRun, run.id), dry_run=dry_run)
    db.session.commit()
    db.session.expire_all()
    return plan


@pytest.mark.parametrize("entity", IMPORTABLE)
def test_a_run_that_created_records_is_undone(base_records, tmp_path, make_profile,
                                              make_custom_field, run_import, entity):
    specs = _mapped(entity)
    profile = _profile(make_profile, make_custom_field, entity, specs)
    before = _states(entity)
    run = run_import(profile, _file(tmp_path / "a.csv", entity, specs, "filled",
                                    ["R1", "R2"]))
    assert run.counts["created"] == 2, run.counts
    preview = _revert(run, dry_run=True)
    assert len(_states(entity)) == len(before) + 2  # a dry run writes nothing
    plan = _revert(run)
    assert plan.counts == preview.counts
    assert (len(plan.deleted), len(plan.skipped)) == (2, 0)
    assert _states(entity) == before


@pytest.mark.parametrize("entity", IMPORTABLE)
def test_a_run_that_updated_records_is_undone(base_records, tmp_path, make_profile,
                                              make_custom_field, run_import, entity):
    specs = _mapped(entity)
    profile = _profile(make_profile, make_custom_field, entity, specs)
    first = run_import(profile, _file(tmp_path / "a.csv", entity, specs, "zero", ["R1", "R2"]))
    assert first.counts["created"] == 2, first.counts
    before = _states(entity)
    second = run_import(profile, _file(tmp_path / "b.csv", entity, specs, "filled",
                                       ["R1", "R2"]))
    assert second.counts["updated"] == 2, second.counts
    assert _states(entity) != before
    preview = _revert(second, dry_run=True)
    assert _states(entity) != before
    plan = _revert(second)
    assert plan.counts == preview.counts
    assert (len(plan.restored), len(plan.deleted), len(plan.skipped)) == (2, 0, 0)
    after = _states(entity)
    for record_id, state in before.items():
        assert after[record_id] == state


@pytest.mark.parametrize("entity", IMPORTABLE)
def test_a_record_changed_since_is_skipped_on_every_entity(
        base_records, tmp_path, make_profile, make_custom_field, run_import, entity):
    specs = _mapped(entity)
    profile = _profile(make_profile, make_custom_field, entity, specs)
    run_import(profile, _file(tmp_path / "a.csv", entity, specs, "zero", ["R1", "R2"]))
    before = _states(entity)
    run = run_import(profile, _file(tmp_path / "b.csv", entity, specs, "filled", ["R1", "R2"]))
    touched = by_key(entity)["R2"]
    update_record(touched, {"custom": {"note": "à la main"}})
    db.session.commit()
    changed = _states(entity)[touched.id]
    plan = _revert(run)
    assert (plan.skipped, len(plan.restored)) == ([touched.id], 1)
    after = _states(entity)
    assert after[touched.id] == changed
    assert after[by_key(entity)["R1"].id] == before[by_key(entity)["R1"].id]


def test_lines_and_the_totals_made_of_them_come_back(base_records, tmp_path, make_profile,
                                                     run_import):
    profile = make_profile("invoices", {"N°": "number", "Client": "account.external_ref",
                                        "Article": "lines.sku", "Qté": "lines.quantity",
                                        "PU": "lines.unit_price"}, key="number")
    path = tmp_path / "f.csv"
    path.write_text("N°;Client;Article;Qté;PU\nF-1;C1;A;1;10,00\n", encoding="utf-8")
    run_import(profile, path)
    before = _states("invoices")
    path.write_text("N°;Client;Article;Qté;PU\nF-1;C1;A;2;10,00\nF-1;C1;B;1;5,00\n",
                    encoding="utf-8")
    run = run_import(profile, path)
    assert run.counts["updated"] == 1
    changed = _states("invoices")
    assert changed != before
    assert len(next(iter(changed.values()))["lines"]) == 2
    _revert(run)
    assert _states("invoices") == before


def test_a_record_changed_since_by_a_user_is_left_alone_and_listed(
        base_records, tmp_path, make_profile, run_import):
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"})
    path = tmp_path / "c.csv"
    path.write_text("Réf;Nom\nA1;Un\nA2;Deux\n", encoding="utf-8")
    run_import(profile, path)
    path.write_text("Réf;Nom\nA1;Un bis\nA2;Deux bis\n", encoding="utf-8")
    run = run_import(profile, path)
    accounts = by_key("accounts")
    update_record(accounts["A2"], {"name": "Changé à la main"})
    db.session.commit()
    preview = _revert(run, dry_run=True)
    plan = _revert(run)
    assert plan.skipped == preview.skipped == [accounts["A2"].id]
    accounts = by_key("accounts")
    assert (accounts["A1"].name, accounts["A2"].name) == ("Un", "Changé à la main")
    summary = db.session.get(ImportRun, run.id).revert_summary
    assert summary["skipped"] == [accounts["A2"].id]
    assert summary["counts"]["restored"] == 1


def test_a_created_account_with_invoices_since_is_archived_not_deleted(
        base_records, tmp_path, make_profile, run_import):
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"})
    path = tmp_path / "c.csv"
    path.write_text("Réf;Nom\nA1;Un\nA2;Deux\n", encoding="utf-8")
    run = run_import(profile, path)
    accounts = by_key("accounts")
    invoices = make_profile("invoices", {"N°": "number", "Client": "account.external_ref"},
                            key="number")
    other = tmp_path / "f.csv"
    other.write_text("N°;Client\nF-1;A1\n", encoding="utf-8")
    assert run_import(invoices, other).counts["created"] == 1
    plan = _revert(run)
    assert (plan.archived, plan.deleted) == ([accounts["A1"].id], [accounts["A2"].id])
    left = by_key("accounts")
    assert "A2" not in left
    assert left["A1"].archived_at is not None
    assert by_key("invoices", "number")["F-1"].account_id == accounts["A1"].id


def test_a_customer_an_archive_created_goes_with_its_own_file(tmp_path, make_profile,
                                                              run_import):
    """A customer's file points at him (attachments.account_id): the file the run attached
    goes with the customer it created, which is deleted, not kept archived as referred to."""
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"},
                           documents={"column": "Fichier"})
    path = tmp_path / "clients.zip"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("clients.csv", "Réf;Nom;Fichier\r\nA1;Dupont SA;kbis.pdf\r\n".encode(
            "cp1252"))
        out.writestr("kbis.pdf", pdf_file("Extrait Kbis Dupont"))
    run = run_import(profile, path)
    assert (run.created, run.attached) == (1, 1)
    plan = revert_run(db.session.get(ImportRun, run.id))
    db.session.commit()
    assert (len(plan.deleted), plan.archived) == (1, [])
    assert records("accounts") == []
    assert db.session.scalars(select(Attachment)).all() == []


def test_a_created_record_a_login_or_a_token_refers_to_is_archived_not_deleted(
        base_records, tmp_path, make_profile, run_import, make_user):
    # Since the run: an API token and an agent of a partner it created, a subscriber's login
    # on a customer it created. Deleting them would delete the token with its partner and
    # leave the logins without theirs.
    partners = make_profile("partners", {"Réf": "external_ref", "Nom": "name"})
    path = tmp_path / "p.csv"
    path.write_text("Réf;Nom\nP9;Neuf\nP10;Dix\n", encoding="utf-8")
    partner_run = run_import(partners, path)
    p9 = by_key("partners")["P9"]
    token, _secret = create_token("Partenaire P9", "read", p9.id)
    db.session.commit()
    agent = make_user("agent", partner_id=p9.id)
    accounts = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"})
    path = tmp_path / "c.csv"
    path.write_text("Réf;Nom\nA1;Un\n", encoding="utf-8")
    account_run = run_import(accounts, path)
    subscriber = make_user("subscriber", account_id=by_key("accounts")["A1"].id)
    token_id, agent_id, subscriber_id = token.id, agent.id, subscriber.id

    plan = _revert(partner_run)
    assert (plan.archived, [*by_key("partners")]) == ([p9.id], ["P1", "P9"])
    assert db.session.get(ApiToken, token_id) is not None
    assert db.session.get(User, agent_id).partner_id == p9.id
    plan = _revert(account_run)
    assert plan.deleted == [] and len(plan.archived) == 1
    assert db.session.get(User, subscriber_id).account_id == plan.archived[0]


def test_lines_given_to_a_document_without_lines_go_with_their_totals(
        base_records, tmp_path, make_profile, run_import):
    customer = by_key("accounts")["C1"]
    create_record(ENTITIES["invoices"], {
        "number": "F-1", "account": customer.id, "total_excl_tax": Decimal("500.00"),
        "tax_total": Decimal("100.00"), "total": Decimal("600.00")})
    db.session.commit()
    before = _states("invoices")
    profile = make_profile("invoices", {"N°": "number", "Client": "account.external_ref",
                                        "Article": "lines.sku", "Qté": "lines.quantity",
                                        "PU": "lines.unit_price"}, key="number")
    path = tmp_path / "f.csv"
    path.write_text("N°;Client;Article;Qté;PU\nF-1;C1;A;1;10,00\n", encoding="utf-8")
    run = run_import(profile, path)
    assert run.counts["updated"] == 1
    assert by_key("invoices", "number")["F-1"].total == Decimal("12.00")
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "invoices", AuditEvent.action == "update")).one()
    assert {k: event.before[k] for k in ("total_excl_tax", "tax_total", "total")} == {
        "total_excl_tax": "500.00", "tax_total": "100.00", "total": "600.00"}
    _revert(run)
    assert _states("invoices") == before


def test_a_created_record_another_profile_changed_since_is_listed(
        base_records, tmp_path, make_profile, run_import):
    names = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"})
    cities = make_profile("accounts", {"Réf": "external_ref", "Ville": "city"})
    path = tmp_path / "a.csv"
    path.write_text("Réf;Nom\nA1;Un\nA2;Deux\n", encoding="utf-8")
    run = run_import(names, path)
    other = tmp_path / "b.csv"
    other.write_text("Réf;Ville\nA1;Lille\n", encoding="utf-8")
    assert run_import(cities, other).counts["updated"] == 1
    accounts = by_key("accounts")
    plan = _revert(run)
    assert (plan.skipped, plan.deleted) == ([accounts["A1"].id], [accounts["A2"].id])
    assert by_key("accounts")["A1"].city == "Lille"


def test_the_same_file_sent_again_after_a_revert_is_imported_again(
        base_records, tmp_path, make_profile, run_import):
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"})
    path = tmp_path / "c.csv"
    path.write_text("Réf;Nom\nA1;Un\nA2;Deux\n", encoding="utf-8")
    run = run_import(profile, path)
    skipped = run_import(profile, path)  # the same file: nothing to do
    assert skipped.started_at is None and skipped.counts["created"] == 0
    _revert(run)
    assert "A1" not in by_key("accounts")
    again = run_import(profile, path)
    assert again.counts["created"] == 2 and again.message is None
    assert {"A1", "A2"} <= set(by_key("accounts"))


def _full_sync_without_a2(make_profile, run_import, tmp_path) -> tuple[Any, Path]:
    """A full sync profile that imported A1 and A2, and its next file, which has A1 only."""
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"},
                           full_sync=True)
    path = tmp_path / "c.csv"
    path.write_text("Réf;Nom\nA1;Un\nA2;Deux\n", encoding="utf-8")
    run_import(profile, path)
    path.write_text("Réf;Nom\nA1;Un\n", encoding="utf-8")
    return profile, path


def test_a_full_sync_runs_archived_records_come_back(base_records, tmp_path, make_profile,
                                                     run_import):
    profile, path = _full_sync_without_a2(make_profile, run_import, tmp_path)
    run = run_import(profile, path)
    assert run.counts["archived"] == 1
    assert by_key("accounts")["A2"].archived_at is not None
    preview = _revert(run, dry_run=True)
    assert by_key("accounts")["A2"].archived_at is not None
    plan = _revert(run)
    assert plan.counts == preview.counts
    back = by_key("accounts")["A2"]
    assert plan.unarchived == [back.id]
    assert back.archived_at is None
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.record_id == back.id, AuditEvent.entity == "accounts")
        .order_by(AuditEvent.id.desc())).first()
    assert event.before["archived_at"] and event.after == {"archived_at": None}


def test_the_revert_is_audited_and_happens_once(base_records, tmp_path, make_profile,
                                                run_import):
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"})
    path = tmp_path / "c.csv"
    path.write_text("Réf;Nom\nA1;Un\n", encoding="utf-8")
    run = run_import(profile, path)
    record_id = by_key("accounts")["A1"].id
    _revert(run)
    actions = db.session.execute(select(AuditEvent.action, AuditEvent.entity).where(
        AuditEvent.record_id.in_([record_id, run.id]))).all()
    assert ("delete", "accounts") in actions and ("revert", "import_runs") in actions
    assert db.session.get(ImportRun, run.id).reverted_at is not None
    with pytest.raises(ValidationError):
        _revert(run)


def test_no_revert_while_a_run_of_the_profile_is_under_way(base_records, tmp_path,
                                                           make_profile, run_import):
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"})
    path = tmp_path / "c.csv"
    path.write_text("Réf;Nom\nA1;Un\n", encoding="utf-8")
    run = run_import(profile, path)
    profile.locked_by_run_id = run.id  # as a running run of the profile holds it
    db.session.commit()
    with pytest.raises(ValidationError):
        _revert(run)
    db.session.rollback()
    assert "A1" in by_key("accounts")


def test_a_run_that_wrote_no_record_offers_nothing_to_revert(base_records, tmp_path,
                                                             make_profile, run_import):
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"})
    path = tmp_path / "c.csv"
    path.write_text("Réf;Nom\nA1;\nA2;\n", encoding="utf-8")  # every row lacks its name
    run = run_import(profile, path)
    assert run.is_finished and run.failed == 2 and not run.can_revert
    with pytest.raises(ValidationError) as refused:
        _revert(run)
    assert refused.value.errors == {
        "": gettext("This run changed no record: there is nothing to revert.")}
    db.session.rollback()
    assert db.session.get(ImportRun, run.id).reverted_at is None


def test_a_full_sync_run_that_failed_after_archiving_can_still_be_reverted(
        base_records, tmp_path, make_profile, run_import, monkeypatch):
    profile, path = _full_sync_without_a2(make_profile, run_import, tmp_path)

    def broken(run):  # the run's end fails once the archiving is committed
        raise RuntimeError("disk full")

    monkeypatch.setattr(runs, "count_groups", broken)
    run = run_import(profile, path)
    assert run.status == "failed" and by_key("accounts")["A2"].archived_at is not None
    # Its count was committed with the archiving: the revert knows there is one to undo.
    assert run.archived == 1 and run.can_revert
    assert _revert(run).unarchived == [by_key("accounts")["A2"].id]
    assert by_key("accounts")["A2"].archived_at is None


def test_a_second_revert_of_the_same_file_deletes_what_it_created_again(
        base_records, tmp_path, make_profile, run_import):
    # On SQLite a deleted record's id is given again: the first revert's deletions are
    # events of other records, not changes of the new ones.
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"})
    path = tmp_path / "c.csv"
    path.write_text("Réf;Nom\nA1;Un\nA2;Deux\n", encoding="utf-8")
    assert len(_revert(run_import(profile, path)).deleted) == 2
    again = run_import(profile, path)
    assert again.counts["created"] == 2
    plan = _revert(again)
    assert (len(plan.deleted), plan.skipped) == (2, [])
    assert not {"A1", "A2"} & set(by_key("accounts"))


def _invoice_profile(make_profile):
    create_record(ENTITIES["accounts"], {"name": "Client 2", "external_ref": "C2"})
    db.session.commit()
    return make_profile("invoices", {"Réf": "external_ref", "N°": "number",
                                     "Client": "account.external_ref", "Total": "total"})


def _night(run_import, profile, path: Path, *rows: str) -> ImportRun:
    """The file of that night (`rows` under the invoice profile's header), imported."""
    path.write_text("\n".join(["Réf;N°;Client;Total", *rows]) + "\n", encoding="utf-8")
    return run_import(profile, path)


def test_a_record_whose_former_customer_is_gone_is_left_alone_and_the_rest_reverted(
        base_records, tmp_path, make_profile, run_import):
    profile = _invoice_profile(make_profile)
    path = tmp_path / "f.csv"
    _night(run_import, profile, path, "X1;F-1;C1;10", "X2;F-2;C2;20")
    run = _night(run_import, profile, path, "X1;F-1;C2;10", "X2;F-2;C2;25")
    invoices = by_key("invoices")
    db.session.delete(by_key("accounts")["C1"])
    db.session.commit()
    dry = _revert(run, dry_run=True)
    plan = _revert(run)
    assert (dry.skipped, dry.restored) == (plan.skipped, plan.restored) \
        == ([invoices["X1"].id], [invoices["X2"].id])
    invoices = by_key("invoices")
    assert invoices["X1"].account_id == by_key("accounts")["C2"].id
    assert invoices["X2"].total == Decimal(20)


def test_a_record_whose_former_number_is_taken_is_left_alone_and_the_rest_reverted(
        base_records, tmp_path, make_profile, run_import):
    profile = _invoice_profile(make_profile)
    path = tmp_path / "f.csv"
    _night(run_import, profile, path, "X1;F-1;C1;10", "X2;F-2;C1;20")
    run = _night(run_import, profile, path, "X1;F-10;C1;10", "X2;F-20;C1;20")
    create_record(ENTITIES["invoices"], {"number": "F-1", "account": by_key("accounts")["C1"].id})
    db.session.commit()
    invoices = by_key("invoices")
    plan = _revert(run)
    assert (plan.skipped, plan.restored) == ([invoices["X1"].id], [invoices["X2"].id])
    numbers = {ref: invoice.number for ref, invoice in by_key("invoices").items()}
    assert (numbers["X1"], numbers["X2"]) == ("F-10", "F-2")


def test_a_number_the_run_changed_comes_back_while_it_is_free(base_records, tmp_path,
                                                         make_profile, run_import):
    profile = _invoice_profile(make_profile)
    path = tmp_path / "f.csv"
    _night(run_import, profile, path, "X1;F-1;C1;10", "X2;F-2;C1;20")
    run = _night(run_import, profile, path, "X1;F-3;C1;10")
    plan = _revert(run)
    assert plan.skipped == [] and by_key("invoices")["X1"].number == "F-1"


def _three_nights(make_profile, run_import, tmp_path) -> tuple[ImportRun, ImportRun]:
    """A1 named "Un", then "Un bis" on Monday, then "Un ter" on Tuesday."""
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"})
    path = tmp_path / "c.csv"
    runs = []
    for name in ("Un", "Un bis", "Un ter"):
        path.write_text(f"Réf;Nom\nA1;{name}\n", encoding="utf-8")
        runs.append(run_import(profile, path))
    return runs[1], runs[2]


def test_two_nights_reverted_newest_first_give_back_the_values_of_before_both(
        base_records, tmp_path, make_profile, run_import):
    monday, tuesday = _three_nights(make_profile, run_import, tmp_path)
    assert _revert(tuesday).restored and by_key("accounts")["A1"].name == "Un bis"
    plan = _revert(monday)
    assert (plan.restored, plan.skipped) == ([by_key("accounts")["A1"].id], [])
    assert by_key("accounts")["A1"].name == "Un"


def test_a_later_run_not_reverted_still_counts_as_a_change_since(
        base_records, tmp_path, make_profile, run_import):
    monday, _tuesday = _three_nights(make_profile, run_import, tmp_path)
    assert _revert(monday).skipped == [by_key("accounts")["A1"].id]
    assert by_key("accounts")["A1"].name == "Un ter"


def test_a_record_the_older_night_created_goes_once_both_nights_are_reverted(
        base_records, tmp_path, make_profile, run_import):
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"})
    path = tmp_path / "c.csv"
    path.write_text("Réf;Nom\nA1;Un\n", encoding="utf-8")
    monday = run_import(profile, path)
    path.write_text("Réf;Nom\nA1;Un bis\n", encoding="utf-8")
    tuesday = run_import(profile, path)
    _revert(tuesday)
    plan = _revert(monday)
    assert (len(plan.deleted), plan.skipped) == (1, [])
    assert "A1" not in by_key("accounts")


def test_a_number_freed_by_a_record_the_revert_deletes_comes_back(
        base_records, tmp_path, make_profile, run_import):
    profile = _invoice_profile(make_profile)
    path = tmp_path / "f.csv"
    _night(run_import, profile, path, "X1;F-1;C1;10")
    # The run renumbers X1 and gives its number to a new invoice.
    run = _night(run_import, profile, path, "X1;F-9;C1;10", "X3;F-1;C1;30")
    plan = _revert(run)
    assert (plan.skipped, len(plan.deleted)) == ([], 1)
    assert {ref: i.number for ref, i in by_key("invoices").items()} == {"X1": "F-1"}


def test_older_run_of_another_profile_reverted_after_the_newer_one_deletes_its_record(
        tenant, tmp_path, make_profile, run_import):
    """Monday, profile "names" creates A1; Tuesday, profile "cities" updates it. Tuesday's
    run reverted, then Monday's: A1 goes, as with one profile (Tuesday and its revert cancel
    out)."""
    names = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"})
    cities = make_profile("accounts", {"Réf": "external_ref", "Ville": "city"})
    path = tmp_path / "a.csv"
    path.write_text("Réf;Nom\nA1;Un\n", encoding="utf-8")
    monday = run_import(names, path)
    other = tmp_path / "b.csv"
    other.write_text("Réf;Ville\nA1;Lille\n", encoding="utf-8")
    tuesday = run_import(cities, other)
    assert tuesday.counts["updated"] == 1
    assert _revert(tuesday).restored == [by_key("accounts")["A1"].id]
    assert by_key("accounts")["A1"].city is None
    plan = _revert(monday)
    assert (plan.skipped, len(plan.deleted)) == ([], 1)
    assert "A1" not in by_key("accounts")


def test_a_full_sync_run_reverted_no_longer_owns_the_records_it_updated(
        tenant, tmp_path, make_profile, run_import):
    """A customer created in Relais, updated by a full-sync feed's run, which is reverted:
    the customer is as before the run, so the feed's next file, which does not name him,
    does not archive him (before that run the feed never would have)."""
    create_record(ENTITIES["accounts"], {"name": "Manuel", "external_ref": "M1"})
    db.session.commit()
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"},
                           full_sync=True)
    path = tmp_path / "a.csv"
    path.write_text("Réf;Nom\nM1;Manuel bis\nA2;Deux\n", encoding="utf-8")
    run = run_import(profile, path)
    assert run.counts["updated"] == 1
    plan = _revert(run)
    assert len(plan.restored) == 1
    assert by_key("accounts")["M1"].name == "Manuel"
    path.write_text("Réf;Nom\nA2;Deux\n", encoding="utf-8")
    run_import(profile, path)
    assert by_key("accounts")["M1"].archived_at is None


def test_a_total_the_file_gives_stays_when_the_lines_a_run_changed_come_back(
        tenant, tmp_path, make_profile, run_import):
    """An invoice feed gives lines and the invoice's total (115.00 after a discount, not the
    120.00 its line makes). Tuesday's file adds a free line, the total unchanged; reverting
    Tuesday gives back Monday's line and leaves the total at 115.00, as it was before."""
    create_record(ENTITIES["accounts"], {"name": "Client", "external_ref": "C1"})
    db.session.commit()
    profile = make_profile("invoices", {"N°": "number", "Client": "account.external_ref",
                                        "Total": "total", "Article": "lines.sku",
                                        "Qté": "lines.quantity", "PU": "lines.unit_price"},
                           key="number")
    path = tmp_path / "f.csv"
    path.write_text("N°;Client;Total;Article;Qté;PU\nF-1;C1;115,00;A;1;100,00\n",
                    encoding="utf-8")
    run_import(profile, path)
    assert by_key("invoices", "number")["F-1"].total == Decimal("115.00")
    path.write_text("N°;Client;Total;Article;Qté;PU\nF-1;C1;115,00;A;1;100,00\n"
                    "F-1;C1;115,00;B;1;0,00\n", encoding="utf-8")
    run = run_import(profile, path)
    assert run.counts["updated"] == 1
    assert by_key("invoices", "number")["F-1"].total == Decimal("115.00")
    _revert(run)
    invoice = by_key("invoices", "number")["F-1"]
    assert [line.sku for line in invoice.lines] == ["A"]
    assert invoice.total == Decimal("115.00")


@pytest.fixture
def small_write_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """A revert writes two records at a time: three records cross a chunk's end."""
    from app.services import import_revert

    monkeypatch.setattr(import_revert, "WRITE_CHUNK", 2)
    return 2


@pytest.mark.parametrize("entity", IMPORTABLE)
def test_records_given_back_their_values_a_chunk_at_a_time_all_come_back(
        base_records, tmp_path, make_profile, make_custom_field, run_import,
        small_write_chunks, entity):
    specs = _mapped(entity)
    profile = _profile(make_profile, make_custom_field, entity, specs)
    refs = ["R1", "R2", "R3"]
    run_import(profile, _file(tmp_path / "a.csv", entity, specs, "zero", refs))
    before = _states(entity)
    run = run_import(profile, _file(tmp_path / "b.csv", entity, specs, "filled", refs))
    assert run.counts["updated"] == 3, run.counts
    plan = _revert(run)
    assert len(plan.restored) == 3
    assert _states(entity) == before


def _full_sync_that_archived(make_profile, run_import, tmp_path, count: int) -> ImportRun:
    """A full sync's run that archived `count` customers (A1… absent from its file)."""
    profile = make_profile("accounts", {"Réf": "external_ref", "Nom": "name"},
                           full_sync=True)
    path = tmp_path / "c.csv"
    path.write_text("Réf;Nom\n" + "".join(f"A{n};Nom {n}\n" for n in range(count + 1)),
                    encoding="utf-8")
    run_import(profile, path)
    path.write_text("Réf;Nom\nA0;Nom 0\n", encoding="utf-8")
    run = run_import(profile, path)
    assert run.counts["archived"] == count
    return run


def test_records_a_full_sync_archived_come_back_a_chunk_at_a_time(
        base_records, tmp_path, make_profile, run_import, small_write_chunks):
    run = _full_sync_that_archived(make_profile, run_import, tmp_path, 4)
    plan = _revert(run)
    assert len(plan.unarchived) == 4
    assert [a.archived_at for a in records("accounts", archived_at=None)
            if a.external_ref and a.external_ref.startswith("A")] == [None] * 5


def test_a_revert_of_a_full_sync_reads_its_archived_records_together_not_one_by_one(
        app, base_records, tmp_path, make_profile, run_import):
    run = _full_sync_that_archived(make_profile, run_import, tmp_path, 40)
    db.session.expunge_all()
    with count_statements(app) as sent:
        plan = _revert(run)
    assert len(plan.unarchived) == 40
    assert not [s for s in sent if re.search(r"FROM accounts\s+WHERE accounts\.id = ", s)]
    assert len(sent) < 40, len(sent)


def test_a_revert_of_lines_reads_them_together_not_document_by_document(
        app, base_records, tmp_path, make_profile, run_import):
    profile = make_profile("invoices", {"N°": "number", "Client": "account.external_ref",
                                        "Article": "lines.sku", "Qté": "lines.quantity",
                                        "PU": "lines.unit_price"}, key="number")
    path = tmp_path / "f.csv"
    path.write_text("N°;Client;Article;Qté;PU\n" + "".join(
        f"F-{n};C1;A;1;10,00\n" for n in range(30)), encoding="utf-8")
    run_import(profile, path)
    before = _states("invoices")
    path.write_text("N°;Client;Article;Qté;PU\n" + "".join(
        f"F-{n};C1;A;2;10,00\n" for n in range(30)), encoding="utf-8")
    run = run_import(profile, path)
    assert run.counts["updated"] == 30
    db.session.expunge_all()
    with count_statements(app) as sent:
        _revert(run)
    assert len([s for s in sent if re.search(r"FROM invoice_lines\b", s)]) < 30
    assert _states("invoices") == before
