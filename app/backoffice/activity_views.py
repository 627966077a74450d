"""Activities from a record's page: added, a call logged in one tap, done and undone; and
the user's own activities."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import safe_next
from app.backoffice import bp
from app.backoffice.forms import ActivityForm
from app.backoffice.record_views import require_editor
from app.entities import ENTITIES
from app.forms import flash_form_errors
from app.models import Activity
from app.policies import get_visible_or_404
from app.queries.my_activities import my_activities
from app.services.activities import ON_RECORDS, add_activity, log_call, mark_done
from app.services.records import update_record
from app.web.transactions import transaction


def _record(entity_name: str, record_id: int):
    if entity_name not in ON_RECORDS:
        abort(404)
    record = get_visible_or_404(ENTITIES[entity_name].model, record_id, current_user)
    require_editor()
    return record


def record_page(entity_name: str, record_id: int) -> str:
    """The page of a record that shows its timeline (a customer's: the 360° page)."""
    if entity_name == "accounts":
        return url_for("backoffice.account_360", record_id=record_id, _anchor="timeline")
    return url_for("backoffice.record_detail", entity_name=entity_name, record_id=record_id,
                   _anchor="timeline")


@bp.post("/<entity_name>/<int:record_id>/activities")
def activity_add(entity_name: str, record_id: int):
    record = _record(entity_name, record_id)
    form = ActivityForm()
    if form.validate_on_submit():
        with transaction(user_errors=True) as saved:
            add_activity(record, form.data_for_service())
        if saved:
            flash(_("Activity added."), "success")
    else:
        flash_form_errors(form)
    return redirect(record_page(entity_name, record_id))


@bp.post("/<entity_name>/<int:record_id>/calls")
def call_log(entity_name: str, record_id: int):
    """The call just made from the record's phone link, logged in one tap."""
    if entity_name not in ("accounts", "contacts"):
        abort(404)
    record = _record(entity_name, record_id)
    with transaction(user_errors=True) as saved:
        activity = log_call(record)
    if saved:
        flash(_("Call logged."), "success")
        return redirect(url_for("backoffice.activity_note", activity_id=activity.id,
                                next=record_page(entity_name, record_id)))
    return redirect(record_page(entity_name, record_id))


@bp.route("/activities/<int:activity_id>/note", methods=["GET", "POST"])
def activity_note(activity_id: int):
    """A note added to an activity just logged (a call), in one field."""
    activity = get_visible_or_404(Activity, activity_id, current_user)
    require_editor()
    back = safe_next(request.values.get("next"), _owner_page(activity))
    if request.method == "POST":
        with transaction(user_errors=True) as saved:
            update_record(activity, {"body": (request.form.get("body") or "").strip() or None})
        if saved:
            flash(_("Note saved."), "success")
            return redirect(back)
    return render_template("activities/note.html", activity=activity, back=back)


@bp.post("/activities/<int:activity_id>/done")
def activity_done(activity_id: int):
    activity = get_visible_or_404(Activity, activity_id, current_user)
    require_editor()
    done = request.form.get("done") == "1"
    with transaction(user_errors=True):
        mark_done(activity, done)
    flash(_("Marked as done.") if done else _("Marked as not done."), "success")
    return redirect(safe_next(request.form.get("next"), _owner_page(activity)))


@bp.get("/activities/mine")
def activities_mine():
    """The user's own activities: late, today, upcoming; done ones on demand."""
    with_done = request.args.get("done") == "1"
    return render_template("activities/mine.html", with_done=with_done,
                           mine=my_activities(current_user, datetime.now(UTC),
                                              with_done=with_done))


def _owner_page(activity: Activity) -> str:
    """The page of the record the activity is on."""
    for name in ("contact", "deal", "quote", "order", "contract", "invoice"):
        if getattr(activity, f"{name}_id") is not None:
            return record_page(f"{name}s", getattr(activity, f"{name}_id"))
    return record_page("accounts", activity.account_id)
