"""Checks on a ZIP archive's members before anything is unpacked: the names, kinds and sizes an
archive declares, judged against limits, so that a crafted archive can neither write outside
its folder (zip slip, absolute names, symbolic links), nor hide what it holds (encryption),
nor unpack to more than it may (a member's ratio, the whole's size, the number of members).

zipfile stops a member at its declared size and fails on its checksum, so a member cannot
unpack to more than what is checked here; `copy_member` bounds it once more while copying.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from flask_babel import lazy_gettext as _l

MB = 1024 * 1024
RATIO_FREE_BYTES = MB  # small members may pack as well as they like (text packs 10 to 50×)
CHUNK = MB

ABSOLUTE = _l("its name is an absolute path")
OUTSIDE = _l("its name leads out of the archive (“..”)")
SYMLINK = _l("it is a symbolic link")
ENCRYPTED = _l("it is encrypted (password-protected)")
RATIO = _l("it unpacks to %(ratio)d times its packed size (at most %(limit)d)")
TOO_LARGE = _l("it unpacks to more than %(mb)d MB")
UNREADABLE = _l("it cannot be unpacked")
TOO_MANY = _l("The archive holds %(count)d files; at most %(limit)d are allowed.")
TOO_LARGE_WHOLE = _l("The archive unpacks to more than %(mb)d MB.")


@dataclass(frozen=True)
class ZipLimits:
    max_members: int = 10_000
    max_total_bytes: int = 2048 * MB
    max_ratio: int = 100
    max_member_bytes: int = 500 * MB


@dataclass(frozen=True)
class Refusal:
    """Why a member is not unpacked: a lazy message and its values."""

    member: str
    message: Any
    params: dict[str, Any]

    def __str__(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)


class MemberError(Exception):
    """A member that could not be copied out (damaged, or larger than it said)."""


def archive_problem(
    members: list[zipfile.ZipInfo], limits: ZipLimits
) -> tuple[Any, dict[str, Any]] | None:
    """What refuses the whole archive (its number of members, its unpacked size), if anything."""
    if len(members) > limits.max_members:
        return TOO_MANY, {"count": len(members), "limit": limits.max_members}
    if sum(m.file_size for m in members) > limits.max_total_bytes:
        return TOO_LARGE_WHOLE, {"mb": limits.max_total_bytes // MB}
    return None


def member_refusal(member: zipfile.ZipInfo, limits: ZipLimits) -> Refusal | None:
    """Why `member` may not be unpacked, or None."""
    name = member.filename
    plain = name.replace("\\", "/")
    if plain.startswith("/") or (len(plain) > 1 and plain[1] == ":"):
        return Refusal(name, ABSOLUTE, {})
    if ".." in PurePosixPath(plain).parts:
        return Refusal(name, OUTSIDE, {})
    if stat.S_ISLNK(member.external_attr >> 16):
        return Refusal(name, SYMLINK, {})
    if member.flag_bits & 0x1:
        return Refusal(name, ENCRYPTED, {})
    if member.file_size > limits.max_member_bytes:
        return Refusal(name, TOO_LARGE, {"mb": limits.max_member_bytes // MB})
    if member.file_size > max(RATIO_FREE_BYTES, limits.max_ratio * member.compress_size):
        return Refusal(
            name,
            RATIO,
            {"ratio": member.file_size // max(member.compress_size, 1), "limit": limits.max_ratio},
        )
    return None


def copy_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, out: BinaryIO) -> int:
    """Copy a checked member's bytes to `out`, never more than it declared; its size."""
    size = 0
    try:
        with archive.open(member) as data:
            while chunk := data.read(CHUNK):
                size += len(chunk)
                if size > member.file_size:
                    raise MemberError(member.filename)
                out.write(chunk)
    except (
        zipfile.BadZipFile,
        OSError,
        EOFError,
        RuntimeError,
        NotImplementedError,
        ValueError,
    ) as exc:  # damaged data, bad CRC, an unknown compression
        raise MemberError(member.filename) from exc
    return size


def is_directory(member: zipfile.ZipInfo) -> bool:
    return member.is_dir() or member.filename.endswith(("/", "\\"))


def unpack_to(archive: zipfile.ZipFile, member: zipfile.ZipInfo, folder: Path, name: str) -> Path:
    """Copy a checked member into `folder` under `name` (chosen by the caller, never the
    member's own path)."""
    target = folder / name
    with target.open("wb") as out:
        copy_member(archive, member, out)
    return target
