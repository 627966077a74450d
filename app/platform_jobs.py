"""Job bodies of the platform's own upkeep, outside any tenant."""
from __future__ import annotations

import logging

from app.services.erasure import remove_deleted_tenant_files
from app.web.transactions import transaction

log = logging.getLogger(__name__)


def remove_deleted_tenants_files() -> None:
    """The `remove_deleted_tenants_files` job: the folders a stopped tenant deletion left."""
    with transaction():
        remaining = remove_deleted_tenant_files("job:remove_deleted_tenants_files")
    for slug, folders in remaining.items():
        log.warning("files of deleted tenant %s could not be removed: %s", slug,
                    ", ".join(map(str, folders)))
