"""`flask --help` (and so every command: the nightly `flask feed import` first) loads only what
listing the commands needs: no workbook reader, no OpenAPI description, no password hash.
bench/cli_startup.py times it; this checks the structure, which does not depend on the machine."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, sys
from flask.cli import main
sys.argv = ["flask", "--help"]
try:
    main()
except SystemExit:
    pass
from app.extensions import api
from app.services import tenants
print(json.dumps({"modules": sorted(m for m in ("openpyxl",) if m in sys.modules),
                  "api_described": not api._pending_docs,
                  "password_hashed": tenants._dummy_hash.cache_info().currsize > 0}),
      file=sys.stderr)
"""


def test_flask_help_loads_no_heavy_part(tmp_path):
    env = {**os.environ, "FLASK_APP": "wsgi.py", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
           "FILES_DIR": str(tmp_path / "files")}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True)
    assert "feed" in done.stdout and "token" in done.stdout  # the commands are all listed
    loaded = json.loads(done.stderr.strip().splitlines()[-1])
    assert loaded == {"modules": [], "api_described": False, "password_hashed": False}
