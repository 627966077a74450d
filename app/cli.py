"""flask commands: tenants, users, demo data."""
from __future__ import annotations

import sys

import click
from flask import Flask
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import Account, Partner, Tenant
from app.services.tenants import create_tenant_with_admin, create_user
from app.tenancy import SYSTEM, Actor, all_tenants_unsafe, tenant_context


def _fail(exc: ValidationError) -> None:
    db.session.rollback()
    for field, message in exc.errors.items():
        click.echo(f"{field}: {message}" if field else message, err=True)
    sys.exit(1)


def _tenant(slug: str) -> Tenant:
    with all_tenants_unsafe("cli: tenant by slug"):
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        click.echo(f"Unknown tenant: {slug}", err=True)
        sys.exit(1)
    return tenant


def register_cli(app: Flask) -> None:
    @app.cli.group()
    def tenant() -> None:
        """Manage tenants."""

    @tenant.command("create")
    @click.argument("slug")
    @click.option("--name", required=True)
    @click.option("--admin-email", required=True)
    @click.option("--admin-password", required=True)
    def tenant_create(slug: str, name: str, admin_email: str, admin_password: str) -> None:
        """Create a tenant and its first admin."""
        try:
            created = create_tenant_with_admin(slug, name, admin_email, admin_password)
        except ValidationError as exc:
            _fail(exc)
        db.session.commit()
        click.echo(f"Tenant {created.slug} created; admin {admin_email}.")

    @tenant.command("export")
    @click.argument("slug")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
                  help="The ZIP to write (default: relais-SLUG-<date>.zip here)")
    def tenant_export(slug: str, output: str | None) -> None:
        """Write every record, file and audit event of a tenant to a ZIP with a manifest."""
        from app.services.tenant_export import export_file_name, export_tenant, record_export

        target = _tenant(slug)
        path = output or export_file_name(target)
        with tenant_context(target.id, Actor("cli", None, "cli:tenant export")):
            record_export(target)
            db.session.commit()
            with open(path, "wb") as out:
                for chunk in export_tenant(target):
                    out.write(chunk)
        click.echo(f"Tenant {slug} exported to {path}.")

    @tenant.command("delete")
    @click.argument("slug")
    @click.option("--yes", is_flag=True, help="Do not ask for the slug again")
    @click.option("--force", is_flag=True,
                  help="Delete even while imports run or webhook deliveries wait")
    def tenant_delete(slug: str, yes: bool, force: bool) -> None:
        """Delete a tenant for good: every row and file (export it first)."""
        from app.services.erasure import delete_tenant_rows, live_work, remove_files

        target = _tenant(slug)
        with tenant_context(target.id, SYSTEM):
            busy = live_work()
        if busy and not force:
            click.echo(f"Still under way for {slug}: "
                       + ", ".join(f"{n} {what}" for what, n in busy.items())
                       + ". Wait for them to end, or add --force.", err=True)
            sys.exit(1)
        if not yes:
            typed = click.prompt(f"This deletes {target.name} ({slug}) and all its data for "
                                 "good. Type the slug to confirm", default="", show_default=False)
            if typed != slug:
                click.echo("Nothing deleted.", err=True)
                sys.exit(1)
        with tenant_context(target.id, Actor("cli", None, "cli:tenant delete")):
            folders = delete_tenant_rows(target)
            db.session.commit()
        remove_files(folders)
        click.echo(f"Tenant {slug} deleted.")

    @app.cli.group()
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
        target = _tenant(slug)
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
                created = create_user(data)
            except ValidationError as exc:
                _fail(exc)
            db.session.commit()
        click.echo(f"User {created.email} ({role}) created in {slug}.")

    @app.cli.group()
    def token() -> None:
        """Manage API tokens."""

    @token.command("create")
    @click.option("--tenant", "slug", required=True)
    @click.option("--name", required=True)
    @click.option("--scopes", required=True, help="Comma-separated: read,write,import,export")
    @click.option("--partner", "partner_ref", help="external_ref of the partner it acts for")
    def token_create(slug: str, name: str, scopes: str, partner_ref: str | None) -> None:
        """Create an API token; its secret is printed once, never stored."""
        from app.services.tokens import create_token

        target = _tenant(slug)
        with tenant_context(target.id, Actor("cli", None, "cli:token create")):
            partner_id = None
            if partner_ref:
                partner_id = db.session.scalar(
                    select(Partner.id).where(Partner.external_ref == partner_ref))
                if partner_id is None:
                    click.echo(f"Unknown partner: {partner_ref}", err=True)
                    sys.exit(1)
            try:
                created, secret = create_token(name, scopes, partner_id)
            except ValidationError as exc:
                _fail(exc)
            db.session.commit()
            click.echo(f"Token {created.name} ({', '.join(created.scopes)}) created in {slug}"
                       f"{f' for partner {partner_ref}' if partner_ref else ''}. "
                       "Keep it now: it is shown only once.")
        click.echo(secret)

    @token.command("revoke")
    @click.option("--tenant", "slug", required=True)
    @click.argument("prefix")
    def token_revoke(slug: str, prefix: str) -> None:
        """Revoke the API token whose secret starts with PREFIX (its first 12 characters)."""
        from app.models import ApiToken
        from app.services.tokens import revoke_token

        target = _tenant(slug)
        with tenant_context(target.id, Actor("cli", None, "cli:token revoke")):
            found = db.session.scalars(select(ApiToken).where(
                ApiToken.prefix == prefix[:12], ApiToken.revoked_at.is_(None))).all()
            if len(found) != 1:
                click.echo(f"No single active token starts with {prefix}.", err=True)
                sys.exit(1)
            revoke_token(found[0])
            db.session.commit()
        click.echo(f"Token {found[0].name} ({found[0].prefix}…) revoked.")

    from app.jobs_cli import register_jobs_cli
    from importers.cli import register_feed_cli

    register_feed_cli(app)
    register_jobs_cli(app)

    @app.cli.group()
    def demo() -> None:
        """Demo data."""

    @demo.command("load")
    @click.option("--tenant", "slug", default="demo")
    def demo_load(slug: str) -> None:
        """Create a realistic French demo tenant (no-op when it exists)."""
        from app.demo import DEMO_LOGINS, load_demo

        created = load_demo(slug)
        db.session.commit()
        click.echo(f"Demo tenant {slug} {'loaded' if created else 'already present'}.")
        for role, email, password in DEMO_LOGINS:
            click.echo(f"  {role:<11} {email} / {password}")

    @app.cli.command("ensure-demo")
    def ensure_demo() -> None:
        """Load the demo tenant when the database has no tenant at all."""
        from app.demo import DEMO_LOGINS, load_demo

        with all_tenants_unsafe("cli: ensure-demo"):
            empty = db.session.scalar(select(Tenant.id).limit(1)) is None
        if empty:
            load_demo("demo")
            db.session.commit()
        click.echo(f"Relais demo logins (http://127.0.0.1:{app.config['PORT']}/demo/login):")
        for role, email, password in DEMO_LOGINS:
            click.echo(f"  {role:<11} {email} / {password}")
