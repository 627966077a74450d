"""The online channel's SEPA mandates in the back office: the list, a mandate's page, and for
admins a paper mandate registered from a customer's page, an amendment, a revocation with its
proof. Staff read (sales too, the IBAN masked); admins write, as through the API."""
from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.utils import secure_filename
from wtforms import BooleanField, DateField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Optional

from app.backoffice import bp
from app.clock import local_today
from app.errors import NotAllowed
from app.models import Account, Mandate
from app.models.selling import MANDATE_CHANNELS, MANDATE_STATUSES, mask_iban
from app.policies import can_administer, get_visible_or_404
from app.queries.direct_debit import (
    CHANNEL_LABELS,
    DEBIT_STATUS_LABELS,
    MANDATE_STATUS_LABELS,
    SEQUENCE_LABELS,
    MandateFilter,
    mandate_debits,
    mandate_history,
    mandates,
)
from app.queries.keyset import keyset_page
from app.queries.lists import MAX_QUERY, count_capped
from app.services.attachments import add_attachment
from app.services.mandates import amend_mandate, create_mandate, revoke_mandate
from app.web.lists import first_page_unless_valid
from app.web.records import record_attachments
from app.web.transactions import transaction

# The proof of a revocation is kept among the customer's files under this prefix and the UMR.
PROOF_PREFIX = "revocation"
_CAPS = {"autocapitalize": "characters", "spellcheck": "false"}


class DebtorFields(FlaskForm):
    debtor_name = StringField(_l("Debtor (account holder)"))
    street = StringField(_l("Street"))
    building_number = StringField(_l("Building number"), validators=[Optional()])
    postal_code = StringField(_l("Postal code"))
    town = StringField(_l("Town"))
    country = StringField(_l("Country (two letters)"), default="FR",
                          render_kw={"maxlength": 2, **_CAPS})
    submit = SubmitField(_l("Save"))

    ADDRESS = ("debtor_name", "street", "building_number", "postal_code", "town", "country")


class PaperMandateForm(DebtorFields):
    reference = StringField(_l("Mandate reference (UMR), as printed on the form"),
                            validators=[Optional()], render_kw=_CAPS)
    iban = StringField(_l("IBAN"), render_kw=_CAPS)
    bic = StringField(_l("BIC (found from the IBAN when the bank is known)"),
                      validators=[Optional()], render_kw=_CAPS)
    signed_on = DateField(_l("Signed on"), validators=[Optional()])
    is_recurrent = BooleanField(_l("Recurrent (unticked: one debit only)"), default=True)


class AmendForm(DebtorFields):
    iban = StringField(_l("New IBAN (empty: the account stays)"), validators=[Optional()],
                       render_kw=_CAPS)
    bic = StringField(_l("New BIC (empty: found from the IBAN)"), validators=[Optional()],
                      render_kw=_CAPS)


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("How the customer revoked it (his letter, e-mail, his bank…)"),
                           render_kw={"rows": 3, "maxlength": 500})
    ended_on = DateField(_l("Revoked from"), validators=[InputRequired()])
    proof = FileField(_l("Proof (his letter, scanned; optional)"))
    submit = SubmitField(_l("Revoke the mandate"))


@bp.get("/mandates/")
def mandate_list():
    filters = MandateFilter.of(request.args)
    stmt = mandates(filters, current_user)
    page = first_page_unless_valid(lambda after, before: keyset_page(
        stmt, Mandate.id, Mandate.id, descending=True, size=current_app.config["PAGE_SIZE"],
        after=after, before=before), request.args)
    total, capped = count_capped(stmt)
    return render_template(
        "direct_debit/mandates.html", page=page, total=total, capped=capped, filters=filters,
        statuses=[(s, MANDATE_STATUS_LABELS[s]) for s in MANDATE_STATUSES],
        channels=[(c, CHANNEL_LABELS[c]) for c in MANDATE_CHANNELS],
        status_labels=MANDATE_STATUS_LABELS, channel_labels=CHANNEL_LABELS,
        search_maxlength=MAX_QUERY, full_iban=can_administer(current_user))


@bp.get("/mandates/<int:mandate_id>")
def mandate_detail(mandate_id: int):
    mandate = get_visible_or_404(Mandate, mandate_id, current_user)
    full_iban = can_administer(current_user)
    proofs = [a for a in record_attachments("accounts", mandate.account_id)
              if a.file_name.startswith(_proof_prefix(mandate))]
    return render_template(
        "direct_debit/mandate.html", mandate=mandate, full_iban=full_iban,
        debits=mandate_debits(mandate, current_user), proofs=proofs,
        history=mandate_history(mandate, full_iban), status_labels=MANDATE_STATUS_LABELS,
        channel_labels=CHANNEL_LABELS, debit_status_labels=DEBIT_STATUS_LABELS,
        sequence_labels=SEQUENCE_LABELS, can_write=full_iban, mask_iban=mask_iban)


@bp.route("/accounts/<int:account_id>/mandates/new", methods=["GET", "POST"])
def admin_mandate_new(account_id: int):
    account = get_visible_or_404(Account, account_id, current_user)
    form = PaperMandateForm()
    if not form.is_submitted():
        form.debtor_name.data, form.street.data = account.name, account.address_line
        form.postal_code.data, form.town.data = account.postal_code, account.city
        form.country.data, form.signed_on.data = account.country or "FR", local_today()
    if form.validate_on_submit():
        data = {name: getattr(form, name).data for name in (
            *DebtorFields.ADDRESS, "reference", "iban", "bic", "signed_on", "is_recurrent")}
        with transaction(form, flash_errors=False) as saved:
            mandate = create_mandate(account, data, "paper")
        if saved:
            flash(_("Mandate %(reference)s registered.", reference=mandate.reference),
                  "success")
            return redirect(url_for("backoffice.mandate_detail", mandate_id=mandate.id))
        _form_errors(form, saved.messages)
    return render_template("direct_debit/mandate_new.html", form=form, account=account), \
        422 if form.errors or form.form_errors else 200


@bp.route("/mandates/<int:mandate_id>/amend", methods=["GET", "POST"])
def admin_mandate_amend(mandate_id: int):
    mandate = get_visible_or_404(Mandate, mandate_id, current_user)
    form = AmendForm(obj=mandate)
    if not form.is_submitted():
        form.iban.data = form.bic.data = ""
    if form.validate_on_submit():
        data = {name: getattr(form, name).data for name in DebtorFields.ADDRESS}
        data["iban"], data["bic"] = form.iban.data or None, form.bic.data or None
        data["building_number"] = data["building_number"] or ""
        if _refused(lambda: _amend(form, mandate, data)):
            return _back(mandate)
    return render_template("direct_debit/mandate_amend.html", form=form, mandate=mandate), \
        422 if form.errors or form.form_errors else 200


def _amend(form: AmendForm, mandate: Mandate, data: dict) -> bool:
    with transaction(form, flash_errors=False) as saved:
        amend_mandate(mandate, data)
    if saved:
        flash(_("Mandate %(reference)s amended: the next collection reports the change.",
                reference=mandate.reference), "success")
        return True
    _form_errors(form, saved.messages)
    return False


@bp.route("/mandates/<int:mandate_id>/revoke", methods=["GET", "POST"])
def admin_mandate_revoke(mandate_id: int):
    mandate = get_visible_or_404(Mandate, mandate_id, current_user)
    form = RevokeForm()
    if not form.is_submitted():
        form.ended_on.data = local_today()
    if form.validate_on_submit():
        if _refused(lambda: _revoke(form, mandate)):
            return _back(mandate)
    return render_template("direct_debit/mandate_revoke.html", form=form, mandate=mandate), \
        422 if form.errors or form.form_errors else 200


def _revoke(form: RevokeForm, mandate: Mandate) -> bool:
    upload = form.proof.data
    with transaction(form, flash_errors=False) as saved:
        revoke_mandate(mandate, form.reason.data, form.ended_on.data)
        if upload and upload.filename:
            # Kept among the customer's files: a mandate is no record of its own.
            add_attachment(mandate.account, _proof_prefix(mandate) + upload.filename,
                           upload.stream)
    if saved:
        flash(_("Mandate %(reference)s revoked.", reference=mandate.reference), "success")
        return True
    if "file" in saved.errors:
        form.proof.errors = [saved.errors["file"]]
        saved.messages.remove(saved.errors["file"])
    _form_errors(form, saved.messages)
    return False


def _proof_prefix(mandate: Mandate) -> str:
    """How a revocation's proof is named among the customer's files: the attachment keeps
    a safe file name, so the UMR is made safe the same way."""
    return secure_filename(f"{PROOF_PREFIX}-{mandate.reference}") + "-"


def _refused(step: Callable[[], bool]) -> bool:
    """`step()`: True when done, or refused (the mandate may no longer change: the reason
    flashed, back to its page); False when the form has errors to show."""
    try:
        return step()
    except NotAllowed as refusal:
        flash(refusal.message, "danger")
        return True


def _back(mandate: Mandate) -> Response:
    return redirect(url_for("backoffice.mandate_detail", mandate_id=mandate.id))


def _form_errors(form: FlaskForm, messages: list[str]) -> None:
    """The service's messages that name no field of `form`: shown above it."""
    form.form_errors.extend(messages)
