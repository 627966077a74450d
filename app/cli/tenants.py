"""`flask tenant create|export|delete|anonymise`: a tenant's life, from its first admin to its
erasure, and the erasure of one person in it."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from app.cli import exit_invalid, tenant_or_exit
from app.errors import ValidationError
from app.tenancy import SYSTEM, Actor, tenant_context
from app.web.transactions import transaction


@click.group(cls=AppGroup)
def tenant() -> None:
    """Manage tenants."""


@tenant.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--admin-email", required=True)
@click.option("--admin-password", required=True)
def tenant_create(slug: str, name: str, admin_email: str, admin_password: str) -> None:
    """Create a tenant and its first admin."""
    from app.services.tenants import create_tenant_with_admin

    try:
        with transaction():
            created = create_tenant_with_admin(slug, name, admin_email, admin_password)
    except ValidationError as exc:
        exit_invalid(exc)
    click.echo(f"Tenant {created.slug} created; admin {admin_email}.")


@tenant.command("export")
@click.argument("slug")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="The ZIP to write (default: relais-SLUG-<date>.zip here)")
def tenant_export(slug: str, output: str | None) -> None:
    """Write every record, file and audit event of a tenant to a ZIP with a manifest."""
    from app.services.tenant_export import export_file_name, export_tenant, record_export

    target = tenant_or_exit(slug)
    path = Path(output or export_file_name(target))
    # Written aside and renamed when whole: a ZIP under its final name is a complete one, the
    # one a deletion may follow.
    partial = path.with_name(f".{path.name}.part")
    with tenant_context(target.id, Actor("cli", None, "cli:tenant export")):
        with transaction():
            record_export(target)
        try:
            with partial.open("wb") as out:
                for chunk in export_tenant(target):
                    out.write(chunk)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    click.echo(f"Tenant {slug} exported to {path}.")


@tenant.command("delete")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for the slug again")
@click.option("--force", is_flag=True,
              help="Delete even while imports run or webhook deliveries wait")
def tenant_delete(slug: str, yes: bool, force: bool) -> None:
    """Delete a tenant for good: every row and file (export it first). Run again for a tenant
    already deleted, it removes the files a stopped deletion left."""
    from app.services.erasure import (
        delete_tenant_rows,
        live_work,
        remove_deleted_tenant_files,
        was_deleted,
    )

    label = "cli:tenant delete"
    if was_deleted(slug):
        with transaction():
            remaining = remove_deleted_tenant_files(label, slug)
        _report_remaining(remaining)
        click.echo(f"Tenant {slug} was deleted already; no file of it is left.")
        return
    target = tenant_or_exit(slug)
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
    with tenant_context(target.id, Actor("cli", None, label)):
        with transaction():
            delete_tenant_rows(target)
    with transaction():
        remaining = remove_deleted_tenant_files(label, slug)
    _report_remaining(remaining)
    click.echo(f"Tenant {slug} deleted.")


def _report_remaining(remaining: dict[str, list]) -> None:
    if remaining:
        folders = ", ".join(str(path) for paths in remaining.values() for path in paths)
        click.echo(f"Could not remove {folders}: run the command again.", err=True)
        sys.exit(1)


@tenant.command("anonymise")
@click.argument("slug")
@click.option("--contact", "contact_id", type=int, help="Id of the contact to anonymise")
@click.option("--account", "account_id", type=int,
              help="Id of the account of a private customer without a login to anonymise")
@click.option("--subscriber", "email", help="E-mail of the subscriber to anonymise (his "
              "login, and his account when it is a person's)")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation")
def tenant_anonymise(slug: str, contact_id: int | None, account_id: int | None,
                     email: str | None, yes: bool) -> None:
    """Erase one person's personal data for good; the history is kept without it."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Account, Contact, Role
    from app.services.erasure import (
        anonymise_contact,
        anonymise_customer,
        anonymise_subscriber,
        remove_files,
    )
    from app.services.tenants import find_user_by_email

    if [contact_id, account_id, email].count(None) != 2:
        click.echo("Give one of --contact ID, --account ID or --subscriber EMAIL.", err=True)
        sys.exit(2)
    target = tenant_or_exit(slug)
    with tenant_context(target.id, Actor("cli", None, "cli:tenant anonymise")):
        if contact_id is not None:
            person = db.session.scalar(select(Contact).where(Contact.id == contact_id))
            label = f"contact #{contact_id}"
        elif account_id is not None:
            person = db.session.scalar(select(Account).where(Account.id == account_id))
            label = f"account #{account_id}"
        else:
            person = find_user_by_email(email)
            if person is not None and person.role != Role.SUBSCRIBER:
                person = None  # staff and agents leave through their admin, not erasure
            label = f"subscriber {email}"
        if person is None:
            click.echo(f"Unknown {label} in {slug}.", err=True)
            sys.exit(1)
        if not yes and not click.confirm(f"Erase the personal data of {label} for good?"):
            click.echo("Nothing erased.", err=True)
            sys.exit(1)
        try:
            with transaction():
                if isinstance(person, Contact):
                    files = anonymise_contact(person)
                elif isinstance(person, Account):
                    files = anonymise_customer(person)
                else:
                    files = anonymise_subscriber(person)
        except ValidationError as exc:
            exit_invalid(exc)
    remove_files(files)
    click.echo(f"Personal data of {label} erased; the history is kept without it.")
