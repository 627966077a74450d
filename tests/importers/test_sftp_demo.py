"""The README's "Try the SFTP inbox", as a newcomer runs it after `make run`: the demo tenant
loaded, OpenSSH's `sftp` typed the README's command line, password and `sftp>` commands, the
sample file imported as a run of the demo's feed, its results fetched from `outbox/`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Export, ExportRun, FeedAccount, ImportProfile, ImportRun, Tenant
from app.services.feed_storage import account_root
from app.tenancy import Actor, all_tenants_unsafe, tenant_context
from app.web.transactions import transaction
from tests.importers.conftest import wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("sftp") is None, reason="needs Debian's openssh-client (.ci/run installs it)"
)
ROOT = Path(__file__).resolve().parents[2]


def readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("### Try the SFTP inbox")
    return text[start : text.index("\n#", start + 5)]


def readme_steps() -> tuple[list[str], str, list[str]]:
    """The README's command line, password and `sftp>` commands."""
    section = readme_section()
    command = re.search(r"^sftp -P 2222 .*$", section, re.M).group(0).split()
    password = re.search(r"password `([^`]+)`", section).group(1)
    steps = re.findall(r"^sftp> (.+)$", section, re.M)
    return command, password, steps


def run_sftp(server, tmp_path: Path, command: list[str], password: str, steps: list[str]):
    """The README's command, pointed at the test's server (its port, and a host key accepted
    without a prompt), the password typed by an askpass program."""
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
    askpass.chmod(0o700)
    port = command.index("-P") + 1
    argv = [*command[:port], str(server.port), *command[port + 1 :]]
    argv[1:1] = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    env.pop("DISPLAY", None)
    return subprocess.run(
        argv,
        input="".join(f"{step}\n" for step in steps),
        text=True,
        capture_output=True,
        timeout=60,
        cwd=tmp_path / "checkout",
        env=env,
    )


@pytest.fixture
def demo(app, sftp_server) -> Tenant:
    from app.demo import load_demo

    with transaction():
        assert load_demo("demo")
    with all_tenants_unsafe("tests"):
        return db.session.scalar(select(Tenant).where(Tenant.slug == "demo"))


def test_the_demo_has_an_account_an_export_and_the_three_feeds(demo):
    with tenant_context(demo.id, Actor("system", None, "tests")):
        account = db.session.scalar(select(FeedAccount))
        names = {p.id: p.name for p in db.session.scalars(select(ImportProfile))}
        export = db.session.scalar(select(Export))
        run = db.session.scalar(select(ExportRun))
        runs = list(db.session.scalars(select(ImportRun)))
    assert account.name == "erp-nuit"
    assert [(r["pattern"], names[r["profile_id"]]) for r in account.routes] == [
        ("clients/*.csv", "Clients – import nocturne"),
        ("partenaires/*.csv", "Partenaires – annuaire"),
        ("*.zip", "CV candidats (ZIP)"),
    ]
    assert (export.entity, export.format, export.destination) == (
        "invoices",
        "csv_cp1252",
        "outbox",
    )
    assert export.destination_options == {"feed_account_id": account.id}
    assert run.status == "succeeded" and run.rows > 0
    outbox = account_root(demo.id, account.id) / "outbox"
    assert [p.name for p in outbox.iterdir()] == [run.file_name]
    # A few weeks of history: one partial run, a late feed (no run in its last three days).
    assert len(runs) > 20
    assert sum(r.status == "partial" for r in runs) == 1


def test_the_demo_has_its_partial_run_whatever_day_it_is_loaded_on():
    from app.demo.feeds import partial_offset

    monday = date(2026, 12, 7)
    for today in (monday + timedelta(days=n) for n in range(7)):
        day = today - timedelta(days=partial_offset(today))
        assert day.weekday() < 5 and 9 <= (today - day).days < 21, today


def test_the_readme_sends_its_sample_file_to_the_demo_inbox(demo, sftp_server, tmp_path):
    command, password, steps = readme_steps()
    assert command[:3] == ["sftp", "-P", "2222"]
    checkout = tmp_path / "checkout"
    (checkout / "docs" / "demo").mkdir(parents=True)
    shutil.copy(ROOT / "docs" / "demo" / "clients.csv", checkout / "docs" / "demo")
    arrival = [s for s in steps if not s.startswith(("ls ", "get ", "bye"))]
    assert arrival == [
        "put docs/demo/clients.csv clients/clients.csv.part",
        "rename clients/clients.csv.part clients/clients.csv",
    ]
    done = run_sftp(sftp_server, tmp_path, command, password, arrival)
    assert done.returncode == 0, done.stderr

    def finished() -> ImportRun | None:
        db.session.rollback()
        with tenant_context(demo.id, Actor("system", None, "tests")):
            run = db.session.scalar(select(ImportRun).where(ImportRun.source == "sftp"))
            return run if run is not None and run.is_finished else None

    run = wait_until(finished, timeout=30)
    assert run is not None
    assert (run.file_name, run.status, run.created, run.failed, run.started_by) == (
        "clients.csv",
        "partial",
        2,
        1,
        "sftp:demo.erp-nuit",
    )
    with tenant_context(demo.id, Actor("system", None, "tests")):
        assert db.session.get(ImportProfile, run.profile_id).name == "Clients – import nocturne"
    wanted = {f"clients.csv.run-{run.id}.json", f"clients.csv.run-{run.id}.errors.csv"}
    with tenant_context(demo.id, Actor("system", None, "tests")):
        account = db.session.scalar(select(FeedAccount))
    outbox = account_root(demo.id, account.id) / "outbox"
    assert wait_until(lambda: wanted <= {p.name for p in outbox.iterdir()})

    rest = run_sftp(sftp_server, tmp_path, command, password, steps[len(arrival) :])
    assert rest.returncode == 0, rest.stderr
    assert "Factures---comptabilit" in rest.stdout  # `ls outbox` shows the export's file
    assert {p.name for p in checkout.iterdir()} == {"docs", *wanted}
    errors = (checkout / f"clients.csv.run-{run.id}.errors.csv").read_bytes()
    assert b"CLI-900003" in errors
