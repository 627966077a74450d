"""Where feed accounts' files live: one folder per account under FEED_STORAGE_DIR (storage
every SFTP node shares), named by ids so that renaming an account moves nothing.

    <FEED_STORAGE_DIR>/<tenant id>/<account id>/     the account's folder: what its SFTP
                                                     login sees as "/", its inbox
    <FEED_STORAGE_DIR>/<tenant id>/<account id>/outbox/
                                                     written by Relais only (run results,
                                                     exports); the client reads and deletes

Other features write to an account's outbox through `write_outbox_file`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from flask import current_app

OUTBOX = "outbox"
# Names a client gives a file while sending it (WinSCP's own is .filepart): never imported
# as such, imported once renamed; and the marker that says "the file of this name is whole".
TEMPORARY_SUFFIXES = (".part", ".tmp", ".filepart")
MARKER_SUFFIX = ".done"


def storage_root() -> Path:
    return Path(current_app.config["FEED_STORAGE_DIR"])


def account_root(tenant_id: int, account_id: int) -> Path:
    """The account's folder (created when missing, with its outbox)."""
    root = storage_root() / str(tenant_id) / str(account_id)
    (root / OUTBOX).mkdir(parents=True, exist_ok=True)
    return root


def inbox(tenant_id: int, account_id: int) -> Path:
    """Where the account's files arrive: its folder, outbox/ aside."""
    return account_root(tenant_id, account_id)


def outbox(tenant_id: int, account_id: int) -> Path:
    return account_root(tenant_id, account_id) / OUTBOX


def is_temporary(name: str) -> bool:
    return name.lower().endswith(TEMPORARY_SUFFIXES)


def is_marker(name: str) -> bool:
    return name.lower().endswith(MARKER_SUFFIX)


def in_outbox(relative: str) -> bool:
    """Whether a path inside the account's folder ("a/b.csv") is the outbox or in it."""
    return relative.split("/", 1)[0] == OUTBOX


def write_outbox_file(tenant_id: int, account_id: int, name: str, chunks: Iterable[bytes]) -> Path:
    """Write a file into the account's outbox whole or not at all: written under a hidden
    temporary name, then renamed, so the client never fetches half a file."""
    if "/" in name or name.startswith(".") or not name:
        raise ValueError(f"not a plain file name: {name!r}")
    folder = outbox(tenant_id, account_id)
    target = folder / name
    partial = folder / f".{name}.{secrets.token_hex(4)}.part"
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def used_bytes(root: Path, *, skip: Path | None = None) -> int:
    """What the files of an account's folder weigh, its outbox aside (Relais writes there)."""
    total = 0
    for path in _files(root):
        if path == skip or path.relative_to(root).parts[0] == OUTBOX:
            continue
        try:
            total += path.lstat().st_size
        except OSError:
            continue
    return total


def _files(root: Path) -> Iterator[Path]:
    for folder, _dirs, names in os.walk(root):
        for name in names:
            yield Path(folder) / name
