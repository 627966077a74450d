"""Overdue, one definition: issued, due before today, not fully paid. Badges, filters, the
dashboard, the customer 360° page and exports all agree, with the days late."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.clock import local_today
from app.extensions import db
from app.models import Invoice
from tests.backoffice.conftest import count_statements, result_count, shown_links, text

TOTAL = Decimal("1481.47")  # the factory's invoice: 1 234,56 + 20 % tax


@pytest.fixture
def invoices(make_invoice, make_account):
    """One overdue invoice and the near misses, of one customer."""
    today = local_today()
    yesterday = today - timedelta(days=1)
    account = make_account(name="Stores Lambert")

    def make(number: str, **over):
        return make_invoice(number=number, account=account.id,
                            issued_on=today - timedelta(days=30), **over).number

    return {
        "late": make("F-LATE", due_on=yesterday),
        "part_paid": make("F-PART", due_on=yesterday, amount_paid=Decimal("481.47")),
        "paid_status": make("F-PAID", due_on=yesterday, status="paid", amount_paid=TOTAL),
        "paid_in_full": make("F-FULL", due_on=yesterday, amount_paid=TOTAL),
        "due_today": make("F-TODAY", due_on=today),
        "no_due_date": make("F-NODUE", due_on=None),
        "account": account,
    }


def test_the_model_and_its_sql_say_the_same(invoices):
    today = local_today()
    late = set(db.session.scalars(select(Invoice.number).where(Invoice.overdue_on(today))))
    assert late == {"F-LATE", "F-PART"}
    rows = db.session.scalars(select(Invoice)).all()
    assert {i.number for i in rows if i.is_overdue_on(today)} == late
    assert {i.number: i.days_late_on(today) for i in rows if i.number in late} == {
        "F-LATE": 1, "F-PART": 1}
    not_late = set(db.session.scalars(select(Invoice.number).where(Invoice.not_overdue_on(today))))
    assert not_late == {i.number for i in rows} - late  # the no due date one included


def _row(response, number: str) -> str:
    """The visible text of the list's table row of `number`."""
    page = response.data.decode()
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        if f">{number}<" in row:
            return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", row))).strip()
    raise AssertionError(number)


def test_an_invoice_due_yesterday_is_shown_and_filtered_as_overdue(admin_client, invoices):
    listed = admin_client.get("/alpha/invoices/")
    assert "En retard 1 jour de retard" in _row(listed, "F-LATE")
    assert "Émise" in _row(listed, "F-TODAY") and "retard" not in _row(listed, "F-TODAY")
    assert "Payée" in _row(listed, "F-PAID")
    assert "retard" not in _row(listed, "F-FULL")

    overdue = admin_client.get("/alpha/invoices/?status=overdue")
    assert sorted(shown_links(overdue, "invoices")) == ["F-LATE", "F-PART"]
    # "Issued" lists what is shown as issued: open invoices that are not late.
    issued = admin_client.get("/alpha/invoices/?status=issued")
    assert sorted(shown_links(issued, "invoices")) == ["F-FULL", "F-NODUE", "F-TODAY"]
    for number in shown_links(issued, "invoices"):
        assert "retard" not in _row(issued, number)
    # The filter offers it, in the user's language.
    assert re.search(r"<option value=\"overdue\"\s*>En retard</option>", listed.data.decode())


def test_the_dashboard_count_is_the_count_of_the_list_it_links_to(admin_client, invoices):
    page = admin_client.get("/alpha/").data.decode().replace("&amp;", "&")
    match = re.search(r'href="([^"]*)"[^>]*>(?:(?!</a>).)*id="kpi-overdue">\s*([^<]*?)\s*<',
                      page, re.S)
    assert match, "the overdue card links to its list"
    link, count = match.groups()
    assert link == "/alpha/invoices/?status=overdue"
    assert count == "2"
    assert result_count(admin_client.get(link)) == count


def test_the_invoice_and_its_customer_show_the_days_late(admin_client, invoices):
    late = db.session.scalar(select(Invoice).where(Invoice.number == "F-LATE"))
    detail = text(admin_client.get(f"/alpha/invoices/{late.id}"))
    assert "En retard 1 jour de retard" in detail
    page = admin_client.get(f"/alpha/accounts/{invoices['account'].id}/360")
    assert "En retard 1 jour de retard" in _row(page, "F-LATE")
    amount = re.search(r'id="overdue-amount">([^<]*)<', page.data.decode()).group(1)
    assert amount.replace("\u202f", " ").replace("\xa0", " ") == "2 481,47 €"


def test_the_export_has_the_days_late(admin_client, invoices):
    body = admin_client.get("/alpha/invoices/export.csv").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    by_number = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_number["F-LATE"]["Statut"] == "En retard"
    assert by_number["F-LATE"]["Jours de retard"] == "1"
    assert by_number["F-TODAY"]["Statut"] == "Émise"
    assert by_number["F-TODAY"]["Jours de retard"] == ""
    assert by_number["F-FULL"]["Jours de retard"] == ""
    # The export of the overdue list is the overdue invoices.
    body = admin_client.get("/alpha/invoices/export.csv?status=overdue").data.decode("utf-8-sig")
    assert sorted(r[0] for r in list(csv.reader(io.StringIO(body), delimiter=";"))[1:]) == [
        "F-LATE", "F-PART"]


def test_an_unknown_overdue_value_is_refused_with_a_message(admin_client, invoices):
    response = admin_client.get("/alpha/invoices/?overdue=peut-etre")
    assert response.status_code == 200
    assert "En retard : « peut-etre » n’est pas valide." in text(response)


def test_the_overdue_list_queries_do_not_grow_with_the_rows(app, admin_client, make_invoice,
                                                           make_partner):
    def queries(url: str) -> tuple[int, list[str]]:
        with count_statements(app) as statements:
            assert admin_client.get(url).status_code == 200
        return len(statements), statements

    partner = make_partner()
    yesterday = local_today() - timedelta(days=1)
    make_invoice(due_on=yesterday, partner=partner.id)
    few, _ = queries("/alpha/invoices/?status=overdue")
    for _ in range(6):
        make_invoice(due_on=yesterday, partner=make_partner().id)
    many, statements = queries("/alpha/invoices/?status=overdue")
    assert many == few, statements
    # As many as the list of another status: the badges and days late cost no query.
    make_invoice(due_on=None, partner=partner.id)
    assert queries("/alpha/invoices/?status=issued")[0] == few
