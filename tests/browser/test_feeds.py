"""In a real browser: map a sample file to a new import profile, import a file and watch the
run's progress bar move under the CSP (its width is set from feeds.js, never inline)."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.extensions import db
from app.models import ImportRun, Role, Tenant
from app.services import feeds
from app.services.custom_field_defs import create_field
from importers import runs
from tests.browser.conftest import PageProblems, screenshot
from tests.browser.test_account_custom_field import assert_fits_width, log_in

pytestmark = pytest.mark.browser

SAMPLE = ("N° Facture;Code client;Date;Montant TTC;Promoteur\r\n"
          "F001;C001;31/12/2025;1 234,56;Durand\r\n"
          "F002;C404;31/12/2025;10,00;Nexity\r\n")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_map_a_sample_then_import_a_file_and_watch_it(
        viewport: str, tenant: Tenant, make_user: Callable[..., Any],
        make_account: Callable[..., Any], open_page: Callable[..., tuple[Any, PageProblems]],
        tmp_path: Path, backend: str) -> None:
    admin = make_user(Role.ADMIN.value)
    create_field({"entity": "invoices", "key": "promoteur", "label_fr": "Promoteur",
                  "label_en": "Developer", "type": "text"})
    make_account(external_ref="C001", name="Client Un")
    sample = tmp_path / "factures.csv"
    sample.write_bytes(SAMPLE.encode("cp1252"))
    page, problems = open_page(viewport)
    log_in(page, admin.email)

    page.goto("/alpha/feeds/profiles/new")
    page.locator("#name").fill("factures-nuit")
    page.locator("#entity").select_option("invoices")
    page.locator("#key").select_option("number")
    page.locator("#sample").set_input_files(str(sample))
    page.locator("button[value=read]").click()
    page.wait_for_selector("#target-4")
    targets = [page.locator(f"#target-{i}").input_value() for i in range(5)]
    assert targets == ["number", "account.external_ref", "issued_on", "total",
                       "custom.promoteur"]
    assert_fits_width(page, viewport)
    screenshot(page, f"feed-mapping-{viewport}-{backend}")
    page.locator("main button[value=save]:visible").click()
    page.wait_for_url("**/alpha/feeds/profiles/*")

    page.locator("#start-run input[type=file]").set_input_files(str(sample))
    page.locator("#start-run button[type=submit]").click()
    page.wait_for_url("**/alpha/feeds/runs/*")
    # The workers import it; the page polls, then reloads with the result.
    page.wait_for_selector("#run-progress[data-finished='1']", timeout=15_000)
    assert page.locator("[data-count=created]").inner_text() == "1"
    assert page.locator("[data-count=failed]").inner_text() == "1"
    assert page.locator("#errors").get_by_text("C404").first.is_visible()
    assert_fits_width(page, viewport)
    screenshot(page, f"feed-run-{viewport}-{backend}")
    problems.assert_none()


def test_the_progress_bar_follows_a_running_import(
        tenant: Tenant, make_user: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]]) -> None:
    admin = make_user(Role.ADMIN.value)
    profile = feeds.create_profile({"name": "clients", "entity": "accounts",
                                      "columns": {"Code": "external_ref"}})
    db.session.commit()
    run = ImportRun(profile_id=profile.id, profile_version=1, source="api", file_name="c.csv",
                    file_size=10, sha256="0" * 64, status="running", started_by="api",
                    started_at=datetime.now(UTC), rows_done=250, rows_total=1000)
    db.session.add(run)
    db.session.commit()
    page, problems = open_page("desktop")
    log_in(page, admin.email)
    expect = pytest.importorskip("playwright.sync_api").expect
    page.goto(f"/alpha/feeds/runs/{run.id}")
    bar = page.locator("#run-progress .progress-bar")
    expect(bar).to_have_attribute("style", re.compile(r"width: 25%"))
    run.rows_done = 750
    db.session.commit()
    expect(bar).to_have_attribute("style", re.compile(r"width: 75%"))
    assert "750" in page.locator("#run-progress-text").inner_text()
    run.status, run.finished_at, run.rows_done = "succeeded", datetime.now(UTC), 1000
    db.session.commit()
    page.wait_for_selector("#run-progress[data-finished='1']")
    assert "w-100" in bar.get_attribute("class")
    problems.assert_none()  # no CSP violation: styles set through CSSOM are allowed


def _run_page_on_a_phone(open_page: Callable[..., tuple[Any, PageProblems]], admin: Any,
                         tenant: Tenant, profile: Any, path: Path,
                         content: str) -> tuple[Any, PageProblems]:
    """`content` imported through `profile`, then its run's page opened by the admin on a
    phone."""
    path.write_text(content, encoding="utf-8")
    with path.open("rb") as stream:
        run = feeds.create_run(profile, stream, path.name, source="web")
    db.session.commit()
    runs.run_import(run.id, tenant.id, max_wait=0)
    page, problems = open_page("phone")
    log_in(page, admin.email)
    page.goto(f"/alpha/feeds/runs/{run.id}")
    return page, problems


def test_a_long_value_to_map_wraps_on_a_phone(
        tenant: Tenant, make_user: Callable[..., Any], make_account: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], tmp_path: Path,
        backend: str) -> None:
    # A file's value may be one long word: listed to be mapped, and once mapped, it wraps
    # beside its buttons instead of widening the page past the screen.
    admin = make_user(Role.ADMIN.value)
    make_account(external_ref="C001", name="Client Un")
    profile = feeds.create_profile({
        "name": "factures-statut", "entity": "invoices", "mode": "upsert", "key": "number",
        "columns": {"N° facture": "number", "Code client": "account.external_ref",
                    "Statut": "status"}})
    long_value = "Réglée" + "X" * 240
    feeds.map_value(profile, "Statut", "Soldée" + "Y" * 240, "paid")
    db.session.commit()
    page, problems = _run_page_on_a_phone(
        open_page, admin, tenant, profile, tmp_path / "statuts.csv",
        f"N° facture;Code client;Statut\nF001;C001;{long_value}\n")
    assert page.locator(".unmapped-value").inner_text() == long_value
    assert page.locator("#unmapped-values button[type=submit]").is_visible()
    assert_fits_width(page, "phone")
    page.goto(f"/alpha/feeds/profiles/{profile.id}")
    assert page.locator("#value-maps button[type=submit]").first.is_visible()
    assert_fits_width(page, "phone")
    screenshot(page, f"feed-value-maps-phone-{backend}")
    problems.assert_none()


def test_thousands_of_unknown_references_read_as_one_kind_on_a_phone(
        tenant: Tenant, make_user: Callable[..., Any], make_account: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], tmp_path: Path,
        backend: str) -> None:
    # Invoices sent before their customers: each reference fails once. On a phone the kind
    # is one line of the summary, and the values to map scroll in their own box instead of
    # pushing the errors a page of forms down each.
    admin = make_user(Role.ADMIN.value)
    profile = feeds.create_profile({
        "name": "factures", "entity": "invoices", "mode": "upsert", "key": "number",
        "columns": {"N° facture": "number", "Code client": "account.external_ref"}})
    db.session.commit()
    page, problems = _run_page_on_a_phone(
        open_page, admin, tenant, profile, tmp_path / "factures.csv",
        "N° facture;Code client\n" + "".join(f"F{i:03d};X{i:03d}\n" for i in range(120)))
    kind = page.locator("#error-groups tr[data-kind]")
    assert kind.count() == 1 and "120" in kind.inner_text()
    values = page.locator("#unmapped-values .unmapped-list").bounding_box()
    assert values["height"] <= 28 * 16 + 2  # 50 forms, in a box of 28rem
    # The corrected file's input leaves room for the chosen file's name.
    assert page.locator("#corrected-file-input").bounding_box()["width"] >= 200
    assert_fits_width(page, "phone")
    kind.locator("a").click()
    page.wait_for_url(re.compile(r"kind=\d+"))
    assert page.locator("#errors tbody tr").count() == 100
    screenshot(page, f"feed-error-kinds-phone-{backend}")
    problems.assert_none()
