"""Export fixtures: a definition factory and a run executed in the test's process."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from app.extensions import db
from app.models import Export, ExportRun
from app.services.exports import create_export, start_run
from importers.export_runs import run_export


@pytest.fixture
def make_export(tenant) -> Callable[..., Export]:
    numbers = itertools.count(1)

    def make(**over: Any) -> Export:
        data = {
            "name": f"export-made-{next(numbers)}",
            "entity": "invoices",
            "columns": ["number", "issued_on", "account", "total"],
            "format": "csv_utf8",
            "destination": "download",
            **over,
        }
        export = create_export(data)
        db.session.commit()
        return export

    return make


@pytest.fixture
def run_now(tenant) -> Callable[[Export], ExportRun]:
    """Run the export now, in this process, as the job would."""

    def run(export: Export, trigger: str = "manual") -> ExportRun:
        queued = start_run(export, trigger)
        db.session.commit()
        done = run_export(queued.id, tenant.id)
        db.session.expire_all()
        return done

    return run


from tests.exports.servers import https_server, sshd  # noqa: E402, F401  (fixtures)
from tests.importers.conftest import (  # noqa: E402, F401  (fixtures)
    make_feed_account,
    make_profile,
    sftp_server,  # Relais's SFTP inbox; the tenant's own server is remote_sftp
)
from tests.jobs.conftest import broker, redis_url, spawn  # noqa: E402, F401  (fixtures)
from tests.webhooks.conftest import inbox  # noqa: E402, F401  (fixture)
