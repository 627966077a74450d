"""The feeds' health page, what a tenant checks every morning; who may see and change feeds;
and another tenant's feeds, which answer 404."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.i18n import moment
from app.models import Account, ImportProfile, ImportRun, Invoice, Role
from app.services import feeds
from importers import jobs
from tests.backoffice.conftest import count_statements, fr, text
from tests.backoffice.test_feeds.conftest import GOOD, HEADER, INVOICE_PROFILE, csv_file
from tests.conftest import login


def _row(response, profile: ImportProfile) -> str:
    page = response.data.decode()
    return re.search(rf'<tr class="[^"]*" data-profile="{profile.id}">(.*?)</tr>', page,
                     re.S).group(0)


def test_health_shows_each_feed_last_run_last_success_and_failures_in_red(
        admin_client, invoice_profile, add_run):
    clients = feeds.create_profile({"name": "clients", "entity": "accounts",
                                      "columns": {"Code": "external_ref", "Nom": "name"}})
    quiet = feeds.create_profile({"name": "contrats", "entity": "contracts",
                                    "columns": {"Ref": "external_ref"}})
    db.session.commit()
    add_run(invoice_profile, "succeeded", days_ago=40, rows=1000)  # outside the 30 days
    success = add_run(invoice_profile, "succeeded", days_ago=3, rows=100)
    add_run(invoice_profile, "partial", days_ago=1, rows=50, failed=4)
    last = add_run(invoice_profile, "succeeded", days_ago=0.5, rows=5, dry_run=True)
    add_run(clients, "succeeded", days_ago=2, rows=20)
    add_run(clients, "failed", days_ago=1, rows=0)
    response = admin_client.get("/alpha/feeds/")
    assert response.status_code == 200
    invoices, accounts, contracts = (_row(response, p)
                                     for p in (invoice_profile, clients, quiet))
    assert f"#{last.id}" in invoices and fr("Dry run") in invoices
    assert "table-danger" in invoices and "table-danger" in accounts
    assert "table-danger" not in contracts and fr("Never") in text(response)
    cells = re.findall(r'<td class="text-end([^"]*)">([^<]*)</td>', invoices)
    assert cells == [("", "150"), (" text-danger fw-semibold", "4"), ("", "0")]
    cells = re.findall(r'<td class="text-end([^"]*)">([^<]*)</td>', accounts)
    assert cells == [("", "20"), ("", "0"), (" text-danger fw-semibold", "1")]
    assert success.finished_at is not None


def test_a_dry_run_with_errors_does_not_mark_the_feed_failing(admin_client, invoice_profile,
                                                              add_run):
    add_run(invoice_profile, "succeeded", days_ago=2, rows=10)
    dry = add_run(invoice_profile, "partial", days_ago=1, rows=10, failed=3, dry_run=True)
    row = _row(admin_client.get("/alpha/feeds/"), invoice_profile)
    assert f"#{dry.id}" in row and "Essai à blanc : 7 lignes seraient créées, 3 en erreur" in row
    assert "table-danger" not in row


def test_health_is_one_query_whatever_the_number_of_feeds(app, admin_client, add_run):
    def statements() -> int:
        db.session.expunge_all()
        with count_statements(app) as seen:
            assert admin_client.get("/alpha/feeds/").status_code == 200
        return len(seen)

    def add_feed(n: int) -> None:
        profile = feeds.create_profile({**INVOICE_PROFILE, "name": f"flux-{n}",
                                          "columns": {"N° facture": "number"}})
        db.session.commit()
        add_run(profile, "partial", failed=1)

    add_feed(0)
    one = statements()
    for n in range(1, 6):
        add_feed(n)
    assert statements() == one


def test_sales_watch_feeds_but_do_not_change_them(app, make_user, invoice_profile, start_run):
    run = start_run(invoice_profile, HEADER, GOOD)
    sales = login(app.test_client(), make_user(Role.SALES.value))
    for path in ("/alpha/feeds/", "/alpha/feeds/profiles", "/alpha/feeds/runs?status=partial",
                 f"/alpha/feeds/profiles/{invoice_profile.id}", f"/alpha/feeds/runs/{run.id}",
                 f"/alpha/feeds/runs/{run.id}/status", f"/alpha/feeds/runs/{run.id}/errors.csv"):
        assert sales.get(path).status_code == 200, path
    assert fr("Import a file") not in text(sales.get(f"/alpha/feeds/profiles/{invoice_profile.id}"))
    for path in ("/alpha/feeds/profiles/new", f"/alpha/feeds/profiles/{invoice_profile.id}/edit",
                 "/alpha/feeds/profiles/new/json",
                 f"/alpha/feeds/profiles/{invoice_profile.id}/json"):
        assert sales.get(path).status_code == 403, path
        assert sales.post(path, data={"definition": "{}"}).status_code == 403, path
    for path in (f"/alpha/feeds/profiles/{invoice_profile.id}/runs",
                 f"/alpha/feeds/runs/{run.id}/rerun", f"/alpha/feeds/runs/{run.id}/apply"):
        assert sales.post(path, data={"file": csv_file(HEADER, GOOD)},
                          content_type="multipart/form-data").status_code == 403, path


def test_agents_and_subscribers_have_no_feeds(agent_client, invoice_profile):
    for path in ("/alpha/feeds/", f"/alpha/feeds/profiles/{invoice_profile.id}"):
        assert agent_client.get(path).status_code == 403
    assert fr("Imports") not in text(agent_client.get("/alpha/"))


@pytest.fixture
def beta_feed(other_tenant, in_tenant):
    """A profile and a run of another tenant, and nothing of alpha's with their ids."""
    profile = in_tenant(other_tenant, feeds.create_profile, {
        **INVOICE_PROFILE, "columns": {"N° facture": "number"}})
    run = in_tenant(other_tenant, feeds.create_run, profile, csv_file(HEADER, GOOD)[0],
                    "b.csv", source="cli")
    return profile, run


def test_another_tenants_profiles_and_runs_answer_404(admin_client, beta_feed):
    profile, run = beta_feed
    for path in (f"/alpha/feeds/profiles/{profile.id}", f"/alpha/feeds/profiles/{profile.id}/edit",
                 f"/alpha/feeds/profiles/{profile.id}/json", f"/alpha/feeds/runs/{run.id}",
                 f"/alpha/feeds/runs/{run.id}/status", f"/alpha/feeds/runs/{run.id}/errors.csv"):
        assert admin_client.get(path).status_code == 404, path
    for path in (f"/alpha/feeds/profiles/{profile.id}/runs", f"/alpha/feeds/runs/{run.id}/rerun",
                 f"/alpha/feeds/runs/{run.id}/apply",
                 f"/alpha/feeds/profiles/{profile.id}/value-maps"):
        assert admin_client.post(path).status_code == 404, path
    assert "factures-nuit" not in text(admin_client.get("/alpha/feeds/"))
    assert "b.csv" not in text(admin_client.get("/alpha/feeds/runs"))


def test_the_menu_leads_staff_to_the_feeds(admin_client, sales_client):
    for client in (admin_client, sales_client):
        assert 'href="/alpha/feeds/"' in client.get("/alpha/").data.decode()


def test_a_reverted_run_is_not_the_feed_last_success(app, admin_client, invoice_profile,
                                                     add_run):
    """Tuesday's import was undone: the feed's last success is Monday's, whose records are
    still there, not Tuesday's."""
    monday = add_run(invoice_profile, "succeeded", days_ago=3, rows=100)
    tuesday = add_run(invoice_profile, "succeeded", days_ago=2, rows=100)
    tuesday.reverted_at, tuesday.reverted_by = datetime.now(UTC), "Alice Admin"
    db.session.commit()
    row = _row(admin_client.get("/alpha/feeds/"), invoice_profile)
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        # The "Last success" cell (Tuesday's run stays the last run, shown reverted).
        assert re.findall(r"<td>(\d[^<]*)</td>", row) == [moment(monday.finished_at)]


def _health_row(client, profile) -> str:
    page = client.get("/alpha/feeds/").data.decode()
    return re.search(rf'<tr class="[^"]*" data-profile="{profile.id}">(.*?)</tr>', page,
                     re.S).group(0)


def _at(run: ImportRun, when: datetime) -> None:
    run = db.session.get(ImportRun, run.id)
    run.created_at = run.started_at = run.finished_at = when
    db.session.commit()


def _skipped_then_reverted(admin_client, agent_client, start_run, queued_reverts, profile):
    """Monday's file went in; Tuesday's file went in; Tuesday's file came again on Wednesday
    (skipped: "already imported by run #2"); then Tuesday's run was reverted. Returns the
    Monday and Wednesday runs."""
    account = db.session.scalar(select(Account).where(Account.external_ref == "C001"))
    account.partner_id = agent_client.partner.id
    db.session.commit()
    now = datetime.now(UTC).replace(microsecond=0)
    monday = start_run(profile, HEADER, "F000;C001;30/12/2025;10,00;Durand")
    tuesday = start_run(profile, HEADER, GOOD)
    wednesday = start_run(profile, HEADER, GOOD)
    assert wednesday.status == "succeeded" and wednesday.rows_done == 0  # skipped
    assert wednesday.message_params == {"run": tuesday.id}
    response = admin_client.post(f"/alpha/feeds/runs/{tuesday.id}/revert")
    assert response.status_code == 302
    while queued_reverts:
        jobs.revert_run(*queued_reverts.pop(0))
    db.session.expire_all()
    assert db.session.get(ImportRun, tuesday.id).reverted_at is not None
    assert sorted(db.session.scalars(select(Invoice.number))) == ["F000"]
    # The nights apart (the runs ran within a second in this test).
    _at(monday, now - timedelta(days=2))
    _at(tuesday, now - timedelta(days=1))
    return db.session.get(ImportRun, monday.id), db.session.get(ImportRun, wednesday.id)


def test_a_skip_of_a_reverted_import_is_not_the_feeds_last_success(
        app, admin_client, agent_client, invoice_profile, start_run, queued_reverts):
    """What Tuesday gave is gone: the feed last succeeded on Monday, not on Wednesday, whose
    run only pointed at the run undone since."""
    monday, wednesday = _skipped_then_reverted(admin_client, agent_client, start_run,
                                               queued_reverts, invoice_profile)
    row = _health_row(admin_client, invoice_profile)
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        expected, skipped = moment(monday.finished_at), moment(wednesday.finished_at)
    success = re.findall(r"<td>(\d[^<]*|—)</td>", row)
    assert success == [expected], (success, expected, skipped)


def test_a_skip_of_a_reverted_import_does_not_date_the_agents_data(
        app, admin_client, agent_client, invoice_profile, start_run, queued_reverts):
    """The agent's invoice F001 of Tuesday is gone: his data is as of Monday."""
    monday, wednesday = _skipped_then_reverted(admin_client, agent_client, start_run,
                                               queued_reverts, invoice_profile)
    home = agent_client.get("/alpha/portal/").data.decode()
    shown = re.search(r"Données à jour au ([^<]*)", home)
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        expected = moment(monday.finished_at)
    assert shown and shown.group(1).strip() == expected, (shown and shown.group(1), expected)
