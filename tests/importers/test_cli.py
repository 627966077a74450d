"""`flask feed import FILE --tenant SLUG --profile NAME [--dry-run] [--force]`, as an operator
runs it: what it prints, what it exits with, what it leaves in the database."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import ImportProfile, ImportRun
from app.services import feeds
from importers import runs
from tests.importers.conftest import by_key, records

HEADER = "Code client;Raison sociale;Ville;Pays\n"
COLUMNS = {"Code client": "external_ref", "Raison sociale": "name", "Ville": "city",
           "Pays": "country"}


@pytest.fixture
def feed_import(app, tmp_path, monkeypatch):
    """feed_import(*args) → click Result; errors files land in the test's own folder."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path / "instance"))
    runner = app.test_cli_runner()

    def invoke(*args: str):
        db.session.commit()  # the command reads what the test wrote
        result = runner.invoke(args=["feed", "import", *map(str, args)])
        db.session.expire_all()
        return result

    return invoke


@pytest.fixture
def profile(make_profile) -> ImportProfile:
    return make_profile("accounts", COLUMNS, name="clients-nuit")


def last_run() -> ImportRun:
    return db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()


def test_a_clean_file_exits_0_with_the_counts(profile, feed_import, feed_file):
    path = feed_file(HEADER + "C1;Dupont;Lyon;FR\nC2;Martin;Nice;FR\n", encoding="cp1252")
    result = feed_import(path, "--tenant", "alpha", "--profile", "clients-nuit")
    assert result.exit_code == 0, result.output
    run = last_run()
    assert f"Run #{run.id} succeeded: created 2, updated 0, unchanged 0, failed 0" \
        in result.output
    assert run.source == "cli" and run.started_by.startswith("cli:")
    assert sorted(by_key("accounts")) == ["C1", "C2"]


def test_failed_rows_exit_1_with_the_counts_and_the_errors_file(profile, feed_import,
                                                                 feed_file, app):
    path = feed_file(HEADER + "C1;Dupont;Lyon;FR\nC2;Martin;Nice;Italie\n")
    result = feed_import(path, "--tenant", "alpha", "--profile", "clients-nuit")
    assert result.exit_code == 1, result.output
    assert "partial: created 1, updated 0, unchanged 0, failed 1" in result.output
    errors_path = Path(result.output.split("Errors: ")[1].splitlines()[0])
    assert errors_path.is_relative_to(app.instance_path)
    rows = list(csv.reader(io.StringIO(errors_path.read_text("utf-8-sig")), delimiter=";"))
    assert rows[1][:5] == ["C2", "Martin", "Nice", "Italie", "3"]
    assert "Pays" in rows[1][5] and "Italie" in rows[1][5]


def test_the_errors_file_neutralises_formulas(profile, feed_import, feed_file):
    path = feed_file(HEADER + "C1;=HYPERLINK(\"http://evil.example/\");Lyon;Italie\n")
    result = feed_import(path, "--tenant", "alpha", "--profile", "clients-nuit")
    errors_path = Path(result.output.split("Errors: ")[1].splitlines()[0])
    rows = list(csv.reader(io.StringIO(errors_path.read_text("utf-8-sig")), delimiter=";"))
    assert rows[1][:4] == ["C1", "'=HYPERLINK(\"http://evil.example/\")", "Lyon", "Italie"]


def test_a_file_whose_every_row_failed_exits_1_too(profile, feed_import, feed_file):
    path = feed_file(HEADER + "C1;Dupont;Lyon;XX\n")
    result = feed_import(path, "--tenant", "alpha", "--profile", "clients-nuit")
    assert result.exit_code == 1, result.output
    assert "failed 1" in result.output and "Errors: " in result.output


def test_a_file_that_cannot_run_exits_2_with_the_reason(profile, feed_import, feed_file):
    result = feed_import(feed_file("Code client;Raison sociale\nC1;Dupont\n"),
                         "--tenant", "alpha", "--profile", "clients-nuit")
    assert result.exit_code == 2, result.output
    assert "Ville" in result.output and last_run().status == "failed"


def test_a_typographic_name_is_found_when_typed_plainly(make_profile, feed_import, feed_file):
    make_profile("accounts", COLUMNS, name="Clients – import nocturne")
    path = feed_file(HEADER + "C1;Dupont;Lyon;FR\n")
    result = feed_import(path, "--tenant", "alpha", "--profile", "clients - import nocturne")
    assert result.exit_code == 0, result.output
    assert "with profile Clients – import nocturne v1" in result.output
    assert sorted(by_key("accounts")) == ["C1"]


def test_an_unknown_profile_exits_2(profile, feed_import, feed_file):
    result = feed_import(feed_file(HEADER + "C1;Dupont;Lyon;FR\n"),
                         "--tenant", "alpha", "--profile", "clients-jour")
    assert result.exit_code == 2
    assert "Unknown profile: clients-jour" in result.output
    assert last_run() is None and records("accounts") == []


def test_an_unknown_tenant_exits_2(profile, feed_import, feed_file):
    result = feed_import(feed_file(HEADER + "C1;Dupont;Lyon;FR\n"),
                         "--tenant", "gamma", "--profile", "clients-nuit")
    assert result.exit_code == 2 and "Unknown tenant: gamma" in result.output


def test_a_profile_of_another_tenant_is_unknown(other_tenant, make_profile, feed_import,
                                                feed_file):
    make_profile("accounts", COLUMNS, name="clients-nuit")
    result = feed_import(feed_file(HEADER + "C1;Dupont;Lyon;FR\n"),
                         "--tenant", "beta", "--profile", "clients-nuit")
    assert result.exit_code == 2 and "Unknown profile" in result.output


def test_a_dry_run_writes_nothing(profile, feed_import, feed_file, make_account):
    make_account(external_ref="C1", name="Dupont", city="Lyon", country="FR")
    path = feed_file(HEADER + "C1;Dupont;Paris;FR\nC2;Martin;Nice;FR\n")
    result = feed_import(path, "--tenant", "alpha", "--profile", "clients-nuit", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "(dry run)" in result.output and "created 1, updated 1" in result.output
    accounts = by_key("accounts")
    assert list(accounts) == ["C1"] and accounts["C1"].city == "Lyon"
    assert last_run().is_dry_run


def test_the_same_file_again_says_so_and_force_runs_it(profile, feed_import, feed_file):
    path = feed_file(HEADER + "C1;Dupont;Lyon;FR\n")
    first = feed_import(path, "--tenant", "alpha", "--profile", "clients-nuit")
    first_id = last_run().id
    again = feed_import(path, "--tenant", "alpha", "--profile", "clients-nuit")
    assert first.exit_code == again.exit_code == 0
    assert f"{first_id}" in again.output.split("\n", 1)[1]
    assert last_run().rows_done == 0
    forced = feed_import(path, "--tenant", "alpha", "--profile", "clients-nuit", "--force")
    assert forced.exit_code == 0
    assert "created 0, updated 0, unchanged 1, failed 0" in forced.output


def test_a_second_run_of_the_profile_waits_for_the_first(tenant, profile, feed_import,
                                                         feed_file, monkeypatch):
    monkeypatch.setattr(runs, "WAIT_SECONDS", 0.01)
    path = feed_file(HEADER + "C9;Leroy;Paris;FR\n", name="autre.csv")
    with path.open("rb") as stream:
        first = feeds.create_run(profile, stream, "autre.csv", source="upload")
    db.session.commit()
    assert runs.claim(first)
    claim, attempts = runs.claim, []

    def claim_while_the_first_run_finishes(run: ImportRun) -> bool:
        attempts.append(run.id)
        if len(attempts) == 5:  # meanwhile, the first run ends in its own process
            with db.engine.begin() as connection:
                connection.execute(text("UPDATE import_runs SET status = 'succeeded' "
                                        "WHERE id = :run"), {"run": first.id})
                connection.execute(text("UPDATE import_profiles SET locked_by_run_id = NULL "
                                        "WHERE locked_by_run_id = :run"), {"run": first.id})
        return claim(run)

    monkeypatch.setattr(runs, "claim", claim_while_the_first_run_finishes)
    result = feed_import(feed_file(HEADER + "C1;Dupont;Lyon;FR\n"),
                         "--tenant", "alpha", "--profile", "clients-nuit")
    assert result.exit_code == 0, result.output
    assert "Another run of this profile is in progress; this one waits." in result.output
    assert len(attempts) == 5
    assert sorted(by_key("accounts")) == ["C1"]


def test_a_file_over_the_size_limit_exits_2_with_the_limit(app, profile, feed_import,
                                                           feed_file, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 1024 * 1024)
    path = feed_file(HEADER + "C1;Dupont;Lyon;FR\n" * 70_000)
    result = feed_import(path, "--tenant", "alpha", "--profile", "clients-nuit")
    assert result.exit_code == 2
    assert " 1 " in result.output and ("MB" in result.output or "Mo" in result.output)
    assert last_run() is None and records("accounts") == []


def test_a_run_a_killed_command_left_behind_is_ended_and_the_next_import_proceeds(
        profile, feed_import, feed_file, monkeypatch):
    run_import = runs.run_import  # a profile still held would make the command wait forever
    monkeypatch.setattr(runs, "run_import", lambda *args, **options:
                        run_import(*args, **{**options, "max_wait": 0}))
    # The previous `flask feed import` of the profile was killed mid-run: its run stays
    # "running", holding the profile, with a process that no longer exists.
    path = feed_file(HEADER + "C1;Dupont;Lyon;FR\n")
    with path.open("rb") as stream:
        killed = feeds.create_run(profile, stream, path.name, source="cli", force=True)
    killed.status, killed.worker_id = "running", "elsewhere:4242:0a1b2c3d"
    db.session.commit()
    assert runs.claim(killed)
    killed.heartbeat_at = killed.created_at = killed.created_at.replace(year=2020)
    db.session.commit()

    result = feed_import(feed_file(HEADER + "C2;Martin;Nice;FR\n", name="suivant.csv"),
                         "--tenant", "alpha", "--profile", "clients-nuit")
    assert result.exit_code == 0, result.output
    assert db.session.get(ImportRun, killed.id).status == "interrupted"
    assert last_run().status == "succeeded" and "C2" in by_key("accounts")
