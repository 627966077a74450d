"""`flask worker` and `flask scheduler`: the job engine's processes (docs/operations.md)."""
from __future__ import annotations

import os
import signal
import sys
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from app import jobs, scheduler


@click.command("worker")
@click.option("--queues", default=",".join(jobs.QUEUES), show_default=True,
              help="The queues this worker takes jobs from, by priority.")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--nice", type=click.IntRange(0, 19), default=None,
              help="Lower this process's CPU priority by this much (default: "
                   "JOBS_WORKER_NICE, 10), so that pages served on the same machine come "
                   "first.")
@with_appcontext
def worker(queues: str, burst: bool, nice: int | None) -> None:
    """Run the jobs queued on JOBS_BROKER_URL (imports, webhook deliveries), one at a
    time; start several for more at once."""
    from rq import SimpleWorker

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not jobs.uses_broker(app):
        click.echo("JOBS_BROKER_URL is not set: jobs run inside the web processes.",
                   err=True)
        sys.exit(2)
    _lower_priority(app.config["JOBS_WORKER_NICE"] if nice is None else nice)
    runner = jobs.runner(app)
    names = [name.strip() for name in queues.split(",") if name.strip()]
    # In this process, so that a job has the app's configuration and database engine
    # (no fork per job); the process's heartbeat thread beats for the run it executes.
    SimpleWorker([runner.queue(name) for name in names],
                 connection=runner.connection).work(burst=burst, logging_level="INFO")


def _lower_priority(increment: int) -> None:
    """Imports are throughput work: the pages' requests (and their database work on SQLite,
    in the web processes) get the CPU before them. PostgreSQL's own backend process for the
    worker's connection keeps its priority."""
    if increment <= 0 or not hasattr(os, "nice"):
        return
    try:
        niceness = os.nice(increment)
    except OSError as exc:  # a container may refuse it: run at normal priority
        click.echo(f"Could not lower the worker's CPU priority: {exc}", err=True)
        return
    _lower_session_priority(niceness)


def _lower_session_priority(niceness: int) -> None:
    """Where Linux shares the CPU between sessions first (autogroup: a desktop kernel's
    default, and any process started with setsid, as systemd and supervisors do), a process's
    nice value only ranks it within its own session: a worker leading its own session would
    still get as much CPU as gunicorn's whole session. So the worker's session, when it leads
    one (nobody else's processes are in it), gets the same nice value."""
    if os.getsid(0) != os.getpid():
        return
    try:
        with open("/proc/self/autogroup", "w") as autogroup:
            autogroup.write(str(niceness))
    except OSError:  # no autogroup (another OS, or CPU shares set by cgroups): nothing to do
        pass


@click.command("scheduler")
@with_appcontext
def run_scheduler() -> None:
    """Fire the periodic jobs (run recovery, webhook retries) when this process holds
    the scheduler lease; runs until stopped."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    running = scheduler.start(app)
    if running is None:
        click.echo("No periodic job is enabled.", err=True)
        sys.exit(2)
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stopped.set())
    click.echo(f"Scheduler {running.election.me} started.")
    while not stopped.wait(1.0):
        pass
    scheduler.stop(app)
