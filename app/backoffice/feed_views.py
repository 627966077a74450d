"""Feeds in the back office: health, import profiles (mapping screen, JSON, versions), runs.

Staff see feeds, runs and their errors; only admins change profiles and start runs.
"""
from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.backoffice import bp
from app.backoffice.feed_forms import (
    MODE_LABELS,
    CorrectedFileForm,
    ProfileForm,
    ProfileJsonForm,
    RunForm,
    fill_form,
    form_definition,
    json_text,
    parse_json,
    posted_columns,
    profile_columns,
    resuggest,
    seen_version,
    show_errors,
    target_choices,
    with_sample,
)
from app.backoffice.feed_mapping import grouped, read_sample
from app.backoffice.run_labels import (
    RUN_SOURCE_LABELS,
    RUN_STATUS_COLORS,
    RUN_STATUS_LABELS,
    run_status_color,
    run_status_label,
)
from app.error_pages import ERROR_PAGES
from app.errors import ValidationError
from app.forms import flash_form_errors
from app.models import ImportProfile, ImportRun
from app.models.base import MAX_ID
from app.models.feed import CUT_SHORT, RUN_STATUSES
from app.policies import can_administer, get_visible_or_404
from app.queries import error_groups
from app.queries import feeds as queries
from app.queries.exports import pulls_by_profile
from app.queries.feed_accounts import inbox_problems
from app.queries.history import readable_history
from app.services import feeds as service
from app.services.files import too_large
from app.services.import_revert import (
    RevertPlan,
    later_go,
    plan_revert,
    request_revert,
    revert_reason,
    run_entity,
)
from app.services.tenants import get_tenant_by_slug
from app.tenancy import tenant_context
from app.web.downloads import download
from app.web.lists import first_page_unless_valid
from app.web.transactions import transaction
from importers import jobs
from importers.errors_csv import error_message, stream_errors_csv
from importers.readers import ReaderError
from importers.row_messages import group_message, run_message
from importers.value_maps import (
    MAX_SOURCE,
    saved_mappings,
    unmapped_values,
)

ADMIN_ONLY = {"backoffice.feed_profile_edit", "backoffice.feed_profile_json",
              "backoffice.feed_run_start", "backoffice.feed_run_rerun", "backoffice.feed_run_apply",
              "backoffice.feed_run_corrected", "backoffice.feed_value_map",
              "backoffice.feed_run_revert"}
UPLOADS = ("backoffice.feed_run_start", "backoffice.feed_run_corrected")
UPLOAD_ENVELOPE = 64 * 1024  # multipart headers and the form's other fields


@bp.url_value_preprocessor
def allow_large_imports(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # An import file may be far larger than other uploads. Raised here, before the request
    # hooks that read the body (NUL check, CSRF), and only for one who may start a run on
    # this URL's tenant: anybody else's body stays under MAX_CONTENT_LENGTH (413).
    if endpoint in UPLOADS and request.method == "POST" and _may_start_runs():
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"] + UPLOAD_ENVELOPE
        g.large_import_allowed = True


def _may_start_runs() -> bool:
    """Whether the session's user administers the URL's tenant (loaded as the request hook
    would load him; Flask-Login keeps him for the rest of the request)."""
    tenant = get_tenant_by_slug(g.get("tenant_slug") or "")
    if tenant is None:
        return False
    with tenant_context(tenant.id):
        return current_user.is_authenticated and can_administer(current_user)


@bp.errorhandler(RequestEntityTooLarge)
def import_too_large(error: RequestEntityTooLarge):
    if not g.get("large_import_allowed"):
        title, message = ERROR_PAGES[413]
        return render_template("error.html", code=413, title=title, message=message), 413
    for message in too_large(current_app.config["IMPORT_MAX_BYTES"]).errors.values():
        flash(message, "danger")
    if "run_id" in (request.view_args or {}):
        return redirect(url_for("backoffice.feed_run", run_id=request.view_args["run_id"]))
    return redirect(url_for("backoffice.feed_profile", profile_id=request.view_args["profile_id"]))


@bp.before_request
def feeds_for_staff():
    endpoint = request.endpoint or ""
    if not endpoint.startswith("backoffice.feed_") or not current_user.is_authenticated:
        return
    if not current_user.is_staff or (endpoint in ADMIN_ONLY and not can_administer(current_user)):
        abort(403)


@bp.context_processor
def feed_globals() -> dict[str, Any]:
    return {"run_status_labels": RUN_STATUS_LABELS, "run_status_colors": RUN_STATUS_COLORS,
            "run_source_labels": RUN_SOURCE_LABELS, "mode_labels": MODE_LABELS,
            "can_administer_feeds": can_administer(current_user),
            "progress_text": progress_text, "error_message": error_message,
            "run_message": run_message,
            "group_message": group_message, "error_groups_by_value": error_groups.is_by_value,
            "run_status_label": run_status_label, "run_status_color": run_status_color}


def progress_text(progress: queries.Progress) -> str:
    rate = format_decimal(round(progress.rate))
    if progress.total:
        return ngettext("%(done)s / %(total)s row · %(rate)s rows/s",
                        "%(done)s / %(total)s rows · %(rate)s rows/s", progress.total,
                        done=format_decimal(progress.done),
                        total=format_decimal(progress.total), rate=rate)
    return ngettext("%(done)s row · %(rate)s rows/s", "%(done)s rows · %(rate)s rows/s",
                    progress.done, done=format_decimal(progress.done), rate=rate)


def _profile_or_404(profile_id: int) -> ImportProfile:
    return get_visible_or_404(ImportProfile, profile_id, current_user)


def _run_or_404(run_id: int) -> ImportRun:
    return get_visible_or_404(ImportRun, run_id, current_user)


def _submit(run: ImportRun) -> Any:
    """Hand a queued run to the workers; the page follows its progress (or says why a file
    already imported has nothing to do)."""
    jobs.queue_run(run)
    return redirect(url_for("backoffice.feed_run", run_id=run.id))


def _save_profile(profile: ImportProfile | None, definition: Any,
                  seen: int | None) -> ImportProfile:
    """Write the profile's new version (the caller's transaction() commits it), unless
    someone saved one since the page showed version `seen`."""
    return service.update_profile(profile, definition, order_counts=True, seen_version=seen) \
        if profile is not None \
        else service.create_profile(definition)


def _saved(profile: ImportProfile) -> Any:
    flash(_("Profile “%(name)s” saved (version %(version)d).", name=profile.name,
            version=profile.version), "success")
    return redirect(url_for("backoffice.feed_profile", profile_id=profile.id))


# -- health, profiles -----------------------------------------------------------------------

@bp.get("/feeds/")
def feed_health():
    now = datetime.now(UTC)
    return render_template("feeds/health.html", feeds=queries.feed_health(now),
                           inbox_problems=inbox_problems(now), pulls=pulls_by_profile(),
                           days=queries.HEALTH_DAYS)


@bp.get("/feeds/profiles")
def feed_profiles():
    return render_template("feeds/profiles.html", feeds=queries.feed_health(datetime.now(UTC)))


@bp.get("/feeds/profiles/<int:profile_id>")
def feed_profile(profile_id: int):
    profile = _profile_or_404(profile_id)
    runs = queries.recent_runs(profile)
    return render_template("feeds/profile.html", profile=profile, form=RunForm(), runs=runs,
                           json_text=json_text, **_unmapped(_last_finished(runs), profile),
                           mappings=saved_mappings(profile))


def _last_finished(runs: list[ImportRun]) -> ImportRun | None:
    return next((run for run in runs if run.is_finished), None)


# The mapping a user typed and was refused, shown again in its value's field (not cleared).
REFUSED_MAPPING = "refused_value_map"


def _unmapped(run: ImportRun | None, profile: ImportProfile | None) -> dict[str, Any]:
    """The run's values without a mapping (`unmapped`), and how many there are when the
    page lists only some of them (`unmapped_of`, else 0), for an admin; the mapping he was
    just refused (`refused`: its column, value and the target he typed), once."""
    if run is None or profile is None or not run.failed or not can_administer(current_user):
        return {"unmapped": [], "unmapped_of": 0, "refused": None}
    values, total = unmapped_values(run, profile)
    refused = session.pop(REFUSED_MAPPING, None)
    return {"unmapped": values, "unmapped_of": total if total > len(values) else 0,
            "refused": refused if (refused or {}).get("profile") == profile.id else None}


@bp.post("/feeds/profiles/<int:profile_id>/value-maps")
def feed_value_map(profile_id: int):
    """Map one value of a column's files (an empty target removes its mapping)."""
    profile = _profile_or_404(profile_id)
    # Cut past the longest value a mapping takes, so that one too long is refused, not
    # saved cut (where it would match nothing).
    column, source, target = (request.form.get(name, "")[:MAX_SOURCE + 1]
                              for name in ("column", "source", "target"))
    with transaction(user_errors=True) as outcome:
        saved = service.map_value(profile, column, source, target)
    if outcome:  # the mapping alone, whatever was typed in the profile's form
        flash(_("Value mappings of “%(name)s” saved (version %(version)d).", name=saved.name,
                version=saved.version), "success")
    elif target:  # its field keeps what was typed, to be corrected rather than typed again
        session[REFUSED_MAPPING] = {"profile": profile.id, "column": column, "source": source,
                                    "target": target}
    run_id = request.form.get("run", type=int)
    if run_id and 0 < run_id <= MAX_ID:
        return redirect(url_for("backoffice.feed_run", run_id=run_id))
    if request.form.get("back") == "edit":  # from the mapping screen
        return redirect(url_for("backoffice.feed_profile_edit", profile_id=profile.id))
    return redirect(url_for("backoffice.feed_profile", profile_id=profile.id))


@bp.route("/feeds/profiles/new", methods=["GET", "POST"], defaults={"profile_id": None})
@bp.route("/feeds/profiles/<int:profile_id>/edit", methods=["GET", "POST"])
def feed_profile_edit(profile_id: int | None):
    """The mapping screen: options, a sample's columns and the field each one goes to."""
    profile = _profile_or_404(profile_id) if profile_id else None
    form = ProfileForm()
    if request.method == "GET":
        fill_form(form, profile.definition if profile else None)
        form.version.data = str(profile.version) if profile else ""
    columns = posted_columns(request.form) if request.method == "POST" \
        else profile_columns(profile.definition if profile else None)
    errors: list[str] = []
    action = request.form.get("action", "save")
    if form.validate_on_submit():
        with transaction(flash_errors=False, user_errors=True) as outcome:
            if action == "read":
                columns = with_sample(form, columns, _sample(form))
            elif action == "suggest":
                columns = resuggest(form, columns)
            else:
                saved = _save_profile(profile, form_definition(
                    form, columns, profile.definition if profile else None), seen_version(form))
        if outcome.errors:
            errors = show_errors(form, columns, outcome.errors)
        elif action not in ("read", "suggest"):
            return _saved(saved)
    failed = bool(errors or form.errors or any(c.error for c in columns))
    # Below the form, its value mappings and the last run's values without one.
    last = _last_finished(queries.recent_runs(profile)) if profile else None
    return render_template("feeds/profile_form.html", form=form, profile=profile, errors=errors,
                           columns=columns, groups=grouped(target_choices(form)),
                           mappings=saved_mappings(profile) if profile else [],
                           **_unmapped(last, profile)), \
        422 if failed else 200


def _sample(form: ProfileForm) -> Any:
    upload = form.sample.data
    if not upload or not upload.filename:
        raise ValidationError({"sample": _("Choose a sample file.")})
    try:
        return read_sample(upload.stream, form.encoding.data or "auto",
                           "\t" if form.delimiter.data == "tab" else form.delimiter.data,
                           (form.sheet.data or "").strip() or None)
    except ReaderError as exc:
        raise ValidationError({"sample": str(exc)}) from None


@bp.route("/feeds/profiles/new/json", methods=["GET", "POST"], defaults={"profile_id": None})
@bp.route("/feeds/profiles/<int:profile_id>/json", methods=["GET", "POST"])
def feed_profile_json(profile_id: int | None):
    """The profile as JSON, for those who prefer to write it."""
    profile = _profile_or_404(profile_id) if profile_id else None
    form = ProfileJsonForm()
    if request.method == "GET":
        form.definition.data = json_text(profile.definition if profile else EXAMPLE_PROFILE)
        form.version.data = str(profile.version) if profile else ""
    errors: list[str] = []
    if form.validate_on_submit():
        with transaction(flash_errors=False, user_errors=True) as outcome:
            saved = _save_profile(profile, parse_json(form.definition.data), seen_version(form))
        if outcome:
            return _saved(saved)
        errors = [f"{key}: {message}" if key else message
                  for key, message in outcome.errors.items()]
    return render_template("feeds/profile_json.html", form=form, profile=profile,
                           errors=errors), 422 if errors or form.errors else 200


EXAMPLE_PROFILE = {
    "name": "", "entity": "invoices", "mode": "upsert",
    "columns": {"N° facture": "number", "Code client": "account.external_ref",
                "Date": "issued_on", "Montant TTC": "total"},
    "key": "number", "encoding": "auto", "delimiter": "auto", "date_format": "auto",
    "decimal": "auto", "full_sync": False}


# -- runs -----------------------------------------------------------------------------------

@bp.post("/feeds/profiles/<int:profile_id>/runs")
def feed_run_start(profile_id: int):
    """Store the uploaded file as a queued run; workers import it while the page watches."""
    profile = _profile_or_404(profile_id)
    form = RunForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("backoffice.feed_profile", profile_id=profile.id))
    upload = form.file.data
    with transaction(user_errors=True) as outcome:
        run = service.create_run(profile, upload.stream, upload.filename or "", source="upload",
                                 dry_run=form.dry_run.data, force=form.force.data)
    if not outcome:
        return redirect(url_for("backoffice.feed_profile", profile_id=profile.id))
    return _submit(run)


@bp.post("/feeds/runs/<int:run_id>/corrected")
def feed_run_corrected(run_id: int):
    """The file fixed from this run's errors, as a new run of its profile with its options."""
    run = _run_or_404(run_id)
    form = CorrectedFileForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("backoffice.feed_run", run_id=run.id))
    upload = form.file.data
    with transaction(user_errors=True) as outcome:
        new_run = service.import_corrected_file(run, upload.stream, upload.filename or "")
    if not outcome:
        return redirect(url_for("backoffice.feed_run", run_id=run.id))
    return _submit(new_run)


@bp.get("/feeds/runs")
def feed_runs():
    profile_id = request.args.get("profile", type=int)
    profile_id = profile_id if profile_id and 0 < profile_id <= MAX_ID else None
    status = request.args.get("status") if request.args.get("status") in RUN_STATUSES else None
    page = first_page_unless_valid(partial(queries.runs_page, profile_id, status,
                                           current_app.config["PAGE_SIZE"]), request.args)
    return render_template("feeds/runs.html", page=page, profile_id=profile_id, status=status,
                           profiles=queries.profile_names(), statuses=RUN_STATUSES)


@bp.get("/feeds/runs/<int:run_id>")
def feed_run(run_id: int):
    return _run_page(_run_or_404(run_id))


def _run_page(run: ImportRun, preview: RevertPlan | None = None) -> Any:
    # One group of errors (`group`), or a whole kind whatever the value (`kind`).
    kind_id = request.args.get("kind", type=int)
    group_id = kind_id or request.args.get("group", type=int)
    group = error_groups.group_first(run, group_id) \
        if group_id and 0 < group_id <= MAX_ID else None
    whole_kind = bool(kind_id) and group is not None
    errors = first_page_unless_valid(partial(queries.errors_page, run, group=group,
                                             whole_kind=whole_kind), request.args)
    samples = run.diff_sample or []
    entity = run_entity(run).name if run.profile else None
    diffs = list(zip(samples, ([(c.label, c.before, c.after) for c in changes]
                               for changes in readable_history(
                                   (entity, d.get("before"), d.get("after")) for d in samples)),
                     strict=True))
    return render_template("feeds/run.html", run=run, errors=errors, diffs=diffs,
                           entity_name=entity,
                           summary=error_groups.error_summary(run), group=group,
                           whole_kind=whole_kind,
                           corrected_form=CorrectedFileForm(),
                           **_unmapped(run, run.profile),
                           progress=queries.run_progress(run, datetime.now(UTC)),
                           rerunnable=run.status in CUT_SHORT, preview=preview,
                           taken_up=later_go(run) if run.can_revert else None,
                           revert_reason=revert_reason)


@bp.post("/feeds/runs/<int:run_id>/revert")
def feed_run_revert(run_id: int):
    """Queue the undoing of a finished run, or (dry run) show what undoing it would do."""
    run = _run_or_404(run_id)
    if request.form.get("dry_run") == "1":
        with transaction(user_errors=True) as outcome:
            plan = plan_revert(run)
        return _run_page(run, plan) if outcome else \
            redirect(url_for("backoffice.feed_run", run_id=run.id))
    with transaction(user_errors=True) as outcome:
        request_revert(run)
    if outcome:
        jobs.queue_revert(run)
        flash(_("The revert is queued: this page says when it is done."), "success")
    return redirect(url_for("backoffice.feed_run", run_id=run.id))


@bp.get("/feeds/runs/<int:run_id>/status")
def feed_run_status(run_id: int):
    """The run's progress for the page's progress bar (polled every second)."""
    run = _run_or_404(run_id)
    progress = queries.run_progress(run, datetime.now(UTC))
    response = jsonify(id=run.id, status=run.status, finished=run.is_finished,
                       revert_status=run.revert_status,
                       status_label=run_status_label(run), counts=run.counts,
                       rows_done=progress.done, rows_total=progress.total,
                       percent=progress.percent, rate=progress.rate,
                       text=progress_text(progress))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/feeds/runs/<int:run_id>/errors.csv")
def feed_run_errors(run_id: int):
    """The failing rows as sent, plus what went wrong: fixed, the file goes back as is."""
    run = _run_or_404(run_id)
    return download(stream_errors_csv(run), filename=f"import-{run.id}-errors.csv",
                    mimetype="text/csv")


@bp.post("/feeds/runs/<int:run_id>/rerun")
def feed_run_rerun(run_id: int):
    """An interrupted or failed run, again on the same file."""
    run = _run_or_404(run_id)
    if run.status not in CUT_SHORT:
        flash(_("Only an interrupted or failed run can be run again."), "warning")
        return redirect(url_for("backoffice.feed_run", run_id=run.id))
    return _run_again(run, lambda: service.rerun(run))


@bp.post("/feeds/runs/<int:run_id>/apply")
def feed_run_apply(run_id: int):
    """A dry run's file, imported for real."""
    run = _run_or_404(run_id)
    if not run.can_apply:
        flash(_("Only a finished dry run can be imported for real."), "warning")
        return redirect(url_for("backoffice.feed_run", run_id=run.id))
    return _run_again(run, lambda: service.apply_dry_run(run))


def _run_again(run: ImportRun, create: Any) -> Any:
    try:
        with transaction(user_errors=True) as outcome:
            new_run = create()
    except FileNotFoundError:
        flash(_("The file of this run is no longer kept: upload it again."), "danger")
    else:
        if outcome:
            return _submit(new_run)
    return redirect(url_for("backoffice.feed_run", run_id=run.id))
