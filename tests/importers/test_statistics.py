"""A large import refreshes the planner's statistics of its table: while it runs, when it has
written enough records and then each time they have doubled (not at every batch), and at its
end; a small one or a dry run does not."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.extensions import db
from importers import engine, statistics
from tests.backoffice.conftest import count_statements

COLUMNS = {"Réf": "external_ref", "Nom": "name"}


def _feed(path: Path, rows: int) -> Path:
    path.write_text("Réf;Nom\n" + "".join(f"C{n:05d};Client {n}\n" for n in range(rows)),
                    encoding="utf-8")
    return path


def _analyzes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("ANALYZE")]


@pytest.fixture
def small_thresholds(monkeypatch):
    monkeypatch.setattr(engine, "BATCH_ROWS", 10)  # six batches of the 60-row file
    monkeypatch.setattr(statistics, "ANALYZE_AFTER_ROWS", 25)


def test_a_large_run_analyzes_its_table_as_its_records_double_and_at_its_end(
        app, make_profile, run_import, tmp_path, small_thresholds, monkeypatch):
    seen = []  # records the last analysis during the run had seen, at each analysis
    analyze = statistics.TableStatistics.analyze
    monkeypatch.setattr(statistics.TableStatistics, "analyze",
                        lambda self: seen.append(self.analyzed_at) or analyze(self))
    profile = make_profile("accounts", COLUMNS)
    with count_statements(app) as statements:
        run = run_import(profile, _feed(tmp_path / "clients.csv", 130))
    assert run.status == "succeeded" and run.created == 130
    # Batches of 10, from 25 on: at 30, 60 and 120 written; then at the end (130 written).
    assert seen == [30, 60, 120, 120]
    assert _analyzes(statements) == ['ANALYZE "accounts"'] * 4


def test_no_second_analysis_at_the_end_when_the_last_one_saw_every_record(
        app, make_profile, run_import, tmp_path, small_thresholds):
    profile = make_profile("accounts", COLUMNS)
    with count_statements(app) as statements:
        run = run_import(profile, _feed(tmp_path / "clients.csv", 60))
    assert run.status == "succeeded" and run.created == 60
    assert _analyzes(statements) == ['ANALYZE "accounts"'] * 2  # at 30 and 60 written


def test_a_small_run_or_a_dry_run_leaves_the_statistics_alone(
        app, make_profile, run_import, tmp_path, small_thresholds):
    profile = make_profile("accounts", COLUMNS)
    with count_statements(app) as statements:
        assert run_import(profile, _feed(tmp_path / "few.csv", 20)).created == 20
        assert run_import(profile, _feed(tmp_path / "dry.csv", 60), dry_run=True).is_dry_run
    assert _analyzes(statements) == []


def test_on_sqlite_the_statistics_say_how_many_records_the_tenant_holds(
        app, backend, make_profile, run_import, tmp_path, monkeypatch):
    """Sampled, SQLite's statistics of an index led by tenant_id said that a tenant holds as
    many rows as the sample (2,000): a thousand records read by id (a revert's, a deletion's
    chunk) were then found by reading all the tenant's records through that index."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL's sampled statistics count a tenant's rows as the table's")
    monkeypatch.setattr(engine, "BATCH_ROWS", 1000)
    monkeypatch.setattr(statistics, "ANALYZE_AFTER_ROWS", 1000)
    profile = make_profile("accounts", COLUMNS)
    run = run_import(profile, _feed(tmp_path / "clients.csv", 6000))
    assert run.status == "succeeded" and run.created == 6000
    with app.app_context():
        # A connection opened before the analysis may plan by the statistics it loaded then
        # (SQLite reads them with the schema): the plan is read as a new connection's.
        db.engine.dispose()
    with app.app_context(), db.engine.connect() as connection:
        ids = connection.exec_driver_sql(
            "SELECT id FROM accounts ORDER BY id LIMIT 1000 OFFSET 2000").scalars().all()
        plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM accounts WHERE tenant_id = ? AND id IN "
            f"({', '.join(map(str, ids))})", (run.tenant_id,)))
    assert "INTEGER PRIMARY KEY" in plan, plan
