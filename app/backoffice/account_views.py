"""The customer 360° page: everything about one account on one page."""
from __future__ import annotations

from flask import render_template
from flask_login import current_user

from app.backoffice import bp
from app.backoffice.forms import ActivityForm, AttachmentForm
from app.clock import local_today
from app.entities import ENTITIES
from app.models import Account
from app.policies import can_edit, get_visible_or_404
from app.queries.account360 import account_overview
from app.queries.direct_debit import RETURN_REASON_LABELS, direct_debit
from app.queries.timeline import timeline
from app.web.lists import custom_columns


@bp.get("/accounts/<int:record_id>/360")
def account_360(record_id: int):
    account = get_visible_or_404(Account, record_id, current_user)
    overview = account_overview(account, current_user, local_today())
    return render_template(
        "account_360.html", record=account, entity=ENTITIES["accounts"], overview=overview,
        custom_fields=custom_columns(ENTITIES["accounts"]),
        timeline=timeline("accounts", account.id, current_user), activity_form=ActivityForm(),
        attachment_form=AttachmentForm(), can_edit=can_edit(current_user, account),
        entities=ENTITIES, direct_debit=direct_debit(account, current_user),
        return_reasons=RETURN_REASON_LABELS)
