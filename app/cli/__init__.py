"""`flask` commands, one module per area; `register_cli` adds them all to the app."""
from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask import Flask
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import Tenant


def register_cli(app: Flask) -> None:
    from app.cli import database, demo, exports, jobs, tenants, tokens, users
    from importers.cli import register_feed_cli
    from importers.sftp.cli import sftp

    for command in (database.DatabaseGroup(app), tenants.tenant, users.user, tokens.token,
                    demo.demo, demo.ensure_demo, jobs.worker, jobs.run_scheduler,
                    exports.export, sftp):
        app.cli.add_command(command)
    register_feed_cli(app)


def exit_invalid(exc: ValidationError) -> NoReturn:
    """Print a service's validation errors (its transaction() rolled back), one a line, and
    exit 1."""
    for field, message in exc.errors.items():
        click.echo(f"{field}: {message}" if field else message, err=True)
    sys.exit(1)


def tenant_or_exit(slug: str) -> Tenant:
    """The tenant of SLUG; exit 1 when there is none."""
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        click.echo(f"Unknown tenant: {slug}", err=True)
        sys.exit(1)
    return tenant
