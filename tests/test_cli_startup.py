"""`flask --help` (and so every command: the nightly `flask feed import` first) loads only what
listing the commands needs: no Alembic (Flask-Migrate's `flask db` loads it when it runs), no
scheduler clock, no workbook reader, no OpenAPI description, no password hash; and the garbage
collector leaves the app's objects alone once it is built (wsgi.py).
bench/cli_startup.py times it; this checks the structure, which does not depend on the machine."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from flask_migrate.cli import db as migration_commands
from sqlalchemy import inspect

from app import create_app
from app.extensions import db

ROOT = Path(__file__).resolve().parent.parent
LAZY_MODULES = ("alembic", "apscheduler", "flask_migrate", "openpyxl", "paramiko")
PROBE = """
import gc, json, sys
from flask.cli import main
lazy, sys.argv = sys.argv[1:], ["flask", "--help"]
try:
    main()
except SystemExit:
    pass
from app.extensions import api
from app.services import tenants
print(json.dumps({"modules": sorted(m for m in lazy if m in sys.modules),
                  "api_described": not api._pending_docs,
                  "password_hashed": tenants._dummy_hash.cache_info().currsize > 0,
                  "app_left_out_of_gc_scans": gc.get_freeze_count() > 0}),
      file=sys.stderr)
"""


def test_flask_help_loads_no_heavy_part(tmp_path):
    env = {**os.environ, "FLASK_APP": "wsgi.py", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
           "FILES_DIR": str(tmp_path / "files")}
    done = subprocess.run([sys.executable, "-c", PROBE, *LAZY_MODULES], cwd=ROOT, env=env,
                          check=True, capture_output=True, text=True)
    for command in ("db ", "feed ", "token ", "worker ", "scheduler "):  # all listed
        assert f"  {command}" in done.stdout
    assert "Perform database migrations." in done.stdout
    loaded = json.loads(done.stderr.strip().splitlines()[-1])
    assert loaded == {"modules": [], "api_described": False, "password_hashed": False,
                      "app_left_out_of_gc_scans": True}


def test_flask_db_runs_flask_migrate(tmp_path):
    """`flask db`, listed without Flask-Migrate, is Flask-Migrate's group once called."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/m.db",
                      "SECRET_KEY": "test-secret", "FILES_DIR": str(tmp_path / "files"),
                      "IMPORT_WATCH": False, "WEBHOOK_DISPATCH": False})
    runner = app.test_cli_runner()
    assert app.cli.get_command(None, "db").help == migration_commands.help

    shown = runner.invoke(args=["db", "--help"])
    assert shown.exit_code == 0 and "upgrade" in shown.output and "--directory" in shown.output

    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    with app.app_context():
        assert "tenants" in inspect(db.engine).get_table_names()
        db.engine.dispose()
