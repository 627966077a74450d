"""`flask export run NAME --tenant SLUG`: run an export now, in this process."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.cli import exit_invalid, tenant_or_exit
from app.errors import ValidationError
from app.extensions import db
from app.models import Export
from app.services.exports import start_run
from app.tenancy import Actor, tenant_context
from app.web.transactions import transaction
from importers.export_runs import run_export

export = AppGroup("export", help="Scheduled exports: run one now.")


@export.command("run")
@click.argument("name")
@click.option("--tenant", "slug", required=True)
def export_run(name: str, slug: str) -> None:
    """Run the export NAME now (its schedule is unchanged); exits 1 when it failed."""
    tenant = tenant_or_exit(slug)
    with tenant_context(tenant.id, Actor("cli", None, f"cli:export {name}")):
        found = db.session.scalar(select(Export).where(Export.name == name))
        if found is None:
            click.echo(f"Unknown export: {name}", err=True)
            sys.exit(1)
        try:
            with transaction():
                run = start_run(found, "cli")
        except ValidationError as exc:
            exit_invalid(exc)
        run_id = run.id
    run = run_export(run_id, tenant.id)
    click.echo(
        f"Run #{run.id}: {run.status}, {run.rows} rows, {run.file_name} "
        f"({run.file_size or 0} bytes) → {run.delivered_to or '-'}"
    )
    if run.message:
        click.echo(run.message, err=run.status == "failed")
    sys.exit(0 if run.status == "succeeded" else 1)
