"""CSV exports of filtered lists that French Excel opens: BOM, `;`, decimal comma, no formulas."""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from app.clock import local_today
from app.entities import ENTITIES
from app.services.records import create_record
from app.web import exports
from tests.backoffice.conftest import en


def _rows(response) -> list[list[str]]:
    body = response.data.decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:]), delimiter=";"))


def _by_column(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_invoice_export_is_excel_ready(admin_client, make_account, make_invoice):
    account = make_account(name="Stores; Fermetures")
    number = make_invoice(account=account.id, number="F-EXP-1").number
    response = admin_client.get("/alpha/invoices/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="invoices-{date.today().isoformat()}.csv"')
    raw = response.data
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw
    rows = _by_column(_rows(response))
    assert len(rows) == 1
    row = rows[0]
    assert row["Numéro"] == number
    assert row["Client"] == "Stores; Fermetures"  # quoted, so the `;` stays in its cell
    assert row["Total TTC"] == "1481,47"
    assert row["Date d’émission"] == "10/10/2026"
    # Due on 10/11/2026 (the factory's) and unpaid: overdue, as the list shows it.
    assert row["Statut"] == "En retard"
    assert row["Jours de retard"] == str((local_today() - date(2026, 11, 10)).days)


def test_export_headers_follow_the_language(admin_client, make_invoice):
    make_invoice()
    header = _rows(en(admin_client).get("/alpha/invoices/export.csv"))[0]
    assert header[0] == "Number" and "External reference" in header


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://evil.example\")", "+33 6 12 34 56 78",
                                   "-2+3", "@SUM(A1)", "=cmd|' /C calc'!A0"])
def test_formulas_are_neutralised(admin_client, make_account, value):
    make_account(name=value, phone=value[:40])
    rows = _by_column(_rows(admin_client.get("/alpha/accounts/export.csv")))
    assert rows[0]["Nom"] == "'" + value
    assert rows[0]["Téléphone"] == "'" + value[:40]


def test_export_respects_filters_search_and_sort(admin_client, make_invoice):
    make_invoice(number="F-A", status="paid")
    make_invoice(number="F-C", status="paid")
    make_invoice(number="F-B", status="issued")
    numbers = [r["Numéro"] for r in _by_column(_rows(admin_client.get(
        "/alpha/invoices/export.csv?status=paid&sort=-number")))]
    assert numbers == ["F-C", "F-A"]
    numbers = [r["Numéro"] for r in _by_column(_rows(admin_client.get(
        "/alpha/invoices/export.csv?q=F-B")))]
    assert numbers == ["F-B"]


def test_export_with_bad_filters_still_answers(admin_client, make_invoice):
    make_invoice()
    for query in ("status=bogus", "issued_on_from=32/13/2026", "after=garbage", "sort=evil",
                  "account=abc", "total_min=x"):
        response = admin_client.get(f"/alpha/invoices/export.csv?{query}")
        assert response.status_code == 200, query
        assert len(_rows(response)) == 2


def test_custom_fields_are_exported_the_french_way(admin_client, make_invoice, make_field):
    make_field("invoices", "remise", type="decimal", label_fr="Remise")
    make_field("invoices", "acompte", type="money", label_fr="Acompte")
    make_field("invoices", "livraison", type="date", label_fr="Livraison")
    make_field("invoices", "pose", type="boolean", label_fr="Pose")
    make_field("invoices", "options", type="multi_choice", choices=["motorisé", "éclairage"],
               label_fr="Options")
    make_field("invoices", "etage", type="integer", label_fr="Étage")
    make_field("invoices", "note", label_fr="Note")
    make_invoice(custom={"remise": "2.5", "acompte": "-12.50", "livraison": "2026-06-15",
                         "pose": True, "options": ["motorisé", "éclairage"], "etage": 3,
                         "note": "=1+2"})
    row = _by_column(_rows(admin_client.get("/alpha/invoices/export.csv")))[0]
    assert row["Remise"] == "2,5"
    assert row["Acompte"] == "-12,50"
    assert row["Livraison"] == "15/06/2026"
    assert row["Pose"] == "oui"
    assert row["Options"] == "motorisé, éclairage"
    assert row["Étage"] == "3"
    assert row["Note"] == "'=1+2"


def test_export_has_every_column_of_the_entity(admin_client, make_invoice):
    make_invoice(amount_paid=Decimal("100"))
    header = _rows(admin_client.get("/alpha/invoices/export.csv"))[0]
    assert len(header) == len(ENTITIES["invoices"].fields) + 1  # and its days late
    row = _by_column(_rows(admin_client.get("/alpha/invoices/export.csv")))[0]
    assert row["Montant réglé"] == "100,00"


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_every_entity_exports(admin_client, make_record, entity):
    make_record(entity)
    rows = _rows(admin_client.get(f"/alpha/{entity}/export.csv"))
    # The business columns only: the internal id means nothing outside Relais.
    assert "id" not in rows[0] and len(rows) == 2


def test_export_stops_at_the_configured_maximum(app, admin_client, make_invoice):
    for _ in range(3):
        make_invoice()
    app.config["EXPORT_MAX_ROWS"] = 2
    try:
        assert len(_rows(admin_client.get("/alpha/invoices/export.csv"))) == 3
    finally:
        app.config["EXPORT_MAX_ROWS"] = 200000


def test_export_pages_through_large_lists(admin_client, make_invoice, monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_BATCH", 2)
    numbers = {make_invoice().number for _ in range(5)}
    rows = _by_column(_rows(admin_client.get("/alpha/invoices/export.csv")))
    assert {r["Numéro"] for r in rows} == numbers


def test_agent_exports_only_his_partners_rows(agent_client, make_account, make_invoice):
    own = make_invoice(account=make_account(partner=agent_client.partner.id).id).number
    other = make_invoice().number
    assert agent_client.get("/alpha/invoices/export.csv").status_code == 403
    body = agent_client.get("/alpha/portal/invoices/export.csv").data.decode("utf-8-sig")
    assert own in body and other not in body


def test_export_of_another_tenant_shows_nothing_of_it(admin_client, other_tenant, in_tenant,
                                                       make_invoice):
    in_tenant(other_tenant, create_record, ENTITIES["partners"], {"name": "Partenaire Beta"})
    make_invoice()
    body = admin_client.get("/alpha/partners/export.csv").data.decode()
    assert "Partenaire Beta" not in body
