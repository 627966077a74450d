"""Reads of exports, their runs and the tenant's SFTP servers, for the back office and the
API (admins only: app/policies.py never lets an agent or a subscriber see them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Export, ExportRun, FeedPull, SftpServer
from app.policies import visible


def exports_select(principal: Any) -> Select:
    return visible(select(Export), Export, principal)


def export_runs_select(
    principal: Any, export_id: int | None = None, status: str | None = None
) -> Select:
    stmt = select(ExportRun).options(joinedload(ExportRun.export))
    if export_id is not None:
        stmt = stmt.where(ExportRun.export_id == export_id)
    if status:
        stmt = stmt.where(ExportRun.status == status)
    return visible(stmt, ExportRun, principal)


def sftp_servers() -> list[SftpServer]:
    return list(db.session.scalars(select(SftpServer).order_by(SftpServer.name)))


def pulls_select(principal: Any, profile_id: int | None = None) -> Select:
    stmt = select(FeedPull).options(joinedload(FeedPull.profile))
    if profile_id is not None:
        stmt = stmt.where(FeedPull.profile_id == profile_id)
    return visible(stmt, FeedPull, principal)


def pulls_by_profile() -> dict[int, FeedPull]:
    return {pull.profile_id: pull for pull in db.session.scalars(select(FeedPull))}
