"""python -m tests.fuzz TARGET [--seconds N] [--runs N]: fuzz one target with atheris.

New inputs go to a scratch folder, never into the committed seed corpus
(tests/fuzz/corpus/TARGET/); a crash leaves its input as crash-* in --artifacts.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz")
    parser.add_argument("target")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=-1)
    parser.add_argument("--artifacts", default=tempfile.gettempdir())
    args = parser.parse_args()

    import atheris

    from tests.fuzz.targets import TARGETS

    if args.target not in TARGETS:
        sys.exit(f"unknown target {args.target}; known: {', '.join(TARGETS)}")
    scratch = tempfile.mkdtemp(prefix=f"relais-fuzz-{args.target}-")
    seeds = CORPUS / args.target
    libfuzzer = [sys.argv[0], scratch, *([str(seeds)] if seeds.is_dir() else []),
                 f"-max_total_time={args.seconds}", f"-runs={args.runs}",
                 f"-artifact_prefix={Path(args.artifacts)}/crash-{args.target}-",
                 "-rss_limit_mb=1024", "-timeout=10", "-print_final_stats=1"]
    atheris.Setup(libfuzzer, TARGETS[args.target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
