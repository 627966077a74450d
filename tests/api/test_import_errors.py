"""/api/v1/imports/<id>/errors/summary: a run's row errors by kind, largest first, in the
reader's language; /errors?group= pages through one kind only."""
from __future__ import annotations

import json

import pytest

from app.extensions import db
from app.services import feeds
from tests.api.conftest import problem, run_queued, upload

PROFILE = {"name": "factures", "entity": "invoices", "key": "number",
           "columns": {"Numéro": "number", "Client": "account.external_ref",
                       "Date": "issued_on", "Total": "total"}}
# 110 failing rows: 60 of customer C404, 30 of customer C405, 20 bad dates; 5 good ones.
ROWS = ("Numéro;Client;Date;Total\r\n"
        + "".join(f"A{i};C404;31/12/2025;1,00\r\n" for i in range(60))
        + "".join(f"B{i};C405;31/12/2025;1,00\r\n" for i in range(30))
        + "".join(f"D{i};C001;hier;1,00\r\n" for i in range(20))
        + "".join(f"G{i};C001;31/12/2025;1,00\r\n" for i in range(5))).encode("cp1252")


@pytest.fixture
def run_id(api_client, tenant, make_account, queued_jobs) -> int:
    make_account(external_ref="C001", name="Client Un")
    feeds.create_profile(dict(PROFILE))
    db.session.commit()
    run = upload(api_client, ROWS, name="factures.csv", profile="factures").get_json()
    run_queued(queued_jobs)
    return run["id"]


def test_the_summary_counts_errors_by_kind_largest_first(api_client, run_id):
    response = api_client.get(f"/api/v1/imports/{run_id}/errors/summary",
                              headers={"Accept-Language": "en"})
    assert response.status_code == 200 and response.headers["ETag"]
    summary = response.get_json()
    assert summary["total"] == 110 and summary["more_groups"] is False
    assert [(g["column"], g["value"], g["count"], g["message"]) for g in summary["groups"]] == [
        ("Client", "C404", 60, "No customer with the reference “C404”."),
        ("Client", "C405", 30, "No customer with the reference “C405”."),
        ("Date", "hier", 20, "“hier” is not a date: write it as 31/12/2025.")]
    assert summary["groups"][2]["code"] == "“%(value)s” is not a date: write it as %(expected)s."
    french = api_client.get(f"/api/v1/imports/{run_id}/errors/summary",
                            headers={"Accept-Language": "fr"}).get_json()
    assert french["groups"][2]["message"].startswith("« hier » n’est pas une date")
    top = api_client.get(f"/api/v1/imports/{run_id}/errors/summary?limit=1").get_json()
    assert [g["count"] for g in top["groups"]] == [60] and top["more_groups"] is True


def test_a_group_pages_through_its_own_errors_only(api_client, run_id):
    summary = api_client.get(f"/api/v1/imports/{run_id}/errors/summary").get_json()
    group = summary["groups"][1]["group"]
    values, cursor = [], None
    while True:
        query = f"group={group}&limit=7" + (f"&cursor={cursor}" if cursor else "")
        page = api_client.get(f"/api/v1/imports/{run_id}/errors?{query}")
        assert page.status_code == 200
        values += [(e["line"], e["value"]) for e in page.get_json()]
        cursor = json.loads(page.headers["X-Pagination"])["next_cursor"]
        if not cursor:
            break
        assert f"group={group}" in page.headers["Link"]
    assert values == [(line, "C405") for line in range(62, 92)]


def test_a_message_that_several_values_fail_is_counted_whole_and_paged_as_one(api_client,
                                                                            run_id):
    # The customer file not imported yet: each unknown reference is a group of its own; the
    # kind, whatever the reference, is counted whole too, with its number of values.
    summary = api_client.get(f"/api/v1/imports/{run_id}/errors/summary",
                             headers={"Accept-Language": "en"}).get_json()
    [kind] = summary["kinds"]  # the bad dates are one value: their group says it all
    assert (kind["column"], kind["count"], kind["values"], kind["message"]) == (
        "Client", 90, 2, "No customer with the reference “…”.")
    lines, cursor = [], None
    while True:
        query = f"kind={kind['kind']}&limit=50" + (f"&cursor={cursor}" if cursor else "")
        page = api_client.get(f"/api/v1/imports/{run_id}/errors?{query}")
        assert page.status_code == 200
        lines += [e["line"] for e in page.get_json()]
        cursor = json.loads(page.headers["X-Pagination"])["next_cursor"]
        if not cursor:
            break
        assert f"kind={kind['kind']}" in page.headers["Link"]
    assert lines == list(range(2, 92))


@pytest.mark.parametrize("group", ["999999999", "0", "abc", "9" * 30])
def test_a_group_that_is_not_one_of_the_runs_is_refused(api_client, run_id, group):
    response = api_client.get(f"/api/v1/imports/{run_id}/errors?group={group}")
    assert "group" in problem(response, 422)["errors"]


def test_another_tenant_reads_no_summary(other_api_client, run_id):
    problem(other_api_client.get(f"/api/v1/imports/{run_id}/errors/summary"), 404)


def test_the_summary_limit_is_bounded(api_client, run_id):
    for limit in ("0", "101", "x"):
        response = api_client.get(f"/api/v1/imports/{run_id}/errors/summary?limit={limit}")
        assert "limit" in problem(response, 422)["errors"]


def test_a_run_counted_when_it_ended_reads_as_one_counted_now(api_client, run_id):
    from app.models import ImportRun

    url = f"/api/v1/imports/{run_id}/errors/summary?limit=2"
    counted = api_client.get(url).get_json()
    run = db.session.get(ImportRun, run_id)
    assert [count for _, count in run.error_groups["groups"]] == [60, 30, 20]
    run.error_groups = None  # a run that ended before the counts were kept
    db.session.commit()
    assert api_client.get(url).get_json() == counted
    assert counted["more_groups"] is True and counted["total"] == 110
