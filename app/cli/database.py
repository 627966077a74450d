"""`flask db …` (`flask db upgrade`): Flask-Migrate's commands, imported when one runs.

Flask-Migrate imports Alembic, which no other command needs and which would cost a tenth of
every command's start-up (the nightly `flask feed import` first): `flask --help` lists the
group by its name and help alone, and Flask-Migrate's own group parses and runs the command.
"""
from __future__ import annotations

from typing import Any

import click
from flask import Flask

from app.extensions import migrations


class DatabaseGroup(click.Group):
    """Stands for Flask-Migrate's `db` group until it is called."""

    def __init__(self, app: Flask) -> None:
        super().__init__("db", help="Perform database migrations.")  # Flask-Migrate's words
        self.app = app

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        from flask_migrate.cli import db as migration_commands

        migrations(self.app)  # binds Flask-Migrate, whose commands read its settings
        return migration_commands.make_context(info_name, args, parent=parent, **extra)
