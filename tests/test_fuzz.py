"""Every fuzz target (tests/fuzz) runs for a few seconds from its seed corpus of real files:
a crash fails the suite with the input that caused it. Longer runs:
`python -m tests.fuzz TARGET --seconds 600`."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ["csv", "xlsx", "values", "cursor", "profile"]
SECONDS = int(os.environ.get("FUZZ_SECONDS", "6"))  # five targets: under a minute in all

pytest.importorskip("atheris")


@pytest.mark.parametrize("target", TARGETS)
def test_the_fuzzer_finds_no_crash(target, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tests.fuzz", target, "--seconds", str(SECONDS),
         "--artifacts", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=SECONDS * 10 + 60)
    output = "\n".join(line for line in (result.stdout + result.stderr).splitlines()
                       if not line.startswith("INFO: Instrumenting"))
    crashes = [p.name for p in tmp_path.iterdir() if p.name.startswith("crash-")]
    assert result.returncode == 0 and not crashes, f"{crashes}\n{output[-4000:]}"
    assert "Done" in output  # it did run, from the seeds (a target that cannot start fails)
    assert "files found in" in output and f"corpus/{target}" in output
