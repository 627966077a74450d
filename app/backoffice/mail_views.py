"""Outgoing messages for admins (mails and SMS): what the outbox sent, still holds or gave up,
and a waiting or failed message sent again now."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.backoffice import bp
from app.models import OutgoingMail
from app.policies import get_visible_or_404
from app.queries.outgoing_mails import mail_page
from app.services.mail_outbox import can_retry, retry_mail
from app.web.transactions import transaction

PURPOSE_LABELS = {
    "signature_code": _l("Signing code"),
    "subscription_resume": _l("Link to resume a subscription"),
    "subscription_contract": _l("Signed contract"),
    "invitation": _l("Extranet invitation"),
    "quote_link": _l("Quote signing link"),
    "quote_signed": _l("Signed quote, to the customer"),
    "quote_signed_seller": _l("Signed quote, to the salesperson"),
}
CHANNEL_LABELS = {"email": _l("E-mail"), "sms": _l("SMS")}
STATUS_LABELS = {"pending": _l("Pending"), "sent": _l("Sent"), "failed": _l("Failed"),
                 "expired": _l("Expired")}


@bp.get("/admin/mails")
def admin_mails():
    mails, more, status = mail_page(request.args)
    return render_template("admin/mails.html", mails=mails, more=more, status=status,
                           purposes=PURPOSE_LABELS, statuses=STATUS_LABELS,
                           channels=CHANNEL_LABELS,
                           can_retry=can_retry)


@bp.post("/admin/mails/<int:mail_id>/retry")
def admin_mail_retry(mail_id: int):
    queued = get_visible_or_404(OutgoingMail, mail_id, current_user)
    with transaction(user_errors=True) as saved:
        retry_mail(queued)
    if saved:
        flash(_("The message will be sent again now."), "success")
    return redirect(url_for("backoffice.admin_mails", status=request.args.get("status") or None))
