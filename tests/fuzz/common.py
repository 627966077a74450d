"""What the fuzz targets share: a scratch folder, small reader limits, choice bytes, and an app
on an in-memory database for the parsers that read a tenant's settings.

Kept free of the code under test: each target module imports that code inside
atheris.instrument_imports(), which only instruments modules imported there for the first time.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

# Every input is written to a file (the readers take paths): in memory when the system has a
# tmpfs there, as writing to disk would cost more than the parsing.
_SHM = Path("/dev/shm")
# tests/test_fuzz.py names the folder (and removes it); a run by hand makes its own.
scratch = Path(os.environ.get("RELAIS_FUZZ_SCRATCH") or tempfile.mkdtemp(
    prefix="relais-fuzz-", dir=_SHM if _SHM.is_dir() else None))
_app_stack = ExitStack()


def pick(options: list[Any] | tuple[Any, ...], byte: int) -> Any:
    """One of `options`, chosen by a byte of the input (so that mutations move between them)."""
    return options[byte % len(options)]


def tenant_app() -> None:
    """An app on an in-memory SQLite database with one tenant bound, set up once a process; the
    tenant has a custom field of every type on accounts, so that profiles may map them."""
    if _app_stack._exit_callbacks:
        return
    from app import create_app
    from app.custom_fields import FIELD_TYPES
    from app.extensions import db
    from app.models import CustomField
    from app.services.tenants import create_tenant
    from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context

    application = create_app({"TESTING": True, "SECRET_KEY": "fuzz",
                              "SQLALCHEMY_DATABASE_URI": "sqlite://",
                              "FILES_DIR": str(scratch / "files"), "WEBHOOK_DISPATCH": False,
                              "IMPORT_WATCH": False})
    _app_stack.enter_context(application.app_context())
    db.create_all()
    with all_tenants_unsafe("fuzzing set-up"):
        tenant = create_tenant("fuzz", "Fuzz")
        db.session.commit()
    _app_stack.enter_context(tenant_context(tenant.id, SYSTEM))
    for position, field_type in enumerate(sorted(FIELD_TYPES)):
        db.session.add(CustomField(
            entity="accounts", key=field_type, label_fr=field_type, label_en=field_type,
            type=field_type, position=position,
            choices=["Or", "Argent", "Bronze"] if "choice" in field_type else []))
    db.session.commit()
