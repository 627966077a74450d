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
from app.services.pulls import set_pull
from app.services.tokens import create_token
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


STATUS_PROFILE = {"name": "factures-statut", "entity": "invoices", "mode": "upsert",
                  "key": "number", "columns": {"N° facture": "number",
                                               "Code client": "account.external_ref",
                                               "Statut": "status"}}


def _imported(tenant: Tenant, path: Path, content: str, profile: Any = None) -> Any:
    profile = profile or feeds.create_profile(dict(STATUS_PROFILE))
    db.session.commit()
    path.write_text(content, encoding="utf-8")
    with path.open("rb") as stream:
        run = feeds.create_run(profile, stream, path.name, source="upload")
    db.session.commit()
    runs.run_import(run.id, tenant.id, max_wait=0)
    db.session.expire_all()
    return run


def test_the_rows_to_fix_download_from_the_run_page(
        tenant: Tenant, make_user: Callable[..., Any], make_account: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], tmp_path: Path) -> None:
    """The admin clicks "Download the rows to fix (CSV)" on a run with errors, on a real
    server (no context shared with the test): the file downloads, as the API's CSV of the
    same errors does. The stream is read after the view has returned, its session gone."""
    admin = make_user(Role.ADMIN.value)
    make_account(external_ref="C001", name="Client Un")
    run = _imported(tenant, tmp_path / "f.csv",
               "N° facture;Code client;Statut\nF001;C001;Émise\nF002;C404;Émise\n")
    page, _problems = open_page("desktop")
    log_in(page, admin.email)
    page.goto(f"/alpha/feeds/runs/{run.id}")
    response = page.request.get(page.locator("#errors-csv").get_attribute("href"))
    assert response.status == 200, response.text()[:300]
    body = response.text().lstrip("\ufeff")
    assert body.startswith("N° facture;Code client;Statut;Ligne;Erreur")
    assert "C404" in body
    _token, secret = create_token("errors", "read,import")
    db.session.commit()
    api = page.request.get(f"/api/v1/imports/{run.id}/errors", headers={
        "Authorization": f"Bearer {secret}", "Accept": "text/csv"})
    assert api.status == 200, api.text()[:300]
    assert "C404" in api.text()


def test_revert_this_run_asks_and_posts_once_when_clicked_twice(
        tenant: Tenant, make_user: Callable[..., Any], make_account: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], tmp_path: Path) -> None:
    """The admin clicks "Revert this run", confirms, and clicks again while the server
    answers (a second or two on a busy server): he is asked once, one request is sent, and
    he lands on "The revert is queued", not on the red answer of a second request."""
    admin = make_user(Role.ADMIN.value)
    make_account(external_ref="C001", name="Client Un")
    run = _imported(tenant, tmp_path / "f.csv", "N° facture;Code client;Statut\nF001;C001;Émise\n")
    page, _problems = open_page("desktop")
    dialogs: list[str] = []
    posts: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    log_in(page, admin.email)
    posts.clear()
    page.goto(f"/alpha/feeds/runs/{run.id}")

    def slow(route: Any) -> None:  # a server taking a moment to answer
        page.wait_for_timeout(1500)
        route.continue_()

    page.route("**/revert", slow)
    button = page.locator("button[data-confirm]").filter(has_text=re.compile("Annuler cet"))
    box = button.bounding_box()
    page.mouse.click(box["x"] + 5, box["y"] + 5)
    page.wait_for_timeout(300)
    page.mouse.click(box["x"] + 5, box["y"] + 5)
    page.wait_for_timeout(3000)
    page.wait_for_load_state()
    assert len(dialogs) == 1, dialogs
    assert len(posts) == 1, posts
    assert page.locator(".alert-danger").count() == 0, page.locator(".alert").all_inner_texts()


def test_mapping_a_value_on_the_mapping_screen_warns_of_the_edits_typed_above(
        tenant: Tenant, make_user: Callable[..., Any], make_account: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], tmp_path: Path) -> None:
    """On the mapping screen the admin renames the profile, then clicks "Map" on a value
    listed below, which saves that mapping alone: he is asked whether to leave his changes;
    kept, they stay in the form; left, the value is mapped and the message names the
    mappings only, not the profile as if it had been saved."""
    admin = make_user(Role.ADMIN.value)
    make_account(external_ref="C001", name="Client Un")
    run = _imported(tenant, tmp_path / "f.csv", "N° facture;Code client;Statut\nF001;C001;Réglée\n")
    page, problems = open_page("phone")
    dialogs: list[str] = []
    answer = {"accept": False}

    def reply(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept() if answer["accept"] else dialog.dismiss()

    page.on("dialog", reply)
    log_in(page, admin.email)
    page.goto(f"/alpha/feeds/profiles/{run.profile_id}/edit")
    page.locator("#name").fill("factures-renommees")
    item = page.locator("#unmapped-values li").filter(has_text="Réglée")
    item.locator("select").select_option("paid")
    item.locator("button[type=submit]").click()
    page.wait_for_timeout(500)
    assert len(dialogs) == 1 and "ne sont pas enregistrées" in dialogs[0], dialogs
    assert page.locator("#name").input_value() == "factures-renommees"  # kept, not sent
    answer["accept"] = True
    item.locator("button[type=submit]").click()
    page.wait_for_load_state()
    flashed = " ".join(page.locator(".alert").all_inner_texts())
    assert "Correspondances de valeurs" in flashed and "version 2" in flashed, flashed
    assert page.locator("#name").input_value() == "factures-statut"
    problems.assert_none()


def test_the_page_says_when_a_queued_revert_starts_running(
        tenant: Tenant, make_user: Callable[..., Any], make_account: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], tmp_path: Path) -> None:
    """A run's page polls its revert's state: when a worker takes the queued revert, the
    page says it is under way, not "queued" for the minutes a large revert takes."""
    from datetime import UTC, datetime

    admin = make_user(Role.ADMIN.value)
    make_account(external_ref="C001", name="Client Un")
    run = _imported(tenant, tmp_path / "f.csv", "N° facture;Code client;Statut\nF001;C001;Émise\n")
    run.revert_status, run.revert_requested_at = "queued", datetime.now(UTC)
    run.revert_actor = {"kind": "user", "id": admin.id, "label": admin.email}
    db.session.commit()
    page, problems = open_page("desktop")
    log_in(page, admin.email)
    page.goto(f"/alpha/feeds/runs/{run.id}")
    assert page.locator("#revert-state").get_attribute("data-revert-status") == "queued"
    run.revert_status = "running"  # a worker took it
    db.session.commit()
    page.wait_for_timeout(5000)  # two polls and more
    state = page.locator("#revert-state")
    assert "Annulation en cours" in state.inner_text(), state.inner_text()
    problems.assert_none()


def test_a_long_profile_name_and_header_fit_a_phone(
        tenant: Tenant, make_user: Callable[..., Any], make_account: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], tmp_path: Path) -> None:
    """Profile names and file headers are often words joined by underscores, which a
    browser does not break: the feeds' health, the profile's page and the runs wrap them on
    a phone, as the run page and the mapping screen do."""
    admin = make_user(Role.ADMIN.value)
    make_account(external_ref="C001", name="Client Un")
    header = "Code_client_systeme_facturation"
    profile = feeds.create_profile({
        "name": "factures_grands_comptes_idf_quotidien", "entity": "invoices",
        "mode": "upsert", "key": "number",
        "columns": {"N° facture": "number", header: "account.external_ref", "Statut": "status"}})
    run = _imported(tenant, tmp_path / "f.csv", f"N° facture;{header};Statut\nF001;C001;Émise\n",
               profile)
    page, _problems = open_page("phone")
    log_in(page, admin.email)
    page.goto(f"/alpha/feeds/runs/{run.id}")
    assert_fits_width(page, "phone")
    widths = {}
    for url in (f"/alpha/feeds/profiles/{profile.id}", "/alpha/feeds/", "/alpha/feeds/runs"):
        page.goto(url)
        widths[url] = page.evaluate("document.documentElement.scrollWidth")
    assert all(width <= 391 for width in widths.values()), widths


def _mapping_screen(tenant: Tenant, make_user: Callable[..., Any],
                    make_account: Callable[..., Any],
                    open_page: Callable[..., tuple[Any, PageProblems]],
                    tmp_path: Path) -> tuple[Any, Any, list[str]]:
    admin = make_user(Role.ADMIN.value)
    make_account(external_ref="C001", name="Client Un")
    run = _imported(tenant, tmp_path / "f.csv",
                    "N° facture;Code client;Statut\nF001;C001;Réglée\n")
    page, _problems = open_page("desktop")
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    log_in(page, admin.email)
    page.goto(f"/alpha/feeds/profiles/{run.profile_id}/edit")
    return page, run, dialogs


def test_map_warns_of_edits_the_server_sent_back_unsaved(
        tenant: Tenant, make_user: Callable[..., Any], make_account: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], tmp_path: Path) -> None:
    """The admin renames the profile and clicks "Suggest again" (or reads a sample, or saves
    with a mistake): the page comes back with his edits, still unsaved. Clicking "Map" on a
    value below then drops them without the warning he gets before that round trip."""
    page, _run, dialogs = _mapping_screen(tenant, make_user, make_account, open_page, tmp_path)
    page.locator("#name").fill("factures-renommees")
    page.locator("#suggest-button").click()
    page.wait_for_load_state()
    assert page.locator("#name").input_value() == "factures-renommees"  # still unsaved
    item = page.locator("#unmapped-values li").filter(has_text="Réglée")
    item.locator("select").select_option("paid")
    item.locator("button[type=submit]").click()
    page.wait_for_timeout(1000)
    page.wait_for_load_state()
    assert len(dialogs) == 1 and "ne sont pas enregistrées" in dialogs[0], dialogs
    assert page.locator("#name").input_value() == "factures-renommees"


def test_arrow_keys_on_the_entity_list_do_not_send_the_form(
        tenant: Tenant, make_user: Callable[..., Any], make_account: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]], tmp_path: Path) -> None:
    """Keyboard only: the admin tabs to "Entity fed" and goes down its list with the arrow
    keys. The first key press already posts the whole form (suggestions for the entity
    passed through), the page reloads and his focus is lost: he cannot reach the entity he
    wanted without the mouse."""
    page, _run, _dialogs = _mapping_screen(tenant, make_user, make_account, open_page,
                                           tmp_path)
    navigations: list[str] = []
    page.on("framenavigated",
            lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    entity = page.locator("#entity")
    options = entity.locator("option").evaluate_all("(os) => os.map(o => o.value)")
    start = options.index(entity.input_value())
    key, step = ("ArrowDown", 1) if start + 2 < len(options) else ("ArrowUp", -1)
    entity.focus()
    page.keyboard.press(key)
    page.wait_for_timeout(300)
    page.keyboard.press(key)
    page.wait_for_timeout(1500)
    assert navigations == [], navigations
    assert page.evaluate("document.activeElement.id") == "entity"
    assert entity.input_value() == options[start + 2 * step]
    with page.expect_navigation():  # Enter: the choice made, its suggestions asked
        page.keyboard.press("Enter")
    assert page.locator("#entity").input_value() == options[start + 2 * step]


def test_the_phone_cards_of_the_feeds_health_say_what_the_table_says(
        tenant: Tenant, make_user: Callable[..., Any],
        open_page: Callable[..., tuple[Any, PageProblems]]) -> None:
    """A feed whose scheduled pull fails is red with its reason on a desktop, and a
    deactivated feed is marked so; on a phone its card says neither (no reason, no red
    border, no "Désactivé")."""
    admin = make_user(Role.ADMIN.value)
    profile = feeds.create_profile(dict(STATUS_PROFILE))
    pull = set_pull(profile, {"kind": "https", "url": "https://erp.example.com/f.csv",
                              "schedule": "0 5 * * *"})
    pull.last_error = "Le fichier récupéré est vide."  # as pull_feed writes it
    profile.is_active = False
    db.session.commit()
    missing = []
    for viewport in ("desktop", "phone"):
        page, _problems = open_page(viewport)
        log_in(page, admin.email)
        page.goto("/alpha/feeds/")
        for text in ("Le fichier récupéré est vide.", "Désactivé"):
            shown = page.get_by_text(text)
            if not any(shown.nth(i).is_visible() for i in range(shown.count())):
                missing.append((viewport, text))
    assert missing == [], missing
