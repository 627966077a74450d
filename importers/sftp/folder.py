"""What an SFTP login sees: its account's folder as "/", and nothing else.

Every path the client sends is read from that root: `..` may climb back up inside the
folder but never above it (refused), a symbolic link is never followed, made nor read, and
outbox/ is read-only (Relais writes there). An upload is cut with a clear message at the
account's file size limit or quota (the partial file is removed).

When is a file whole? Only when the client says so, after its last write:
- it renames the file, uploaded under another name (`x.csv.part`, `x.csv.tmp`, WinSCP's
  `x.csv.filepart`), to its final name: the rename is the arrival;
- or it sends `x.csv.done` (any content) after `x.csv`: the marker is the arrival.
A file written under its final name and closed waits for its marker. A close alone proves
nothing: paramiko closes every open handle when the connection drops, and clients close a
handle they stop writing to (OpenSSH's sftp on ^C). A handle still open when the session
ends is a cut upload: recorded as such for the health page, removed later by the sweep.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paramiko
from flask_babel import force_locale
from flask_babel import gettext as _
from paramiko.sftp import SFTP_FAILURE, SFTP_OK, SFTP_OP_UNSUPPORTED, SFTP_PERMISSION_DENIED

from app.services import feed_storage
from importers.sftp import arrivals
from importers.sftp.server import FeedLogin, Sender

log = logging.getLogger(__name__)
MB = 1024 * 1024
# A whole file's SHA-256 and size, measured as it was uploaded, kept on the file itself (an
# extended attribute follows it through renames, and to another session or node): its
# arrival then needs no second read. Where the storage has none, the arrival reads the file.
MEASURE_ATTRIBUTE = "user.relais.sha256"


def keep_measure(path: Path, measured: tuple[str, int]) -> None:
    try:
        os.setxattr(path, MEASURE_ATTRIBUTE, f"{measured[0]}:{measured[1]}".encode())
    except OSError:  # no extended attributes there: the arrival hashes the file
        pass


def kept_measure(path: Path) -> tuple[str, int] | None:
    try:
        sha256, _sep, size = os.getxattr(path, MEASURE_ATTRIBUTE).decode().partition(":")
        return sha256, int(size)
    except (OSError, ValueError):
        return None


def forget_measure(path: Path) -> None:
    try:
        os.removexattr(path, MEASURE_ATTRIBUTE)
    except OSError:
        pass


class Refusal(int):
    """An SFTP status code that carries the message the client is shown."""

    message: str

    def __new__(cls, code: int, message: str) -> Refusal:
        refusal = super().__new__(cls, code)
        refusal.message = message
        return refusal


class Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def _denied(message: str) -> Refused:
    return Refused(Refusal(SFTP_PERMISSION_DENIED, message))


class FeedSFTPServer(paramiko.SFTPServer):
    """paramiko's SFTP server, sending a refusal's own message instead of the code's
    generic text ("Failure"), in the tenant's language."""

    def _send_status(self, request_number: int, code: int, desc: str | None = None) -> None:
        if desc is None and isinstance(code, Refusal):
            desc = code.message
        super()._send_status(request_number, code, desc)

    # The session's thread holds one app context in the tenant's language from start to end
    # (entered once: per request, it cost a tenth of the upload's time).
    def start_subsystem(self, name: str, transport: Any, channel: Any) -> None:
        with self._in_tenant_language():
            super().start_subsystem(name, transport, channel)

    def finish_subsystem(self) -> None:
        with self._in_tenant_language():
            super().finish_subsystem()

    @contextmanager
    def _in_tenant_language(self) -> Iterator[None]:
        folder = self.server
        with folder.app.app_context(), force_locale(folder.sender.locale):
            yield


class FeedFile(paramiko.SFTPHandle):
    """An open file of the account; a written one is measured and hashed as it comes."""

    def __init__(
        self,
        folder: FeedFolder,
        relative: str,
        path: Path,
        flags: int,
        writing: bool,
        used_elsewhere: int,
    ) -> None:
        super().__init__(flags)
        self.folder, self.relative, self.path, self.writing = folder, relative, path, writing
        self.used_elsewhere = used_elsewhere
        self.size = 0
        self.written = False
        self.refused: str | None = None
        self.digest = hashlib.sha256()
        self.hashed = 0  # bytes hashed so far: writes in order are hashed as they come

    def write(self, offset: int, data: bytes) -> int:
        sender = self.folder.sender
        end = offset + len(data)
        if self.refused:
            return Refusal(SFTP_FAILURE, self.refused)
        if end > sender.max_file_bytes:
            return self._refuse(
                _(
                    "File too large: this account accepts files of at most %(size)s.",
                    size=_size(sender.max_file_bytes),
                )
            )
        if self.used_elsewhere + max(self.size, end) > sender.quota_bytes:
            return self._refuse(_quota_exceeded(sender.quota_bytes))
        if offset == self.hashed:
            self.digest.update(data)
            self.hashed = end
        elif offset < self.hashed:
            self.hashed = -1  # rewritten: hashed again when it arrives
        result = super().write(offset, data)
        if result == SFTP_OK:
            self.written = True
            self.size = max(self.size, end)
        return result

    def _refuse(self, message: str) -> Refusal:
        self.refused = message
        return Refusal(SFTP_FAILURE, message)

    def measured(self) -> tuple[str, int] | None:
        """(SHA-256, size) when every byte was hashed in order."""
        if self.hashed != self.size or self.hashed < 0:
            return None
        return self.digest.hexdigest(), self.size

    def close(self) -> None:
        if self.writing and self.written and not self.refused and not self.folder.ending:
            # On disk before the client hears "closed": the file is safe once acknowledged,
            # and its arrival (the rename, then a commit's fsync) does not pay for flushing
            # it (ext4's ordered journal would, at the commit: most of a second for 200 MB).
            try:
                self.writefile.flush()
                os.fsync(self.writefile.fileno())
            except (OSError, ValueError):
                log.warning("sftp: %s could not be flushed to disk", self.path)
        super().close()
        if self.writing:
            self.folder.closed(self)


def _size(size: int) -> str:
    if size >= MB:
        return f"{size / MB:.0f} MB"
    return f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} B"


def _quota_exceeded(quota: int) -> str:
    return _(
        "Quota exceeded: this account may keep at most %(size)s in its folder, files "
        "waiting there included.",
        size=_size(quota),
    )


class FeedFolder(paramiko.SFTPServerInterface):
    """One SFTP session of a logged-in feed account."""

    def __init__(self, server: FeedLogin, *args: Any, **kwargs: Any) -> None:
        super().__init__(server, *args, **kwargs)
        assert server.sender is not None
        self.app = server.app
        self.sender: Sender = server.sender
        self.root = self.sender.root
        self.ending = False
        self.writing: dict[Path, FeedFile] = {}

    def session_ended(self) -> None:
        # paramiko calls this before closing the handles left open: those are cut uploads.
        self.ending = True

    # -- paths ---------------------------------------------------------------------------

    def resolve(self, path: str) -> tuple[str, Path]:
        """(the path inside the folder, the file on disk); Refused when it leaves the folder
        or goes through a symbolic link."""
        if "\x00" in path or "\\" in path:
            raise _denied(_("This name is not allowed."))
        parts: list[str] = []
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise _denied(_("Access denied: you can only reach your own folder."))
                parts.pop()
            else:
                parts.append(part)
        target = self.root.joinpath(*parts)
        current = self.root
        for part in parts:
            current = current / part
            if current.is_symlink():
                raise _denied(_("Symbolic links are not allowed."))
        return "/".join(parts), target

    def canonicalize(self, path: str) -> str:
        try:
            relative, _target = self.resolve(path)
        except Refused:
            return "/"
        return "/" + relative

    def _writable(self, relative: str) -> None:
        if not relative:
            raise _denied(_("Access denied."))
        if feed_storage.in_outbox(relative):
            raise _denied(_("outbox/ is read-only: Relais writes your results there."))

    # -- reading -------------------------------------------------------------------------

    def list_folder(self, path: str) -> Any:
        try:
            _relative, target = self.resolve(path)
            entries = []
            with os.scandir(target) as found:
                for entry in found:
                    if entry.name.startswith(".") or entry.is_symlink():
                        continue
                    attributes = paramiko.SFTPAttributes.from_stat(
                        entry.stat(follow_symlinks=False), entry.name
                    )
                    entries.append(attributes)
            return entries
        except Refused as refused:
            return refused.refusal
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def stat(self, path: str) -> Any:
        try:
            _relative, target = self.resolve(path)
            return paramiko.SFTPAttributes.from_stat(os.lstat(target))
        except Refused as refused:
            return refused.refusal
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    lstat = stat

    def open(self, path: str, flags: int, attr: Any) -> Any:
        try:
            relative, target = self.resolve(path)
            writing = bool(
                flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
            )
            used = 0
            if writing:
                self._writable(relative)
                used = feed_storage.used_bytes(self.root, skip=target)
                if used >= self.sender.quota_bytes:
                    raise Refused(Refusal(SFTP_FAILURE, _quota_exceeded(self.sender.quota_bytes)))
            fd = os.open(target, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o640)
        except Refused as refused:
            return refused.refusal
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return Refusal(SFTP_PERMISSION_DENIED, _("Symbolic links are not allowed."))
            return paramiko.SFTPServer.convert_errno(exc.errno)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            return Refusal(SFTP_FAILURE, _("This is a folder."))
        mode = (
            "rb"
            if not writing
            else "r+b"
            if flags & os.O_RDWR
            else "ab"
            if flags & os.O_APPEND
            else "wb"
        )
        fobj = os.fdopen(fd, mode)
        handle = FeedFile(self, relative, target, flags, writing, used)
        if writing:
            handle.size = os.fstat(fd).st_size
            handle.writefile = fobj
            self.writing[target] = handle
            forget_measure(target)
        if not writing or flags & os.O_RDWR:
            handle.readfile = fobj
        handle.filename = str(target)
        return handle

    # -- changing ------------------------------------------------------------------------

    def remove(self, path: str) -> int:
        try:
            relative, target = self.resolve(path)
            if not relative:
                raise _denied(_("Access denied."))
            if target.is_dir():
                return Refusal(SFTP_FAILURE, _("This is a folder."))
            os.unlink(target)
            return SFTP_OK
        except Refused as refused:
            return refused.refusal
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def rename(self, oldpath: str, newpath: str) -> int:
        try:
            old_relative, old = self.resolve(oldpath)
            new_relative, new = self.resolve(newpath)
            self._writable(old_relative)
            self._writable(new_relative)
            if old in self.writing:
                return Refusal(SFTP_FAILURE, _("The file is still open: close it first."))
            if new.is_dir():
                return Refusal(SFTP_FAILURE, _("A folder has this name."))
            os.replace(old, new)
        except Refused as refused:
            return refused.refusal
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)
        name = new.name
        if (
            new.is_file()
            and not feed_storage.is_temporary(name)
            and not feed_storage.is_marker(name)
        ):
            return self._arrived(new_relative, new)
        return SFTP_OK

    posix_rename = rename

    def mkdir(self, path: str, attr: Any) -> int:
        try:
            relative, target = self.resolve(path)
            self._writable(relative)
            os.mkdir(target, 0o750)
            return SFTP_OK
        except Refused as refused:
            return refused.refusal
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def rmdir(self, path: str) -> int:
        try:
            relative, target = self.resolve(path)
            self._writable(relative)
            os.rmdir(target)
            return SFTP_OK
        except Refused as refused:
            return refused.refusal
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def chattr(self, path: str, attr: Any) -> int:
        # Clients set times (sftp -p) and modes after an upload: times are kept, the rest
        # ignored (the server decides who may read a file).
        try:
            _relative, target = self.resolve(path)
            if getattr(attr, "st_mtime", None) is not None and target.is_file():
                os.utime(target, (attr.st_atime or attr.st_mtime, attr.st_mtime))
            return SFTP_OK
        except Refused as refused:
            return refused.refusal
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def symlink(self, target_path: str, path: str) -> int:
        return Refusal(SFTP_PERMISSION_DENIED, _("Symbolic links are not allowed."))

    def readlink(self, path: str) -> int:
        return Refusal(SFTP_OP_UNSUPPORTED, _("Symbolic links are not allowed."))

    # -- arrivals ------------------------------------------------------------------------

    def closed(self, handle: FeedFile) -> None:
        """A written file's handle closed: by the client, or by the session's end."""
        self.writing.pop(handle.path, None)
        if handle.refused:
            handle.path.unlink(missing_ok=True)
            self._record(handle.relative, handle.size, "refused", handle.refused)
            return
        if self.ending:
            self._record(
                handle.relative,
                handle.size,
                "incomplete",
                _(
                    "The connection ended during the upload: the file is incomplete and was not "
                    "imported. It will be removed."
                ),
            )
            return
        measured = handle.measured()
        if measured is not None:
            keep_measure(handle.path, measured)
        if feed_storage.is_marker(handle.path.name):
            self._marked(handle)

    def _marked(self, marker: FeedFile) -> None:
        """A `x.done` marker: the file `x` beside it is whole."""
        relative = marker.relative[: -len(feed_storage.MARKER_SUFFIX)]
        target = marker.path.with_name(marker.path.name[: -len(feed_storage.MARKER_SUFFIX)])
        marker.path.unlink(missing_ok=True)
        if not target.is_file() or target.is_symlink() or target in self.writing:
            self._record(
                relative,
                0,
                "refused",
                _("The marker %(marker)s names no complete file.", marker=marker.relative),
            )
            return
        self._arrived(relative, target)

    def _arrived(self, relative: str, path: Path) -> int:
        measured = kept_measure(path)
        try:
            arrivals.receive(self.app, self.sender, relative, path, measured)
        except Exception:  # the file stays where it is; the client is told
            log.exception("sftp arrival of %s for %s failed", relative, self.sender.login)
            return Refusal(
                SFTP_FAILURE,
                _(
                    "The file was received but could not be queued "
                    "for import; it stays in your folder."
                ),
            )
        return SFTP_OK

    def _record(self, relative: str, size: int, status: str, message: str) -> None:
        try:
            arrivals.record(self.app, self.sender, relative, size, status, message)
        except Exception:  # noqa: BLE001 - a session's end must not fail on the database
            log.exception(
                "sftp: recording %s %s for %s failed", status, relative, self.sender.login
            )
