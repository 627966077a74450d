"""`flask user create`: a user of a tenant, of any role."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.cli import exit_invalid, tenant_or_exit
from app.errors import ValidationError
from app.extensions import db
from app.models import Account, Partner
from app.tenancy import SYSTEM, tenant_context
from app.web.transactions import transaction


@click.group(cls=AppGroup)
def user() -> None:
    """Manage users."""


@user.command("create")
@click.option("--tenant", "slug", required=True)
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", type=click.Choice(["admin", "sales", "agent", "subscriber"]),
              required=True)
@click.option("--partner", "partner_ref", help="external_ref of the agent's partner")
@click.option("--account", "account_ref", help="external_ref of the subscriber's account")
@click.option("--name", "full_name", default="")
def user_create(slug: str, email: str, password: str, role: str, partner_ref: str | None,
                account_ref: str | None, full_name: str) -> None:
    """Create a user of a tenant."""
    from app.services.tenants import create_user

    target = tenant_or_exit(slug)
    with tenant_context(target.id, SYSTEM):
        data = {"email": email, "password": password, "role": role, "full_name": full_name}
        for ref, model, key in ((partner_ref, Partner, "partner_id"),
                                (account_ref, Account, "account_id")):
            if ref:
                found = db.session.scalar(select(model.id).where(model.external_ref == ref))
                if found is None:
                    click.echo(f"Unknown {model.__tablename__[:-1]}: {ref}", err=True)
                    sys.exit(1)
                data[key] = found
        try:
            with transaction():
                created = create_user(data)
        except ValidationError as exc:
            exit_invalid(exc)
    click.echo(f"User {created.email} ({role}) created in {slug}.")
