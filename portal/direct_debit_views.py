"""A subscriber's direct debits in the extranet: the mandates he gave and what was debited
under them, read only. Agents see none (app/policies.py): the page answers 404."""
from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user

from app.models import Mandate, Role
from app.policies import get_visible_or_404
from app.queries.direct_debit import (
    DEBIT_STATUS_LABELS,
    MANDATE_STATUS_LABELS,
    RETURN_REASON_LABELS,
    mandate_debits,
    own_direct_debit,
)
from app.services.offers import creditor
from portal import bp


@bp.app_template_global()
def portal_shows_direct_debit() -> bool:
    return current_user.is_authenticated and current_user.role == Role.SUBSCRIBER


@bp.get("/direct-debit")
def direct_debit():
    if not portal_shows_direct_debit():
        abort(404)
    mandates, debits = own_direct_debit(current_user)
    return render_template("portal/direct_debit.html", mandates=mandates, debits=debits,
                           creditor=creditor(), mandate=None, **_labels())


@bp.get("/mandates/<int:mandate_id>")
def mandate_detail(mandate_id: int):
    mandate = get_visible_or_404(Mandate, mandate_id, current_user)
    return render_template("portal/direct_debit.html", mandates=[mandate],
                           debits=mandate_debits(mandate, current_user), creditor=creditor(),
                           mandate=mandate, **_labels())


def _labels() -> dict:
    return {"mandate_status_labels": MANDATE_STATUS_LABELS,
            "debit_status_labels": DEBIT_STATUS_LABELS, "reasons": RETURN_REASON_LABELS}
