"""`flask sftp serve` (the SFTP inbox) and `flask feed account create|list|disable|enable`."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.cli import exit_invalid, tenant_or_exit
from app.errors import ValidationError
from app.extensions import db
from app.models import FeedAccount
from app.tenancy import Actor, tenant_context
from app.web.transactions import transaction


@click.group(cls=AppGroup)
def sftp() -> None:
    """The SFTP inbox of feed accounts."""


@sftp.command("serve")
@click.option("--host", default=None, help="Address to listen on (default SFTP_HOST).")
@click.option("--port", type=int, default=None, help="Port (default SFTP_PORT, 2222).")
def sftp_serve(host: str | None, port: int | None) -> None:
    """Serve every tenant's feed accounts over SFTP until stopped."""
    from importers.sftp.server import SFTPService

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    service = SFTPService(app, host, port)
    bound = service.bind()
    click.echo(
        f"SFTP inbox on {service.host}:{bound} (host key "
        f"{service.host_key.get_name()} {service.host_key.fingerprint})."
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: service.stop())
    serving = threading.Thread(target=service.serve_forever, name="sftp-listener")
    serving.start()
    while serving.is_alive():
        serving.join(1.0)


@click.group(cls=AppGroup)
def account() -> None:
    """Feed accounts: the SFTP logins of a tenant."""


@account.command("create")
@click.option("--tenant", "slug", required=True)
@click.option("--name", required=True, help="The login is <tenant>.<name>.")
@click.option("--password", default=None, help="Password (or --public-key, or both).")
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An OpenSSH public key file (.pub); repeatable.",
)
@click.option(
    "--route",
    "routes",
    multiple=True,
    required=True,
    help="PATTERN=PROFILE, e.g. 'clients/*.csv=clients-nuit'; repeatable, first match wins.",
)
def account_create(
    slug: str,
    name: str,
    password: str | None,
    public_keys: tuple[Path, ...],
    routes: tuple[str, ...],
) -> None:
    """Create a feed account of a tenant."""
    from app.services.feed_accounts import create_account, login_name

    target = tenant_or_exit(slug)
    with tenant_context(target.id, Actor("cli", None, "cli:feed account create")):
        keys = [line for path in public_keys for line in path.read_text().splitlines()]
        try:
            with transaction():
                created = create_account(
                    {
                        "name": name,
                        "password": password or "",
                        "public_keys": keys,
                        "routes": "\n".join(routes),
                    }
                )
        except ValidationError as exc:
            exit_invalid(exc)
        click.echo(
            f"Feed account {login_name(target.slug, created)} created "
            f"({len(created.public_keys)} key(s), {len(created.routes)} route(s))."
        )


@account.command("list")
@click.option("--tenant", "slug", required=True)
def account_list(slug: str) -> None:
    """List a tenant's feed accounts."""
    target = tenant_or_exit(slug)
    with tenant_context(target.id, Actor("cli", None, "cli:feed account list")):
        for found in db.session.scalars(select(FeedAccount).order_by(FeedAccount.name)):
            state = "active" if found.is_active else "disabled"
            routes = ", ".join(r["pattern"] for r in found.routes or ())
            click.echo(f"{target.slug}.{found.name}\t{state}\t{routes}")


@account.command("disable")
@click.option("--tenant", "slug", required=True)
@click.argument("name")
def account_disable(slug: str, name: str) -> None:
    """Disable a feed account: its logins are refused from now on."""
    _set_active(slug, name, False)


@account.command("enable")
@click.option("--tenant", "slug", required=True)
@click.argument("name")
def account_enable(slug: str, name: str) -> None:
    """Enable a disabled feed account."""
    _set_active(slug, name, True)


def _set_active(slug: str, name: str, active: bool) -> None:
    from app.services.feed_accounts import set_active

    target = tenant_or_exit(slug)
    with tenant_context(target.id, Actor("cli", None, "cli:feed account")):
        found = db.session.scalar(select(FeedAccount).where(FeedAccount.name == name.lower()))
        if found is None:
            click.echo(f"Unknown feed account: {name}", err=True)
            sys.exit(1)
        with transaction():
            set_active(found, active)
    click.echo(f"Feed account {slug}.{found.name} {'enabled' if active else 'disabled'}.")
