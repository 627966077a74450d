"""`flask export run NAME --tenant SLUG`: runs one now and says how it ended."""

from __future__ import annotations

from app.extensions import db
from app.models import ExportRun
from importers.export_runs import run_file_path


def test_flask_export_run_runs_it_now(app, tenant, make_export, make_invoice):
    make_invoice(number="F42")
    make_export(name="ventes-jour", columns=["number"], format="csv_utf8")
    result = app.test_cli_runner().invoke(
        args=["export", "run", "ventes-jour", "--tenant", "alpha"]
    )
    assert result.exit_code == 0, result.output
    assert "succeeded, 1 rows" in result.output
    run = db.session.scalar(db.select(ExportRun))
    assert run.trigger == "cli" and run.started_by.startswith("cli:")
    assert run_file_path(run).read_bytes().decode("utf-8-sig") == "Numéro\r\nF42\r\n"


def test_an_unknown_export_or_tenant_exits_1(app, tenant):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["export", "run", "nope", "--tenant", "alpha"]).exit_code == 1
    assert runner.invoke(args=["export", "run", "nope", "--tenant", "zeta"]).exit_code == 1
