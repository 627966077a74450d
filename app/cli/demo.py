"""`flask demo load` and `flask ensure-demo`: the French demo tenant."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.models import Tenant
from app.web.transactions import transaction


@click.group(cls=AppGroup)
def demo() -> None:
    """Demo data."""


@demo.command("load")
@click.option("--tenant", "slug", default="demo")
def demo_load(slug: str) -> None:
    """Create a realistic French demo tenant (no-op when it exists)."""
    from app.demo import DEMO_LOGINS, load_demo

    with transaction():
        created = load_demo(slug)
    click.echo(f"Demo tenant {slug} {'loaded' if created else 'already present'}.")
    for role, email, password in DEMO_LOGINS:
        click.echo(f"  {role:<11} {email} / {password}")


@click.command("ensure-demo")
@with_appcontext
def ensure_demo() -> None:
    """Load the demo tenant when the database has no tenant at all."""
    from app.demo import DEMO_LOGINS, load_demo

    empty = db.session.scalar(select(Tenant.id).limit(1)) is None
    if empty:
        with transaction():
            load_demo("demo")
    click.echo(f"Relais demo logins (http://127.0.0.1:{current_app.config['PORT']}/demo/login):")
    for role, email, password in DEMO_LOGINS:
        click.echo(f"  {role:<11} {email} / {password}")
