"""A feed's scheduled pull (importers/pulls.py fetches): where from, and when."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask_babel import gettext as _
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import FeedPull, ImportProfile, SftpServer
from app.models.export import PULL_KINDS
from app.schedules import checked_schedule, next_firing
from app.services.audit import record_event

AUDITED = ("kind", "sftp_server_id", "path", "url", "schedule", "is_active")


def pull_of(profile: ImportProfile) -> FeedPull | None:
    return db.session.scalar(select(FeedPull).where(FeedPull.profile_id == profile.id))


def set_pull(profile: ImportProfile, data: dict[str, Any]) -> FeedPull:
    """Create or change the profile's pull."""
    from importers.pulls import check_url

    kind = data.get("kind")
    if kind not in PULL_KINDS:
        raise ValidationError({"kind": _("Choose SFTP or HTTPS.")})
    schedule = checked_schedule(data.get("schedule"))
    if schedule is None:
        raise ValidationError({"schedule": _("A pull needs a schedule.")})
    values: dict[str, Any] = {
        "kind": kind,
        "schedule": schedule,
        "sftp_server_id": None,
        "path": None,
        "url": None,
        "is_active": bool(data.get("is_active", True)),
    }
    if kind == "sftp":
        server = None
        try:
            server = db.session.scalar(
                select(SftpServer).where(SftpServer.id == int(data.get("sftp_server_id") or 0))
            )
        except (TypeError, ValueError):
            pass
        if server is None:
            raise ValidationError({"sftp_server_id": _("Choose one of your SFTP servers.")})
        path = str(data.get("path") or "").strip()
        if not path or len(path) > 500 or "\x00" in path or path.endswith("/"):
            raise ValidationError({"path": _("Give the remote file's path.")})
        values.update(sftp_server_id=server.id, path=path)
    else:
        try:
            values["url"] = check_url(str(data.get("url") or ""))
        except ValueError as exc:
            raise ValidationError({"url": _("Give an https:// address.")}) from exc
    pull = pull_of(profile)
    before = {k: getattr(pull, k) for k in AUDITED} if pull is not None else None
    if pull is None:
        pull = FeedPull(profile_id=profile.id)
        db.session.add(pull)
    for key, value in values.items():
        setattr(pull, key, value)
    pull.next_run_at = next_firing(schedule) if pull.is_active else None
    db.session.flush()
    record_event("update" if before else "create", "feed_pulls", pull.id, before, values)
    return pull


def create_pull(data: dict[str, Any]) -> FeedPull:
    """A pull for the feed `data["profile_id"]` names; refused when it already has one."""
    try:
        profile_id = int(data.get("profile_id") or 0)
    except (TypeError, ValueError):
        profile_id = 0
    profile = db.session.scalar(select(ImportProfile).where(ImportProfile.id == profile_id))
    if profile is None:
        raise ValidationError({"profile_id": _("Choose one of your import profiles.")})
    if pull_of(profile) is not None:
        raise ValidationError(
            {"profile_id": _("This feed already fetches its file: change its pull.")}
        )
    return set_pull(profile, data)


def update_pull(pull: FeedPull, data: dict[str, Any]) -> FeedPull:
    """Change what `data` gives; a URL sent back as it was answered (hidden parts and all)
    keeps the pull's own."""
    current = {k: getattr(pull, k) for k in AUDITED}
    if data.get("url") is not None and data["url"] == masked_url(pull.url):
        data = {**data, "url": pull.url}
    return set_pull(pull.profile, {**current, **data})


def masked_url(url: str | None) -> str | None:
    """The address with what may be a secret hidden: the password and each query value
    (`?key=…`, a common way to hand out a file) become `***`."""
    if not url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username}:***@{netloc.rpartition('@')[2]}"
    query = urlencode(
        [(k, "***") for k, _v in parse_qsl(parts.query, keep_blank_values=True)], safe="*"
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def delete_pull(pull: FeedPull) -> None:
    record_event("delete", "feed_pulls", pull.id, {k: getattr(pull, k) for k in AUDITED}, None)
    db.session.delete(pull)
    db.session.flush()
