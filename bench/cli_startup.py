"""How long `flask --help` takes: what the nightly `flask feed import` and every operator's
command pay before doing anything, against a bare `python -c pass` timed in the same run.

Each is started as a fresh process from the repository root (FLASK_APP=wsgi.py, as an operator
types it), alternately, `runs` times; the figures are the median and the best wall-clock time,
and the median CPU time (user + system), which other processes on the machine inflate less.
The target is a `flask --help` under one second on a quiet machine.

An installed app reads its modules' bytecode, written by Python at their first import: so do the
timed runs (after an untimed one, the bytecode kept under bench/results/pycache, whatever
PYTHONDONTWRITEBYTECODE says). `flask --help, compiling` is also timed with every module of
the repository compiled at each start, as when PYTHONDONTWRITEBYTECODE is set (this machine's
shell sets it) or the source tree is read-only.
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import RESULTS_DIR

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0
FLASK_HELP = [sys.executable, "-m", "flask", "--help"]
# name: (command, whether it reads bytecode written by an earlier run)
COMMANDS = {
    "python -c pass": ([sys.executable, "-c", "pass"], True),
    "flask --help": (FLASK_HELP, True),
    "flask --help, compiling": (FLASK_HELP, False),
}


def _env(bytecode: bool) -> dict[str, str]:
    env = {**os.environ, "FLASK_APP": "wsgi.py"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(RESULTS_DIR / "pycache")  # outside the source tree
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _time(command: list[str], bytecode: bool) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of one run of the command."""
    env = _env(bytecode)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_suite(runs: int = 5) -> dict[str, Any]:
    """Time each command `runs` times, alternately (after one untimed run of each)."""
    for command, bytecode in COMMANDS.values():
        _time(command, bytecode)  # warm the file cache and write the bytecode
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, (command, bytecode) in COMMANDS.items():
            times[name].append(_time(command, bytecode))
    result: dict[str, Any] = {"runs": runs, "target_s": TARGET_S, "load_average":
                              os.getloadavg()[0], "cpus": os.cpu_count(), "commands": {}}
    print(f"\nCLI start-up, {runs} runs each (load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs)")
    for name, values in times.items():
        walls, cpus = [w for w, _c in values], [c for _w, c in values]
        median, best, cpu = statistics.median(walls), min(walls), statistics.median(cpus)
        result["commands"][name] = {"median_s": round(median, 3), "best_s": round(best, 3),
                                    "median_cpu_s": round(cpu, 3)}
        print(f"  {name:<23} median {median:6.2f} s   best {best:6.2f} s   CPU {cpu:6.2f} s")
    flask, python = result["commands"]["flask --help"], result["commands"]["python -c pass"]
    result["flask_minus_python_s"] = round(flask["median_s"] - python["median_s"], 3)
    result["meets_target"] = flask["median_s"] < TARGET_S
    print(f"  flask --help costs {result['flask_minus_python_s']:.2f} s more than python alone "
          f"(target: under {TARGET_S:.0f} s in all)")
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print("  note: other processes compete for the CPU; these figures are inflated")
    return result
