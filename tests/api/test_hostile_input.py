"""Input crafted to break the API answers a clear 4xx problem, never a 500: cursors that no
page handed out, date-times with no UTC equivalent, and JSON bodies past what it reads."""
from __future__ import annotations

import base64
import json

import pytest

from tests.api.conftest import problem


def _cursor(value, record_id) -> str:
    raw = json.dumps([value, record_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


EXTREME_TIMES = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]


@pytest.mark.parametrize("cursor", [
    *(_cursor(moment, 1) for moment in EXTREME_TIMES),
    _cursor("\ud800", 1), _cursor(["x"], 1),
    base64.urlsafe_b64encode(b"[" * 140).decode(),
])
def test_a_list_cursor_no_page_gave_is_refused(api_client, make_invoice, cursor):
    make_invoice()
    body = problem(api_client.get("/api/v1/invoices", query_string={
        "sort": "created_at", "cursor": cursor}), 422)
    assert list(body["errors"]) == ["cursor"]


@pytest.mark.parametrize("moment", EXTREME_TIMES)
def test_a_changes_cursor_with_an_extreme_time_is_refused(api_client, make_invoice, moment):
    make_invoice()
    body = problem(api_client.get("/api/v1/invoices", query_string={
        "updated_since": "2020-01-01T00:00:00Z", "cursor": f"{_cursor(moment, 1)}.1"}), 422)
    assert list(body["errors"]) == ["cursor"]


@pytest.mark.parametrize("moment", [*EXTREME_TIMES, "10000-01-01T00:00:00Z",
                                    "99999999999999999999", "0000-01-01T00:00:00Z",
                                    "0000-12-31", "1e20", "-1e20"])
@pytest.mark.parametrize("url, name", [("/api/v1/invoices", "updated_since"),
                                       ("/api/v1/invoices/deleted", "since")])
def test_a_time_with_no_utc_equivalent_is_refused_naming_the_argument(
        en_client, make_invoice, url, name, moment):
    make_invoice()
    body = problem(en_client.get(url, query_string={name: moment}), 422)
    assert list(body["errors"]) == [name]
    assert "Enter a date and time" in body["errors"][name][0]


def test_the_first_and_last_utc_moments_are_still_read(api_client, make_invoice):
    make_invoice()
    early = api_client.get("/api/v1/invoices", query_string={
        "updated_since": "0001-01-01T00:00:00-14:00"})
    assert early.status_code == 200 and len(early.get_json()) == 1
    late = api_client.get("/api/v1/invoices", query_string={
        "updated_since": "9999-12-31T23:59:59+14:00"})
    assert late.status_code == 200 and late.get_json() == []


def _post(client, url, body: str):
    return client.post(url, data=body.encode("utf-8", "surrogatepass"),
                       content_type="application/json")


@pytest.mark.parametrize("url", ["/api/v1/partners", "/api/v1/partners/bulk",
                                 "/api/v1/import-profiles"])
@pytest.mark.parametrize("body, reason", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"name": ' + "[" * 40 + "]" * 40 + "}", "nested too deeply"),
    ('{"amount": 1' + "0" * 4301 + "}", "too many digits"),
    ('{"name": "\\ud800"}', "lone \\uD800"),
    ('{"items": [{"external_ref": "P1", "name": "x\\udfff"}]}', "lone \\uD800"),
    ('{"\\ud800": 1}', "lone \\uD800"),
])
def test_a_json_body_past_the_limits_is_a_400_problem(en_client, url, body, reason):
    answer = problem(_post(en_client, url, body), 400)
    assert reason in answer["errors"]["json"][0]


def test_the_limits_are_explained_in_french(api_client):
    answer = problem(_post(api_client, "/api/v1/partners", '{"name": "\\ud800"}'), 400)
    assert "Unicode" in answer["errors"]["json"][0] and "corps JSON" in answer["errors"]["json"][0]


def test_escaped_pairs_and_ordinary_nesting_are_read(en_client):
    answer = _post(en_client, "/api/v1/partners",
                   '{"name": "Agence \\ud83c\\udf1e", "custom": {}}')
    assert answer.status_code == 201, answer.data
    assert answer.get_json()["name"] == "Agence \N{SUN WITH FACE}"
    bulk = _post(en_client, "/api/v1/partners/bulk", json.dumps({"items": [
        {"external_ref": f"P{n}", "name": f"Agence {n}"} for n in range(50)]}))
    assert bulk.status_code == 200 and bulk.get_json()["created"] == 50


# Past what decimals hold, and just under a billion but a billion once rounded to 3 places.
@pytest.mark.parametrize("quantity", ["1e999999999", "-1e999999999", "1E+1000000",
                                      "999999999.9999", "-999999999.9995"])
def test_a_line_quantity_past_what_a_line_holds_is_refused(en_client, make_invoice, quantity):
    invoice = make_invoice()
    line = {"label": "Pose", "quantity": quantity, "unit_price": "10.00"}
    body = problem(en_client.patch(f"/api/v1/invoices/{invoice.id}", json={"lines": [line]}), 422)
    assert body["errors"]["lines.0"] == ["Enter a quantity."]
    created = problem(en_client.post("/api/v1/invoices", json={
        "number": "F-HUGE", "account_id": invoice.account_id, "lines": [line]}), 422)
    assert list(created["errors"]) == ["lines.0"]
    bulk = en_client.post("/api/v1/invoices/bulk", json={"items": [{
        "external_ref": "F-HUGE", "number": "F-HUGE", "account_id": invoice.account_id,
        "lines": [line]}]})
    assert bulk.status_code == 200, bulk.data[:300]
    assert bulk.get_json()["failed"] == 1


def test_the_largest_quantity_a_line_holds_is_kept(en_client, make_invoice):
    invoice = make_invoice()
    changed = en_client.patch(f"/api/v1/invoices/{invoice.id}", json={"lines": [
        {"label": "Pose", "quantity": "999999999.9994", "unit_price": "1.00"}]})
    assert changed.status_code == 200, changed.data[:300]
    assert changed.get_json()["lines"][0]["quantity"] == "999999999.999"


@pytest.mark.parametrize("ratio", ["0." + "0" * 400 + "1", 5e-324, 1e-30])
def test_a_decimal_custom_value_past_20_places_is_refused(en_client, make_invoice, make_field,
                                                           ratio):
    # Stored as typed, it broke every list filtered on the field (PostgreSQL: out of range
    # for double precision).
    make_field("invoices", "ratio", type="decimal")
    invoice = make_invoice()
    body = problem(en_client.patch(f"/api/v1/invoices/{invoice.id}",
                                   json={"custom": {"ratio": ratio}}), 422)
    assert body["errors"] == {"custom.ratio": ["At most 20 digits after the decimal point."]}
    bulk = en_client.post("/api/v1/invoices/bulk", json={"items": [{
        "external_ref": "F-R", "number": "F-R", "account_id": invoice.account_id,
        "custom": {"ratio": ratio}}]})
    assert bulk.status_code == 200 and bulk.get_json()["items"][0]["errors"] == {
        "custom.ratio": ["At most 20 digits after the decimal point."]}


def test_a_decimal_custom_value_of_20_places_is_kept_and_filtered(en_client, make_invoice,
                                                                   make_field):
    make_field("invoices", "ratio", type="decimal")
    invoice = make_invoice()
    smallest = "0." + "0" * 19 + "1"
    changed = en_client.patch(f"/api/v1/invoices/{invoice.id}",
                              json={"custom": {"ratio": smallest}})
    assert changed.status_code == 200 and changed.get_json()["custom"] == {"ratio": smallest}
    found = en_client.get("/api/v1/invoices", query_string={"cf_ratio_min": "0",
                                                            "cf_ratio_max": "1"})
    assert found.status_code == 200 and [r["id"] for r in found.get_json()] == [invoice.id]


@pytest.mark.parametrize("count", [10 ** 4299, -(10 ** 19 - 1), "1" + "0" * 18])
def test_an_integer_custom_value_past_18_digits_is_refused(en_client, make_invoice, make_field,
                                                           count):
    # A JSON integer of up to 4,300 digits was stored, and every list filtered on the field
    # failed on it (PostgreSQL: out of range for double precision).
    make_field("invoices", "pieces", type="integer")
    invoice = make_invoice()
    body = problem(en_client.patch(f"/api/v1/invoices/{invoice.id}",
                                   json={"custom": {"pieces": count}}), 422)
    assert body["errors"] == {"custom.pieces": ["The number is too large."]}
    bulk = en_client.post("/api/v1/invoices/bulk", json={"items": [{
        "external_ref": "F-N", "number": "F-N", "account_id": invoice.account_id,
        "custom": {"pieces": count}}]})
    assert bulk.status_code == 200 and bulk.get_json()["items"][0]["errors"] == {
        "custom.pieces": ["The number is too large."]}


def test_an_integer_custom_value_of_18_digits_is_kept_and_filtered(en_client, make_invoice,
                                                                    make_field):
    make_field("invoices", "pieces", type="integer")
    invoice = make_invoice()
    changed = en_client.patch(f"/api/v1/invoices/{invoice.id}",
                              json={"custom": {"pieces": 10 ** 18 - 1}})
    assert changed.status_code == 200 and changed.get_json()["custom"] == {
        "pieces": 10 ** 18 - 1}
    found = en_client.get("/api/v1/invoices", query_string={"cf_pieces_min": "1"})
    assert found.status_code == 200 and [r["id"] for r in found.get_json()] == [invoice.id]


def test_a_multipart_part_without_a_readable_name_is_refused_not_a_crash(api_client):
    """Found by schemathesis: a part named by a bare carriage return reaches the app with
    the name None."""
    body = (b"--b\r\nContent-Disposition: form-data; name=\"\r\"\r\n\r\nnull\r\n"
            b"--b--\r\n")
    response = api_client.post("/api/v1/imports", data=body,
                               content_type="multipart/form-data; boundary=b")
    assert 400 <= response.status_code < 500, response.data[:300]
