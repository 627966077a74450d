"""`flask token create|revoke`: the API tokens of a tenant."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.cli import exit_invalid, tenant_or_exit
from app.errors import ValidationError
from app.extensions import db
from app.models import ApiToken, Partner
from app.tenancy import Actor, tenant_context
from app.web.transactions import transaction


@click.group(cls=AppGroup)
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.option("--tenant", "slug", required=True)
@click.option("--name", required=True)
@click.option("--scopes", required=True, help="Comma-separated: read,write,import,export,admin")
@click.option("--partner", "partner_ref", help="external_ref of the partner it acts for")
def token_create(slug: str, name: str, scopes: str, partner_ref: str | None) -> None:
    """Create an API token; its secret is printed once, never stored."""
    from app.services.tokens import create_token

    target = tenant_or_exit(slug)
    with tenant_context(target.id, Actor("cli", None, "cli:token create")):
        partner_id = None
        if partner_ref:
            partner_id = db.session.scalar(
                select(Partner.id).where(Partner.external_ref == partner_ref))
            if partner_id is None:
                click.echo(f"Unknown partner: {partner_ref}", err=True)
                sys.exit(1)
        try:
            with transaction():
                created, secret = create_token(name, scopes, partner_id)
        except ValidationError as exc:
            exit_invalid(exc)
        click.echo(f"Token {created.name} ({', '.join(created.scopes)}) created in {slug}"
                   f"{f' for partner {partner_ref}' if partner_ref else ''}. "
                   "Keep it now: it is shown only once.")
    click.echo(secret)


@token.command("revoke")
@click.option("--tenant", "slug", required=True)
@click.argument("prefix")
def token_revoke(slug: str, prefix: str) -> None:
    """Revoke the API token whose secret starts with PREFIX (its first 12 characters)."""
    from app.services.tokens import revoke_token

    target = tenant_or_exit(slug)
    with tenant_context(target.id, Actor("cli", None, "cli:token revoke")):
        found = db.session.scalars(select(ApiToken).where(
            ApiToken.prefix == prefix[:12], ApiToken.revoked_at.is_(None))).all()
        if len(found) != 1:
            click.echo(f"No single active token starts with {prefix}.", err=True)
            sys.exit(1)
        with transaction():
            revoke_token(found[0])
    click.echo(f"Token {found[0].name} ({found[0].prefix}…) revoked.")
