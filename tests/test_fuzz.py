"""Every fuzz target (tests/fuzz) runs for a few seconds from its seed corpus of real files and
past crashes: a crash fails the suite with the input that caused it. Longer runs:
`.venv/bin/python -m tests.fuzz TARGET --seconds 600`."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.fuzz.__main__ import RSS_LIMIT_MB, TARGETS

ROOT = Path(__file__).resolve().parent.parent
# 32 s of fuzzing, under a minute in all with each target's start-up: the cursor decoder is
# small and covered within a second, the readers and converters get the time. FUZZ_SECONDS
# gives every target the same time instead.
SECONDS = {"csv": 8, "xlsx": 9, "values": 8, "cursor": 2, "profile": 5}
if os.environ.get("FUZZ_SECONDS"):
    SECONDS = dict.fromkeys(TARGETS, int(os.environ["FUZZ_SECONDS"]))

pytest.importorskip("atheris")


@pytest.mark.parametrize("target", TARGETS)
def test_the_fuzzer_finds_no_crash(target, tmp_path):
    shm = Path("/dev/shm")  # the files each input is written to: in memory when possible
    scratch = tempfile.mkdtemp(prefix="relais-fuzz-", dir=shm if shm.is_dir() else tmp_path)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tests.fuzz", target, "--seconds", str(SECONDS[target]),
             "--artifacts", str(tmp_path)],
            cwd=ROOT, capture_output=True, text=True, timeout=SECONDS[target] * 10 + 60,
            env={**os.environ, "RELAIS_FUZZ_SCRATCH": scratch})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    output = "\n".join(line for line in (result.stdout + result.stderr).splitlines()
                       if not line.startswith("INFO: Instrumenting"))
    crashes = [p.name for p in tmp_path.iterdir() if p.name.startswith("crash-")]
    assert result.returncode == 0 and not crashes, f"{crashes}\n{output[-4000:]}"
    assert "Done" in output  # it did run, from the seeds (a target that cannot start fails)
    assert "files found in" in output and f"corpus/{target}" in output
    runs = re.search(r"stat::number_of_executed_units: (\d+)", output)
    assert runs and int(runs.group(1)) > 100, output[-2000:]  # the target did fuzz
    print(f"{target}: {runs.group(1)} inputs in {SECONDS[target]} s")  # shown by -rP


def test_a_large_parent_does_not_count_against_the_fuzzers_memory_limit(tmp_path):
    """Late in the suite a test worker is large; Linux hands its peak size to the processes it
    starts, and libFuzzer's limit reads that peak: the fuzzer must measure its own."""
    parent = (
        "import subprocess, sys\n"
        f"held = bytearray({RSS_LIMIT_MB + 128} * 1024 * 1024)\n"
        "held[::4096] = b'x' * len(held[::4096])  # resident, not only reserved\n"
        "sys.exit(subprocess.call([sys.executable, '-m', 'tests.fuzz', 'cursor', '--runs', '200',"
        f" '--artifacts', {str(tmp_path)!r}]))\n")
    result = subprocess.run([sys.executable, "-c", parent], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "out-of-memory" not in output
    peak = re.search(r"stat::peak_rss_mb:\s+(\d+)", output)
    assert peak and int(peak.group(1)) < RSS_LIMIT_MB, output[-2000:]
