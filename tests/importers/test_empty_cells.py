"""Empty, zero and missing cells mean the same on create and on update, on both paths, and a
dry run announces exactly what the real run then does: the unchanged file imported again
leaves every row unchanged, none failed."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.entities import ENTITIES
from app.extensions import db
from app.models import ImportRun
from app.services.records import create_record
from importers import column_import
from tests.importers.conftest import by_key, row_errors

IMPORTABLE = [name for name in ENTITIES if name != "attachments"]
# A filled cell per field type; required fields without a default are filled on every row.
FILLED = {"email": "a@exemple.fr", "phone": "0102030405",
          "date": "01/02/2026", "money": "12,50", "country": "BE", "decimal": "3,5",
          "datetime": "01/02/2026 10:30", "boolean": "oui"}
REFS = {"account": "C1", "partner": "P1"}


def _cell(spec: Any, kind: str, n: int) -> str:
    """A field's cell in row `n`, of kind "filled", "empty" or "zero" (texts differ by row:
    numbers are unique)."""
    if spec.type == "ref":
        return REFS.get(spec.name, "") if kind == "filled" or spec.required else ""
    always = spec.required and spec.type != "choice"
    if kind == "empty" and not always:
        return ""
    if spec.type == "money" and kind == "zero":
        return "0"
    if spec.type == "choice":
        return spec.choices[-1] if kind == "filled" else spec.choices[0]
    if spec.name == "currency":
        return "USD" if kind == "filled" else "EUR"
    return FILLED.get(spec.type, f"Texte {n}")


def _mapped(entity: str) -> list[Any]:
    return [spec for spec in ENTITIES[entity].fields
            if spec.name != "external_ref" and not (spec.type == "ref" and spec.ref == "users")]


def _columns(specs: list[Any]) -> dict[str, str]:
    columns = {"Réf": "external_ref"}
    for spec in specs:
        target = f"{spec.name}.external_ref" if spec.type == "ref" else spec.name
        columns[f"Col {spec.name}"] = target
    return columns


def _file(path: Path, specs: list[Any], kinds: list[str]) -> Path:
    header = ["Réf", *(f"Col {spec.name}" for spec in specs)]
    rows = [[f"R{n}", *(_cell(spec, kind, n) for spec in specs)] for n, kind in enumerate(kinds)]
    path.write_text("\n".join(";".join(row) for row in [header, *rows]) + "\n",
                    encoding="utf-8")
    return path


def _outcome(run: ImportRun) -> tuple[str, dict[str, int], list[tuple]]:
    errors = [(e.line, e.column, e.message) for e in row_errors(run)]
    return run.status, run.counts, errors


def _dry_then_real(run_import, profile, path: Path, force: bool) -> ImportRun:
    dry = run_import(profile, path, dry_run=True, force=force)
    real = run_import(profile, path, force=force)
    assert _outcome(dry) == _outcome(real)
    assert "database" not in str(_outcome(real)[2]).lower()
    return real


@pytest.mark.parametrize("path_kind", ["batch", "row"])
@pytest.mark.parametrize("entity", IMPORTABLE)
def test_empty_zero_and_missing_cells_import_and_reimport_alike(
        tenant, tmp_path, make_profile, run_import, monkeypatch, entity, path_kind):
    if path_kind == "row":
        monkeypatch.setattr(column_import, "applies", lambda engine, table: False)
    create_record(ENTITIES["partners"], {"name": "Partenaire", "external_ref": "P1"})
    create_record(ENTITIES["accounts"], {"name": "Client", "external_ref": "C1"})
    db.session.commit()
    specs = _mapped(entity)
    few = [spec for spec in specs if spec.required and spec.type != "choice"]
    for name, mapped in (("all", specs), ("few", few)):  # "few": the other columns absent
        profile = make_profile(entity, _columns(mapped), name=f"{entity}-{name}")
        path = _file(tmp_path / f"{entity}-{name}.csv", mapped, ["empty", "zero", "filled"])
        first = _dry_then_real(run_import, profile, path, force=False)
        assert first.status == "succeeded", _outcome(first)
        again = _dry_then_real(run_import, profile, path, force=True)
        assert again.status == "succeeded", _outcome(again)
        assert again.counts == {"created": 0, "updated": 0, "unchanged": 3, "failed": 0,
                                "archived": 0}


def test_an_empty_amount_paid_is_zero_on_create_and_update(tenant, tmp_path, make_profile,
                                                          run_import):
    """The data manager's file: an empty "Réglé" cell, imported, then imported again."""
    create_record(ENTITIES["accounts"], {"name": "Client", "external_ref": "C1"})
    db.session.commit()
    profile = make_profile("invoices", {"N° facture": "number", "Code client":
                                        "account.external_ref", "Réglé": "amount_paid",
                                        "Devise": "currency"}, key="number")
    path = tmp_path / "factures.csv"
    path.write_text("N° facture;Code client;Réglé;Devise\nF-1;C1;;\nF-2;C1;10,00;\n",
                    encoding="utf-8")
    assert run_import(profile, path).counts["created"] == 2
    invoices = by_key("invoices", "number")
    assert invoices["F-1"].amount_paid == Decimal("0.00")
    assert invoices["F-1"].currency == "EUR"
    again = run_import(profile, path, force=True)
    assert (again.status, again.counts["unchanged"], again.counts["failed"]) == \
        ("succeeded", 2, 0)
    path.write_text("N° facture;Code client;Réglé;Devise\nF-1;C1;;\nF-2;C1;;USD\n",
                    encoding="utf-8")
    changed = run_import(profile, path)
    assert (changed.status, changed.counts["updated"], changed.counts["failed"]) == \
        ("succeeded", 1, 0)
    db.session.expire_all()
    assert by_key("invoices", "number")["F-2"].amount_paid == Decimal("0.00")
    assert db.session.scalar(select(ImportRun.status).where(ImportRun.id == changed.id)) \
        == "succeeded"


@pytest.mark.parametrize("path_kind", ["batch", "row"])
def test_an_emptied_required_field_is_a_row_error_naming_its_column(
        tenant, tmp_path, make_profile, run_import, monkeypatch, path_kind):
    if path_kind == "row":
        monkeypatch.setattr(column_import, "applies", lambda engine, table: False)
    profile = make_profile("accounts", {"Code": "external_ref", "Raison sociale": "name",
                                        "Pays": "country"})
    path = tmp_path / "clients.csv"
    path.write_text("Code;Raison sociale;Pays\nC1;Client;\nC2;Autre;BE\n", encoding="utf-8")
    assert run_import(profile, path).counts["created"] == 2
    assert by_key("accounts")["C1"].country == "FR"
    path.write_text("Code;Raison sociale;Pays\nC1;;\nC2;Autre;\n", encoding="utf-8")
    real = _dry_then_real(run_import, profile, path, force=False)
    assert real.counts["failed"] == 1 and real.counts["updated"] == 1
    assert _outcome(real)[2] == [(2, "Raison sociale", "Ce champ est obligatoire.")]
    db.session.expire_all()
    assert by_key("accounts")["C2"].country == "FR"


@pytest.mark.parametrize("path_kind", ["batch", "row"])
def test_a_not_null_refusal_names_the_column_not_the_database_text(
        tenant, tmp_path, make_profile, run_import, monkeypatch, path_kind):
    """Should a check ever miss an empty required value, the database's refusal still
    reads as the field's error, never as its raw text."""
    from importers.engine import ImportEngine

    if path_kind == "row":
        monkeypatch.setattr(column_import, "applies", lambda engine, table: False)
    monkeypatch.setattr(ImportEngine, "missing_required", lambda self, row: None)
    profile = make_profile("partners", {"Code": "external_ref", "Nom": "name"})
    path = tmp_path / "partenaires.csv"
    path.write_text("Code;Nom\nP1;\nP2;Partenaire\n", encoding="utf-8")
    run = run_import(profile, path)
    assert (run.status, run.counts["created"], run.counts["failed"]) == ("partial", 1, 1)
    assert _outcome(run)[2] == [(2, "Nom", "Ce champ est obligatoire.")]
