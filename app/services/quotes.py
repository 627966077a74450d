"""A customer's answer to a quote: accept or refuse, with a comment, in the extranet; or
through the API (a partner's token), whose write of the status records it the same way."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from app.errors import ValidationError
from app.extensions import db
from app.models import Quote
from app.models.base import utcnow
from app.policies import QUOTE_ANSWERS, answer_refusal
from app.services.audit import record_event
from app.services.record_rules import ANSWER_COLUMNS, jsonable
from app.tenancy import current_actor

MAX_COMMENT = 2000
ANSWER_FIELDS = ("status", *ANSWER_COLUMNS)


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
    for name, value in answer_values(accepted, comment).items():
        setattr(quote, name, value)
    db.session.flush()
    record_event("update", "quotes", quote.id, before, _answer_state(quote))
    return quote


def answer_values(accepted: bool, comment: str | None = None) -> dict[str, Any]:
    """What an answer sets on a quote, whatever the path: the decision, when, who (the user,
    and the actor's label: a token has no user) and the comment."""
    actor = current_actor()
    return {"status": "accepted" if accepted else "refused", "answered_at": utcnow(),
            "answered_by_id": actor.id if actor.kind == "user" else None,
            "answered_by_label": actor.label[:254], "answer_comment": comment}


def answer_in_write(current: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, Any]:
    """The answer a write of a quote gives: its values when an agent (a partner's token)
    sets a "sent" quote's status to accepted or refused, as he would answer in the
    extranet; nothing otherwise (staff and feeds keep a status as data, as they always did)."""
    user = current_actor().user
    status = values.get("status")
    if user is None or user.is_staff or (current or {}).get("status") != "sent" \
            or status not in QUOTE_ANSWERS:
        return {}
    return answer_values(status == "accepted")


def _answer_state(quote: Quote) -> dict:
    return {name: jsonable(getattr(quote, name)) for name in ANSWER_FIELDS}
