"""python -m tests.fuzz TARGET [--seconds N] [--runs N]: fuzz one target with atheris.

TARGET is one of TARGETS, the module tests/fuzz/fuzz_TARGET.py. Its seed corpus
(tests/fuzz/corpus/TARGET/, real files, and every crash found so far) runs first; new inputs go
to a scratch folder, never into the committed corpus; a crash leaves its input as crash-* in
--artifacts. tests/fuzz/dicts/TARGET.dict, when there is one, gives libFuzzer the tokens the
format is made of.

libFuzzer's memory limit reads the process's peak resident size, which Linux carries over from
the parent across fork and exec: started by a large process (a test worker late in the suite),
the fuzzer would begin above its limit. It then runs in a child of its own, whose peak is its
own.
"""
from __future__ import annotations

import argparse
import importlib
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = ["csv", "xlsx", "values", "cursor", "profile"]
RSS_LIMIT_MB = 1024


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz")
    parser.add_argument("target", choices=TARGETS)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=-1)
    parser.add_argument("--artifacts", default=tempfile.gettempdir())
    parser.add_argument("--corpus", help="keep new inputs in this folder (default: scratch)")
    args = parser.parse_args()
    if _inherited_peak():
        sys.exit(subprocess.call([sys.executable, "-m", "tests.fuzz", *sys.argv[1:]]))

    import atheris

    fuzz = importlib.import_module(f"tests.fuzz.fuzz_{args.target}").fuzz
    found = args.corpus or tempfile.mkdtemp(prefix=f"relais-fuzz-{args.target}-")
    Path(found).mkdir(parents=True, exist_ok=True)  # libFuzzer refuses a missing folder
    seeds = HERE / "corpus" / args.target
    words = HERE / "dicts" / f"{args.target}.dict"
    libfuzzer = [sys.argv[0], found, *([str(seeds)] if seeds.is_dir() else []),
                 f"-max_total_time={args.seconds}", f"-runs={args.runs}",
                 f"-artifact_prefix={Path(args.artifacts)}/crash-{args.target}-",
                 *([f"-dict={words}"] if words.is_file() else []),
                 f"-rss_limit_mb={RSS_LIMIT_MB}", "-timeout=10", "-print_final_stats=1"]
    atheris.Setup(libfuzzer, fuzz)
    atheris.Fuzz()


def _inherited_peak() -> bool:
    """Whether this process's recorded peak size is its parent's: above what it holds now
    (a fresh interpreter's peak is about its present size)."""
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open("/proc/self/statm") as statm:
        resident_kb = int(statm.read().split()[1]) * resource.getpagesize() // 1024
    return peak_kb > 2 * resident_kb + 64 * 1024


if __name__ == "__main__":
    main()
