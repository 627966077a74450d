"""`flask feed import FILE --tenant SLUG --profile NAME [--dry-run] [--force]`."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask_babel import force_locale
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import ImportRun, Tenant
from app.queries.feeds import find_profile
from app.services.feeds import create_run
from app.tenancy import Actor, tenant_context
from app.web.transactions import transaction
from importers import recovery, runs
from importers.errors_csv import stream_errors_csv
from importers.row_messages import run_message


def register_feed_cli(app: Flask) -> None:
    from importers.sftp.cli import account

    @app.cli.group()
    def feed() -> None:
        """Feeds: import files through a tenant's import profiles."""

    feed.add_command(account)

    @feed.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--tenant", "slug", required=True)
    @click.option("--profile", "profile_name", required=True)
    @click.option("--dry-run", is_flag=True, help="Compute everything, write nothing.")
    @click.option("--force", is_flag=True, help="Import even a file already imported.")
    def feed_import(file: Path, slug: str, profile_name: str, dry_run: bool,
                    force: bool) -> None:
        """Import FILE; exits 1 when rows failed, 2 when the run could not run."""
        recovery.recover(current_app)
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            click.echo(f"Unknown tenant: {slug}", err=True)
            sys.exit(2)
        with tenant_context(tenant.id, Actor("cli", None, f"cli:{file.name}")):
            run = _create(file, profile_name, dry_run, force)
            click.echo(f"Run #{run.id}: {run.file_name} ({run.file_size} bytes, "
                       f"sha256 {run.sha256[:12]}…) with profile {run.profile.name} "
                       f"v{run.profile_version}{' (dry run)' if dry_run else ''}")
            if run.is_finished:
                click.echo(run_message(run) or run.status)
                sys.exit(0)
            if runs.holder(run) not in (None, run.id):
                click.echo("Another run of this profile is in progress; this one waits.",
                           err=True)
            with click.progressbar(length=max(run.file_size, 1), label="Importing",
                                   file=sys.stderr) as bar:
                done = {"bytes": 0}

                def progress(current: ImportRun) -> None:
                    estimate = current.rows_total or current.rows_done or 1
                    target = int(current.file_size * min(current.rows_done / estimate, 1))
                    bar.update(max(target - done["bytes"], 0))
                    done["bytes"] = max(target, done["bytes"])

                run = runs.run_import(run.id, tenant.id, max_wait=None, progress=progress)
                bar.update(max(run.file_size - done["bytes"], 0))
            with force_locale(tenant.default_locale or "fr"):  # the errors file's language
                _report(run)

    def _create(file: Path, profile_name: str, dry_run: bool, force: bool) -> ImportRun:
        profile = find_profile(profile_name)
        if profile is None:
            click.echo(f"Unknown profile: {profile_name}", err=True)
            sys.exit(2)
        try:
            with file.open("rb") as stream, transaction():
                run = create_run(profile, stream, file.name, source="cli", dry_run=dry_run,
                                 force=force)
        except ValidationError as exc:
            click.echo("; ".join(exc.errors.values()), err=True)
            sys.exit(2)
        return run

    def _report(run: ImportRun) -> None:
        counts = ", ".join(f"{k} {v}" for k, v in run.counts.items())
        click.echo(f"Run #{run.id} {run.status}: {counts}")
        if run.message:
            click.echo(run_message(run), err=True)
        if run.failed:
            path = Path(current_app.instance_path) / "import-errors" / f"run-{run.id}-errors.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8", newline="") as out:
                for chunk in stream_errors_csv(run):
                    out.write(chunk)
            click.echo(f"Errors: {path}", err=True)
        # A run whose every row failed did run: 1 as for some rows; 2 when it could not run.
        sys.exit(0 if run.status == "succeeded" else 1 if run.failed else 2)
