"""A whole file in a feed account's folder becomes an import run; a finished run's results go
back to the account's outbox/.

`receive` runs on the SFTP session's thread, inside the client's rename (or marker) request:
the route picks the profile, the file moves to the run's keeping (no copy on the same
storage; its SHA-256 was computed during the upload), the run is committed and handed to the
job engine, and only then does the client hear that its rename succeeded. The run starts as
soon as a worker takes it: well under a second when one is free.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.mail import in_language
from app.models import FeedAccount, FeedArrival, ImportProfile, ImportRun, Tenant
from app.queries.feeds import previous_success
from app.services.feed_accounts import route_for
from app.services.feed_storage import write_outbox_file
from app.services.feeds import create_run_from_file
from app.tenancy import Actor, tenant_context
from app.web.transactions import transaction
from importers.row_messages import run_message

if TYPE_CHECKING:
    from importers.sftp.server import Sender

log = logging.getLogger(__name__)
UNSAFE = re.compile(r"[^\w.\-]+")


def _actor(sender: Sender) -> Actor:
    return Actor("sftp", sender.account_id, f"sftp:{sender.login}"[:254], None, sender.address)


def receive(
    app: Flask, sender: Sender, relative: str, path: Path, measured: tuple[str, int] | None
) -> FeedArrival:
    """Queue the import of a whole file; an unrouted or refused file stays where it is and
    is recorded for the health page."""
    from importers import jobs

    with app.app_context(), tenant_context(sender.tenant_id, _actor(sender)):
        try:
            size = path.stat().st_size
            account = db.session.scalar(
                select(FeedAccount).where(FeedAccount.id == sender.account_id)
            )
            profile = route_for(account, relative) if account is not None else False
            if profile is False:
                return _recorded(
                    sender,
                    relative,
                    size,
                    "unrouted",
                    _("No route of the account takes this file: it stays in the folder."),
                )
            if profile is None:
                return _recorded(
                    sender,
                    relative,
                    size,
                    "refused",
                    _("The route's import profile no longer exists."),
                )
            sha256, measured_size = measured if measured is not None else (None, None)
            if measured_size != size:
                sha256 = measured_size = None
            try:
                with transaction():
                    run = create_run_from_file(
                        profile,
                        path,
                        relative.rsplit("/", 1)[-1],
                        source="sftp",
                        sha256=sha256,
                        size=measured_size,
                    )
                    arrival = _add(sender, relative, size, "imported", None, run.id)
            except ValidationError as exc:
                return _recorded(sender, relative, size, "refused", "; ".join(exc.errors.values()))
            if run.is_finished:  # the same file as the last import: nothing to run
                write_results(run)
            else:
                jobs.queue_run(run)
            return arrival
        finally:
            db.session.remove()


def warm_up(app: Flask) -> None:
    """Pay, when the server starts, what the process's first arrival would pay before its run
    starts: the modules an arrival and a run import lazily, the job runner and the heartbeat,
    and the compilation of the statements that route a file, look for its earlier import and
    load its run, run here for a tenant that does not exist (they return nothing)."""
    from app.jobs import runner
    from importers import engine, errors_csv, jobs, readers, statistics  # noqa: F401
    from importers.heartbeat import watch

    runner(app)
    watch(app)
    with app.app_context(), tenant_context(0, Actor("sftp", None, "sftp:warm-up")):
        try:
            db.session.scalar(select(FeedAccount).where(FeedAccount.id == 0))
            db.session.scalar(select(ImportProfile).where(ImportProfile.id == 0))
            previous_success(ImportProfile(id=0), "")
            db.session.get(ImportRun, 0)
            db.session.scalar(select(FeedArrival).where(FeedArrival.run_id == 0))
        finally:
            db.session.remove()


def record(
    app: Flask, sender: Sender, relative: str, size: int, status: str, message: str
) -> FeedArrival:
    """Record what became of a file that did not go in (cut, refused)."""
    with app.app_context(), tenant_context(sender.tenant_id, _actor(sender)):
        try:
            return _recorded(sender, relative, size, status, message)
        finally:
            db.session.remove()


def _recorded(sender: Sender, relative: str, size: int, status: str, message: str) -> FeedArrival:
    with transaction():
        arrival = _add(sender, relative, size, status, message, None)
    log.warning("sftp %s: %s %s (%s)", sender.login, relative, status, message)
    return arrival


def _add(
    sender: Sender, relative: str, size: int, status: str, message: str | None, run_id: int | None
) -> FeedArrival:
    arrival = FeedArrival(
        account_id=sender.account_id,
        path=relative[-1024:],
        size=size,
        status=status,
        message=message,
        run_id=run_id,
    )
    db.session.add(arrival)
    db.session.flush()
    return arrival


# -- results, written back to the sender ------------------------------------------------------


def write_back(run_id: int, tenant_id: int) -> None:
    """After a run of a file that came by SFTP: its summary and errors into the outbox of
    the account that sent it (nothing for other runs)."""
    with tenant_context(tenant_id):
        run = db.session.get(ImportRun, run_id)
        if run is None or run.source != "sftp" or not run.is_finished:
            return
        write_results(run)


def write_results(run: ImportRun) -> list[Path]:
    """`<file>.run-<id>.json` (status, counts, message) and, when rows failed,
    `<file>.run-<id>.errors.csv` (the failing rows and why, in the tenant's language)."""
    from importers.errors_csv import stream_errors_csv

    arrival = db.session.scalar(select(FeedArrival).where(FeedArrival.run_id == run.id))
    if arrival is None:
        return []
    tenant = db.session.get(Tenant, run.tenant_id)
    stem = f"{UNSAFE.sub('_', run.file_name).strip('._') or 'file'}.run-{run.id}"
    with in_language(tenant.default_locale if tenant else "fr"):  # not the worker's
        message = run_message(run)
    summary = {
        "run": run.id,
        "file": arrival.path,
        "profile": run.profile.name if run.profile else None,
        "status": run.status,
        "dry_run": run.is_dry_run,
        "sha256": run.sha256,
        "size": run.file_size,
        "rows": run.rows_total,
        **run.counts,
        "message": message,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    written = [
        write_outbox_file(
            run.tenant_id,
            arrival.account_id,
            f"{stem}.json",
            [json.dumps(summary, ensure_ascii=False, indent=2).encode()],
        )
    ]
    if run.failed:
        with force_locale(tenant.default_locale if tenant else "fr"):
            written.append(
                write_outbox_file(
                    run.tenant_id,
                    arrival.account_id,
                    f"{stem}.errors.csv",
                    (chunk.encode("utf-8") for chunk in stream_errors_csv(run)),
                )
            )
    return written
