"""Benchmarks (not tests): a generated million-invoice tenant and measured page times.

`python -m bench` (or `make bench`): see bench/__main__.py for the options.
"""
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"  # gitignored
