"""A customer's answer to a quote, given in the extranet: accept or refuse, with a comment."""
from __future__ import annotations

from flask_babel import gettext as _

from app.errors import ValidationError
from app.extensions import db
from app.models import Quote
from app.models.base import utcnow
from app.policies import answer_refusal
from app.services.audit import record_event
from app.services.record_rules import jsonable
from app.tenancy import current_actor

MAX_COMMENT = 2000
ANSWER_FIELDS = ("status", "answered_at", "answered_by_id", "answer_comment")


def answer_quote(quote: Quote, accepted: bool, comment: str | None) -> Quote:
    """Accept or refuse a quote awaiting an answer ("sent"), as the current actor."""
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise ValidationError({"comment": _("Enter a comment of at most %(max)d characters.",
                                             max=MAX_COMMENT)})
    # Two people answering at once: the second one waits here, then finds it answered.
    db.session.refresh(quote, with_for_update=True)
    refused = answer_refusal(quote.status)
    if refused:
        raise ValidationError({"status": refused})
    before = _answer_state(quote)
    actor = current_actor()
    quote.status = "accepted" if accepted else "refused"
    quote.answered_at = utcnow()
    quote.answered_by_id = actor.user.id if actor.user is not None else None
    quote.answer_comment = comment
    db.session.flush()
    record_event("update", "quotes", quote.id, before, _answer_state(quote))
    return quote


def _answer_state(quote: Quote) -> dict:
    return {name: jsonable(getattr(quote, name)) for name in ANSWER_FIELDS}
