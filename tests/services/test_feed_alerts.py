"""Feed alerts: a failed or partly failed run, or a file not come by its deadline, mails the
tenant's admins once, each in his language, with a link to the run; the health page shows the
late feed in red; the admins who asked get a daily digest. Mail goes through a real SMTP
server on loopback; the clock is set (app/clock.py), never waited for."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import FeedAlert, ImportRun
from app.platform_jobs import check_feed_alerts
from app.services import feed_alerts
from tests.backoffice.conftest import text
from tests.importers import conftest as feeds
from tests.portal.test_passwords import Inbox, _start, body

# The feed fixtures.
feed_file, make_profile, run_import = feeds.feed_file, feeds.make_profile, feeds.run_import

# Monday 7 December 2026, 05:00 UTC = 06:00 in Paris.
MONDAY_6AM = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


@pytest.fixture
def inbox(app, monkeypatch) -> Iterator[Inbox]:
    received = Inbox()
    controller = _start(received)
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{controller.port}")
    monkeypatch.setitem(app.config, "MAIL_FROM", "Relais <no-reply@relais.example>")
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://crm.example")
    yield received
    controller.stop()


@pytest.fixture
def set_clock(monkeypatch) -> Callable[[datetime], None]:
    def set_to(moment: datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: moment)

    return set_to


@pytest.fixture
def admins(make_user):
    french = make_user("admin", email="chef@alpha.example", locale="fr")
    english = make_user("admin", email="boss@alpha.example", locale="en")
    make_user("sales", email="vendeur@alpha.example")
    return french, english


@pytest.fixture
def profile(make_profile):
    return make_profile(
        "partners",
        {"Code": "external_ref", "Nom": "name", "Mail": "email"},
        name="partenaires-nuit",
    )


def _check(app) -> None:
    """What the scheduler fires (the job, in this thread, outside any tenant)."""
    with app.app_context():
        check_feed_alerts()
    db.session.expire_all()


def _by_recipient(messages) -> dict[str, object]:
    return {message["To"]: message for message in messages}


def _partial_run(run_import, feed_file, profile) -> ImportRun:
    path = feed_file("Code;Nom;Mail\nP1;Un;un@example.com\nP2;Deux;pas-un-mail\n")
    run = run_import(profile, path)
    assert run.status == "partial"
    return run


def test_a_partly_failed_run_mails_each_admin_once_in_his_language(
    app, tenant, admins, profile, run_import, feed_file, inbox, set_clock
):
    run = _partial_run(run_import, feed_file, profile)
    set_clock(datetime.now(UTC))
    _check(app)
    mails = _by_recipient(inbox.wait(2))
    assert set(mails) == {"chef@alpha.example", "boss@alpha.example"}  # admins only
    english, french = mails["boss@alpha.example"], mails["chef@alpha.example"]
    assert "partenaires-nuit" in english["Subject"] and "rows failed" in english["Subject"]
    assert "1 rows failed" in body(english) and f"#{run.id}" in body(english)
    assert f"https://crm.example/alpha/feeds/runs/{run.id}" in body(english)
    assert f"https://crm.example/alpha/feeds/runs/{run.id}" in body(english, "html")
    assert "lignes en erreur" in french["Subject"] or "partenaires-nuit" in french["Subject"]
    assert "Bonjour" in body(french)
    # Checked again, a minute later and by another process: nothing more.
    _check(app)
    _check(app)
    time.sleep(0.2)
    assert len(inbox.messages) == 2
    [alert] = db.session.scalars(select(FeedAlert)).all()
    assert alert.kind == "partial" and alert.run_id == run.id and alert.notified_at


def test_a_failed_run_names_what_went_wrong(
    app, tenant, admins, profile, run_import, feed_file, inbox, set_clock
):
    run = run_import(profile, feed_file("Autre;Colonne\n1;2\n"))
    assert run.status == "failed"
    set_clock(datetime.now(UTC))
    _check(app)
    mails = _by_recipient(inbox.wait(2))
    english, french = mails["boss@alpha.example"], mails["chef@alpha.example"]
    assert "the import failed" in english["Subject"]
    # The run's message (the columns missing), in each admin's language whatever the
    # worker's was.
    names = run.message_params["names"]
    assert "Code" in names
    assert f"Columns missing from the file: {names}." in body(english)
    assert f"Colonnes absentes du fichier\u00a0: {names}." in body(french)


def test_a_dry_run_raises_no_alert(
    app, tenant, admins, profile, run_import, feed_file, inbox, set_clock
):
    run = run_import(profile, feed_file("Code;Nom;Mail\nP2;Deux;pas-un-mail\n"), dry_run=True)
    assert run.is_dry_run
    set_clock(datetime.now(UTC))
    _check(app)
    time.sleep(0.3)
    assert inbox.messages == []


def test_a_file_not_come_by_its_deadline_mails_once_and_shows_red(
    app, tenant, admins, profile, inbox, set_clock, admin_client
):
    set_clock(MONDAY_6AM - timedelta(days=3))  # set on Friday
    feed_alerts.set_expectation(profile, "30 6 * * 1-5", 0)  # every weekday by 06:30
    db.session.commit()
    set_clock(MONDAY_6AM)  # 06:00 on Monday: Friday's file came? No, but Friday is old
    _check(app)
    time.sleep(0.2)
    assert inbox.messages == []  # no deadline passed since the expectation was set
    set_clock(MONDAY_6AM + timedelta(minutes=31))  # 06:31: Monday's deadline passed
    _check(app)
    inbox.wait(3)  # the two admins, and the one of admin_client
    time.sleep(0.2)
    sent = len(inbox.messages)
    assert sent == 3
    english = _by_recipient(inbox.messages)["boss@alpha.example"]
    assert "has not come" in english["Subject"] and "partenaires-nuit" in english["Subject"]
    assert "6:30" in body(english) or "06:30" in body(english)
    assert "https://crm.example/alpha/feeds/" in body(english)
    _check(app)
    time.sleep(0.2)
    assert len(inbox.messages) == sent
    page = admin_client.get("/alpha/feeds/")
    html = page.data.decode()
    row = html[html.index(f'data-profile="{profile.id}"') - 60 :]
    assert "table-danger" in row[:200]
    assert "expected" in text(page).lower() or "attendu" in text(page).lower()


def test_a_file_come_in_time_raises_nothing(
    app, tenant, admins, profile, run_import, feed_file, inbox, set_clock
):
    set_clock(MONDAY_6AM - timedelta(days=3))
    feed_alerts.set_expectation(profile, "30 6 * * 1-5", 15)
    db.session.commit()
    run = run_import(profile, feed_file("Code;Nom;Mail\nP1;Un;un@example.com\n"))
    run.created_at = MONDAY_6AM  # came at 06:00, before 06:45
    db.session.commit()
    set_clock(MONDAY_6AM + timedelta(hours=1))
    _check(app)
    time.sleep(0.2)
    assert inbox.messages == []


def test_an_expectation_is_checked(tenant, profile):
    from app.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        feed_alerts.set_expectation(profile, "tous les jours", "x")
    assert set(refused.value.errors) == {"cron", "grace_minutes"}


def test_the_digest_goes_once_a_day_to_the_admins_who_asked(
    app, tenant, admins, profile, run_import, feed_file, inbox, set_clock, monkeypatch
):
    french, _english = admins
    feed_alerts.set_digest(french, True)
    db.session.commit()
    _partial_run(run_import, feed_file, profile)
    monkeypatch.setitem(app.config, "FEED_DIGEST_HOUR", 7)
    now = datetime.now(UTC)
    local_day = now.astimezone(clock.tenant_zone())
    seven = local_day.replace(hour=7, minute=5).astimezone(UTC)
    set_clock(seven)
    _check(app)
    messages = inbox.wait(3)
    digests = [m for m in messages if m["To"] == "chef@alpha.example" and "24" in m["Subject"]]
    assert len(digests) == 1
    assert "partenaires-nuit" in body(digests[0]) and "1" in digests[0]["Subject"]
    set_clock(seven + timedelta(hours=3))
    _check(app)
    time.sleep(0.3)
    assert len([m for m in inbox.messages if "24" in m["Subject"]]) == 1
    set_clock(seven + timedelta(days=1))
    _check(app)
    inbox.wait(4)
    assert len([m for m in inbox.messages if "24" in m["Subject"]]) == 2


def test_the_digest_setting_is_on_the_admins_settings_page(admin_client, admin):
    page = admin_client.get("/alpha/profile")
    assert 'name="feed_digest"' in page.data.decode()
    answer = admin_client.post("/alpha/profile/feed-digest", data={"feed_digest": "y"})
    assert answer.status_code == 302
    db.session.expire_all()
    assert feed_alerts.wants_digest(admin)


def test_of_two_scheduler_processes_one_fires_and_each_alert_leaves_once(
    app, tenant, admins, profile, run_import, feed_file, inbox, monkeypatch
):
    from app.scheduler import Scheduler

    _partial_run(run_import, feed_file, profile)
    monkeypatch.setitem(app.config, "FEED_ALERTS", True)
    monkeypatch.setitem(app.config, "FEED_ALERTS_SECONDS", 0.2)
    monkeypatch.setitem(app.config, "JOBS_LEASE_SECONDS", 3)
    fired: list[tuple[int, str]] = []

    class Counted(Scheduler):
        def fire(self, name: str) -> None:
            if self.election.leading:
                fired.append((id(self), name))
            super().fire(name)

    first, second = Counted(app), Counted(app)
    first.start()
    second.start()
    try:
        inbox.wait(2, timeout=15)
        time.sleep(1.0)
    finally:
        first.stop()
        second.stop()
    checks = [who for who, name in fired if name == "check_feed_alerts"]
    assert len(checks) >= 2 and len(set(checks)) == 1  # one process fired them all
    assert len(inbox.messages) == 2, [m["To"] for m in inbox.messages]


def test_an_admin_says_on_the_profile_page_when_its_file_is_due(
    app, admin_client, profile, make_user
):
    from tests.conftest import login

    page = admin_client.get(f"/alpha/feeds/profiles/{profile.id}")
    assert 'id="expected-cron"' in page.data.decode()
    answer = admin_client.post(
        f"/alpha/feeds/profiles/{profile.id}/expected",
        data={"cron": "30 6 * * 1-5", "grace_minutes": "15"},
    )
    assert answer.status_code == 302
    page = admin_client.get(f"/alpha/feeds/profiles/{profile.id}")
    assert 'value="30 6 * * 1-5"' in page.data.decode() and 'value="15"' in page.data.decode()
    refused = admin_client.post(
        f"/alpha/feeds/profiles/{profile.id}/expected",
        data={"cron": "chaque matin", "grace_minutes": "0"},
        follow_redirects=True,
    )
    assert "cron" in text(refused)
    sales = login(app.test_client(), make_user("sales"))
    assert (
        sales.post(f"/alpha/feeds/profiles/{profile.id}/expected", data={"cron": ""}).status_code
        == 403
    )
    admin_client.post(f"/alpha/feeds/profiles/{profile.id}/expected", data={"cron": ""})
    assert (
        'value="30 6 * * 1-5"'
        not in admin_client.get(f"/alpha/feeds/profiles/{profile.id}").data.decode()
    )


def test_a_deactivated_feed_is_never_late(app, tenant, profile, set_clock):
    from app.queries.feed_alerts import late_feeds

    set_clock(MONDAY_6AM - timedelta(days=3))
    feed_alerts.set_expectation(profile, "30 6 * * 1-5", 0)
    db.session.commit()
    set_clock(MONDAY_6AM + timedelta(hours=2))
    assert late_feeds(clock.now()) == {profile.id: MONDAY_6AM + timedelta(minutes=30)}
    profile.is_active = False
    db.session.commit()
    assert late_feeds(clock.now()) == {}


def test_an_alert_the_mail_server_refused_leaves_at_the_next_check(
    app, tenant, admins, profile, run_import, feed_file, inbox, set_clock, monkeypatch
):
    _partial_run(run_import, feed_file, profile)
    set_clock(datetime.now(UTC))
    working = app.config["SMTP_URL"]
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:9")  # nobody listens
    _check(app)
    [alert] = db.session.scalars(select(FeedAlert)).all()
    assert alert.notified_at is None and inbox.messages == []
    monkeypatch.setitem(app.config, "SMTP_URL", working)
    _check(app)
    assert len(inbox.wait(2)) == 2
    _check(app)
    time.sleep(0.2)
    assert len(inbox.messages) == 2
