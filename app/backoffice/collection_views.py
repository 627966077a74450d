"""The online channel's SEPA collections in the back office: the list and a collection's page
for staff; for admins, building one for a date, its pain.008 file, the customers'
pre-notifications, its settlement, and a debit returned by the debtor's bank."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SubmitField
from wtforms.validators import InputRequired

from app import jobs
from app.backoffice import bp
from app.clock import local_today
from app.errors import NotAllowed
from app.forms import options
from app.models import Collection, Debit
from app.models.selling import RETURN_REASONS
from app.policies import can_administer, get_visible_or_404
from app.queries.collection_due import LEFT_OUT_REASONS, preview
from app.queries.direct_debit import (
    AMENDMENT_LABELS,
    COLLECTION_STATUS_LABELS,
    DEBIT_STATUS_LABELS,
    RETURN_REASON_LABELS,
    SEQUENCE_LABELS,
    collection_debit_rows,
    collection_debits,
    collections,
    debit_line,
    summary,
)
from app.queries.keyset import keyset_page
from app.queries.lists import count_capped
from app.services.collection_builds import queue_job
from app.services.collections import (
    ask_settlement,
    collection_file,
    return_debit,
    start_collection,
)
from app.services.offers import creditor
from app.web.lists import first_page_unless_valid
from app.web.transactions import transaction


class CollectionForm(FlaskForm):
    collection_date = DateField(_l("Collection date"), validators=[InputRequired()])
    submit = SubmitField(_l("Build the collection"))


class PreviewForm(FlaskForm):
    class Meta:
        csrf = False  # a GET that changes nothing

    collection_date = DateField(_l("Collection date"), validators=[InputRequired()])


class DebitReturnForm(FlaskForm):
    reason = SelectField(_l("Reason code given by the bank"))
    returned_on = DateField(_l("Returned on"), validators=[InputRequired()])
    submit = SubmitField(_l("Mark returned"))


def reason_choices() -> list:
    return options((code, f"{code} — {RETURN_REASON_LABELS[code]}") for code in RETURN_REASONS)


@bp.get("/collections/")
def collection_list():
    stmt = collections(current_user)
    page = first_page_unless_valid(lambda after, before: keyset_page(
        stmt, Collection.id, Collection.id, descending=True,
        size=current_app.config["PAGE_SIZE"], after=after, before=before), request.args)
    total, capped = count_capped(stmt)
    return render_template("direct_debit/collections.html", page=page, total=total,
                           capped=capped, status_labels=COLLECTION_STATUS_LABELS,
                           can_write=can_administer(current_user))


@bp.route("/collections/new", methods=["GET", "POST"])
def admin_collection_new():
    """The date asked, what a collection then holds and leaves out (a preview), and the
    confirmation that queues its build."""
    found = creditor()
    form, asked = CollectionForm(), PreviewForm(formdata=request.args or None)
    if not asked.collection_date.raw_data and found is not None:
        asked.collection_date.data = local_today() + timedelta(days=found.prenotification_days)
    if form.validate_on_submit():
        with transaction(form, flash_errors=False) as saved:
            collection = start_collection(form.collection_date.data)
        if saved:
            queue_job(collection)
            flash(_("The collection is being built: this page shows it when it is done; "
                    "each customer is then told of his debit."), "success")
            return redirect(url_for("backoffice.collection_detail",
                                    collection_id=collection.id))
        form.form_errors.extend(saved.messages)
    shown = preview(asked.collection_date.data) \
        if request.args and asked.validate() and found is not None else None
    return render_template("direct_debit/collection_new.html", form=form, asked=asked,
                           creditor=found, preview=shown, reasons=LEFT_OUT_REASONS,
                           sequence_labels=SEQUENCE_LABELS, amendment_labels=AMENDMENT_LABELS,
                           earliest=None if found is None else local_today() + timedelta(
                               days=found.prenotification_days)), \
        422 if form.errors else 200


@bp.get("/collections/<int:collection_id>")
def collection_detail(collection_id: int):
    collection = get_visible_or_404(Collection, collection_id, current_user)
    page = first_page_unless_valid(lambda after, before: keyset_page(
        collection_debit_rows(collection, current_user), Debit.id, Debit.id, descending=False,
        size=current_app.config["PAGE_SIZE"], after=after, before=before), request.args)
    return render_template(
        "direct_debit/collection.html", collection=collection, page=page,
        lines=collection_debits(collection, current_user, page.rows),
        summary=summary(collection, current_user), status_labels=COLLECTION_STATUS_LABELS,
        debit_status_labels=DEBIT_STATUS_LABELS, sequence_labels=SEQUENCE_LABELS,
        amendment_labels=AMENDMENT_LABELS, reasons=RETURN_REASON_LABELS,
        can_write=can_administer(current_user))


@bp.get("/collections/<int:collection_id>/pain.008.xml")
def admin_collection_file(collection_id: int):
    collection = get_visible_or_404(Collection, collection_id, current_user)
    path = collection_file(collection)
    if collection.status not in ("built", "settling", "settled") or not path.exists():
        abort(404)
    return send_file(path, mimetype="application/xml", as_attachment=True, max_age=0,
                     download_name=f"{collection.message_id}.pain.008.xml")


@bp.post("/collections/<int:collection_id>/prenotify")
def admin_collection_prenotify(collection_id: int):
    collection = get_visible_or_404(Collection, collection_id, current_user)
    if not FlaskForm().validate_on_submit():
        abort(400)
    # The job tells only the customers not told yet: sending again after a failure is safe.
    jobs.enqueue("send_prenotifications", collection.tenant_id, collection.id)
    flash(_("The customers not told yet are being sent their pre-notification."), "success")
    return redirect(url_for("backoffice.collection_detail", collection_id=collection.id))


@bp.post("/collections/<int:collection_id>/settle")
def admin_collection_settle(collection_id: int):
    collection = get_visible_or_404(Collection, collection_id, current_user)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        with transaction():
            ask_settlement(collection)
        queue_job(collection)
        flash(_("The collection is being settled: its invoices are marked paid in a moment."),
              "success")
    except NotAllowed as refusal:
        flash(refusal.message, "danger")
    return redirect(url_for("backoffice.collection_detail", collection_id=collection.id))


@bp.route("/debits/<int:debit_id>/return", methods=["GET", "POST"])
def admin_debit_return(debit_id: int):
    debit = get_visible_or_404(Debit, debit_id, current_user)
    back = url_for("backoffice.collection_detail", collection_id=debit.collection_id)
    form = DebitReturnForm()
    form.reason.choices = [("", "—"), *reason_choices()]
    if not form.is_submitted():
        form.returned_on.data = local_today()
    if form.validate_on_submit():
        try:
            with transaction(form, flash_errors=False) as saved:
                return_debit(debit, form.reason.data, form.returned_on.data)
        except NotAllowed as refusal:
            flash(refusal.message, "danger")
            return redirect(back)
        if saved:
            flash(_("Debit marked returned: its invoice is open again."), "success")
            return redirect(back)
        form.form_errors.extend(saved.messages)
    return render_template("direct_debit/debit_return.html", form=form,
                           line=debit_line(debit, current_user),
                           back=back, sequence_labels=SEQUENCE_LABELS), \
        422 if form.errors else 200
