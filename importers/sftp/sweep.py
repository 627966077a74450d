"""The `sweep_feed_inboxes` job: removes what a cut upload left (recorded `incomplete`) and
temporary files (`.part`, `.tmp`, `.filepart`) nobody renamed, once they are older than
FEED_INCOMPLETE_MAX_AGE_HOURS and untouched since: a client resuming an upload keeps it."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import FeedArrival
from app.services.feed_storage import OUTBOX, account_root, is_temporary, storage_root
from app.tenancy import all_tenants_unsafe
from app.web.transactions import transaction

log = logging.getLogger(__name__)


def sweep_inboxes() -> int:
    """Remove the stale leftovers of every account; returns how many files went."""
    max_age = float(current_app.config["FEED_INCOMPLETE_MAX_AGE_HOURS"]) * 3600
    oldest = time.time() - max_age
    removed = 0
    with all_tenants_unsafe("sftp inbox sweep"), transaction():
        cut = db.session.scalars(
            select(FeedArrival).where(
                FeedArrival.status == "incomplete",
                FeedArrival.created_at < datetime.now(UTC) - timedelta(seconds=max_age),
            )
        )
        for arrival in cut:
            path = account_root(arrival.tenant_id, arrival.account_id) / arrival.path
            if _stale(path, oldest):
                path.unlink(missing_ok=True)
                removed += 1
            arrival.status = "removed"
    root = storage_root()
    for folder, _dirs, names in os.walk(root) if root.is_dir() else ():
        for name in names:
            path = Path(folder) / name
            leftover = is_temporary(name) or (name.startswith(".") and OUTBOX in path.parts)
            if leftover and _stale(path, oldest):
                path.unlink(missing_ok=True)
                removed += 1
    if removed:
        log.info("sftp inbox sweep: %d file(s) removed", removed)
    return removed


def _stale(path: Path, oldest: float) -> bool:
    try:
        info = path.lstat()
    except OSError:
        return False
    return info.st_mtime < oldest
