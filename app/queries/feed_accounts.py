"""Feed accounts' reads: the accounts, and what their inboxes received lately."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import FeedAccount, FeedArrival

PROBLEM_STATUSES = ("incomplete", "unrouted", "refused")
RECENT_DAYS = 7


def accounts_select() -> Select:
    return select(FeedAccount)


def accounts() -> list[FeedAccount]:
    return list(db.session.scalars(select(FeedAccount).order_by(FeedAccount.name)))


def inbox_problems(now: datetime, limit: int = 50) -> list[FeedArrival]:
    """The files of the last days that did not go in (cut, unrouted, refused), newest first."""
    return list(
        db.session.scalars(
            select(FeedArrival)
            .options(joinedload(FeedArrival.account))
            .where(
                FeedArrival.status.in_(PROBLEM_STATUSES),
                FeedArrival.created_at >= now - timedelta(days=RECENT_DAYS),
            )
            .order_by(FeedArrival.id.desc())
            .limit(limit)
        )
    )


def recent_arrivals(account: FeedAccount, limit: int = 20) -> list[FeedArrival]:
    return list(
        db.session.scalars(
            select(FeedArrival)
            .where(FeedArrival.account_id == account.id)
            .order_by(FeedArrival.id.desc())
            .limit(limit)
        )
    )
