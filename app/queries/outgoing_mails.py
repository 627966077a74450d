"""Reads for the outgoing mails page: the tenant's mails, newest first, a page at a time."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import OUTGOING_MAIL_STATUSES, OutgoingMail
from app.models.base import MAX_ID

PAGE = 50


def mail_page(args: Any) -> tuple[list[OutgoingMail], int | None, str]:
    """Mails newest first, PAGE at a time (`before=<id>`), maybe of one status; with the id
    to continue from, when there is more."""
    status = args.get("status", "")
    if status not in OUTGOING_MAIL_STATUSES:
        status = ""
    stmt = select(OutgoingMail)
    if status:
        stmt = stmt.where(OutgoingMail.status == status)
    before = args.get("before", "")
    if before.isdigit() and 0 < int(before) <= MAX_ID:
        stmt = stmt.where(OutgoingMail.id < int(before))
    rows = list(db.session.scalars(stmt.order_by(OutgoingMail.id.desc()).limit(PAGE + 1)))
    more = rows[PAGE - 1].id if len(rows) > PAGE else None
    return rows[:PAGE], more, status
