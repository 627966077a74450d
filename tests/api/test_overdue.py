"""Overdue in the API: read-only `overdue` and `days_late`, an `overdue` filter, and `status`
kept as stored (a late invoice still says `issued`)."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from app.clock import local_today
from tests.api.conftest import problem

TOTAL = Decimal("1481.47")


@pytest.fixture
def invoices(make_invoice):
    today = local_today()
    yesterday = today - timedelta(days=1)
    return {number: make_invoice(number=number, **over).id for number, over in {
        "F-LATE": {"due_on": yesterday},
        "F-FULL": {"due_on": yesterday, "amount_paid": TOTAL},
        "F-PAID": {"due_on": yesterday, "status": "paid", "amount_paid": TOTAL},
        "F-TODAY": {"due_on": today},
    }.items()}


def _numbers(client, query: str) -> list[str]:
    response = client.get(f"/api/v1/invoices?{query}")
    assert response.status_code == 200, response.data[:300]
    return sorted(r["number"] for r in response.get_json())


def test_an_invoice_due_yesterday_reads_overdue_one_day_late(en_client, invoices):
    late = en_client.get(f"/api/v1/invoices/{invoices['F-LATE']}").get_json()
    assert (late["status"], late["overdue"], late["days_late"]) == ("issued", True, 1)
    for number in ("F-FULL", "F-PAID", "F-TODAY"):
        record = en_client.get(f"/api/v1/invoices/{invoices[number]}").get_json()
        assert (record["overdue"], record["days_late"]) == (False, None), number


def test_status_filters_on_the_stored_value_and_overdue_on_the_rule(en_client, invoices):
    # `status` is what is stored: the late invoice is still an issued one.
    assert _numbers(en_client, "status=issued") == ["F-FULL", "F-LATE", "F-TODAY"]
    assert _numbers(en_client, "overdue=true") == ["F-LATE"]
    assert _numbers(en_client, "overdue=false") == ["F-FULL", "F-PAID", "F-TODAY"]
    assert _numbers(en_client, "status=issued&overdue=false") == ["F-FULL", "F-TODAY"]
    assert problem(en_client.get("/api/v1/invoices?overdue=maybe"), 422)["errors"] == {
        "overdue": ["Enter true or false."]}


def test_overdue_and_days_late_are_read_only(en_client, world, invoices):
    response = en_client.post("/api/v1/invoices", json={
        "account_ref": "C001", "number": "F-NEW", "overdue": True, "days_late": 3})
    assert problem(response, 422)["errors"] == {
        "overdue": ["Unknown field."], "days_late": ["Unknown field."]}


def test_the_openapi_document_describes_them(en_client):
    spec = en_client.get("/api/v1/openapi.json").get_json()
    schema = spec["components"]["schemas"]["Invoice"]["properties"]
    assert schema["overdue"]["readOnly"] is True and schema["days_late"]["readOnly"] is True
    assert "never stored" in schema["overdue"]["description"]
    parameters = {p.get("name"): p for p in spec["paths"]["/api/v1/invoices"]["get"]["parameters"]}
    assert parameters["overdue"]["schema"]["type"] == "boolean"
    assert "stored status" in parameters["status"]["description"]


def test_today_is_the_day_in_the_time_zone_of_the_tenant(app, en_client, make_invoice,
                                                          monkeypatch):
    # Pago Pago (UTC-11) and Kiritimati (UTC+14) are always on different days.
    west, east = "Pacific/Pago_Pago", "Pacific/Kiritimati"
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_TIMEZONE", west)
    invoice = make_invoice(due_on=local_today())  # due today in Pago Pago, the last to get there
    url = f"/api/v1/invoices/{invoice.id}"
    assert en_client.get(url).get_json()["overdue"] is False
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_TIMEZONE", east)
    assert en_client.get(url).get_json()["days_late"] == (local_today() - invoice.due_on).days
    assert en_client.get(url).get_json()["days_late"] >= 1
