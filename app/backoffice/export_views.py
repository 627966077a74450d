"""Exports for admins: definitions (entity, columns, filters, format, destination, schedule),
their runs with each file downloadable again, "run now"; the tenant's SFTP servers; a feed's
scheduled pull."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from app.backoffice import bp
from app.entities import ENTITIES
from app.extensions import db
from app.forms import options
from app.models import Export, ExportRun, FeedAccount, ImportProfile, SftpServer
from app.policies import get_visible_or_404
from app.queries.exports import export_runs_select, exports_select, sftp_servers
from app.services.exports import create_export, delete_export, start_run, update_export
from app.services.pulls import delete_pull, pull_of, set_pull
from app.services.sftp_servers import create_sftp_server, delete_sftp_server
from app.web.transactions import transaction
from importers.export_files import MEDIA_TYPES
from importers.export_rows import column_choices
from importers.export_runs import run_file_path
from importers.scheduled import submit_run
from importers.sftp_client import fingerprint

FORMAT_LABELS = {
    "csv_cp1252": _l("CSV ; Windows-1252 (accounting software)"),
    "csv_utf8": _l("CSV ; UTF-8 with BOM"),
    "xlsx": _l("Excel workbook (XLSX)"),
}
DESTINATION_LABELS = {
    "download": _l("Kept for download only"),
    "email": _l("E-mail"),
    "sftp": _l("Our SFTP server"),
    "outbox": _l("The outbox of one of our SFTP accounts"),
}
RUN_STATUS_LABELS = {
    "queued": _l("Waiting"),
    "running": _l("Running"),
    "succeeded": _l("Done"),
    "failed": _l("Failed"),
}
RUNS_SHOWN = 50


class ExportForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=100)])
    entity = SelectField(_l("Records"))
    columns = TextAreaField(_l("Columns, one a line"), render_kw={"rows": 6})
    filters = StringField(
        _l("Filters (as in a list's address)"),
        validators=[Length(max=1000)],
        description=_l("e.g. status=paid&issued_on_from=2026-01-01"),
    )
    format = SelectField(_l("Format"), choices=options(FORMAT_LABELS.items()))
    destination = SelectField(_l("Destination"), choices=options(DESTINATION_LABELS.items()))
    recipients = StringField(
        _l("E-mail recipients (separated by commas)"), validators=[Length(max=2000)]
    )
    sftp_server_id = SelectField(_l("SFTP server"), validators=[Optional()])
    folder = StringField(_l("Remote folder"), validators=[Length(max=500)])
    feed_account_id = SelectField(_l("SFTP account (its outbox/)"), validators=[Optional()])
    schedule = StringField(
        _l("Schedule (cron, your time zone; empty: on demand)"),
        validators=[Length(max=100)],
        description=_l("e.g. 30 6 * * 1-5: weekdays at 06:30"),
    )
    changes_only = BooleanField(_l("Only what changed since the last export"))
    is_active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entity.choices = options(
            (name, str(e.label)) for name, e in ENTITIES.items() if name != "attachments"
        )
        self.sftp_server_id.choices = _server_choices()
        self.feed_account_id.choices = options(
            [("", "—"), *((str(a.id), a.name) for a in db.session.scalars(
                select(FeedAccount).order_by(FeedAccount.name)))])


def _server_choices() -> list:
    return options([("", "—"), *((str(s.id), s.name) for s in sftp_servers())])


def _data(form: ExportForm) -> dict[str, Any]:
    return {
        "name": form.name.data,
        "entity": form.entity.data,
        "columns": [
            c.strip()
            for c in (form.columns.data or "").replace(",", "\n").splitlines()
            if c.strip()
        ],
        "filters": dict(parse_qsl(form.filters.data or "")),
        "format": form.format.data,
        "destination": form.destination.data,
        "recipients": form.recipients.data,
        "sftp_server_id": form.sftp_server_id.data or None,
        "folder": form.folder.data,
        "feed_account_id": form.feed_account_id.data or None,
        "schedule": form.schedule.data or None,
        "changes_only": form.changes_only.data,
        "is_active": form.is_active.data,
    }


def _fill(form: ExportForm, export: Export) -> None:
    options = export.destination_options or {}
    form.name.data, form.entity.data = export.name, export.entity
    form.columns.data = "\n".join(export.columns)
    form.filters.data = "&".join(f"{k}={v}" for k, v in (export.filters or {}).items())
    form.format.data, form.destination.data = export.format, export.destination
    form.recipients.data = ", ".join(options.get("recipients", []))
    form.sftp_server_id.data = str(export.sftp_server_id or "")
    form.folder.data = options.get("folder", "")
    form.feed_account_id.data = str(options.get("feed_account_id") or "")
    form.schedule.data = export.schedule or ""
    form.changes_only.data, form.is_active.data = export.is_changes_only, export.is_active


def _render(form: ExportForm, export: Export | None) -> tuple:
    runs = (
        db.session.scalars(
            export_runs_select(current_user, export.id)
            .order_by(ExportRun.id.desc())
            .limit(RUNS_SHOWN)
        ).all()
        if export is not None
        else []
    )
    vocabulary = {name: column_choices(e) for name, e in ENTITIES.items() if name != "attachments"}
    return render_template(
        "exports/form.html",
        form=form,
        export=export,
        runs=runs,
        vocabulary=vocabulary,
        format_labels=FORMAT_LABELS,
        run_status_labels=RUN_STATUS_LABELS,
        destination_labels=DESTINATION_LABELS,
    ), 422 if form.errors else 200


@bp.get("/admin/exports")
def admin_exports():
    exports = db.session.scalars(exports_select(current_user).order_by(Export.name)).all()
    last = {
        run.export_id: run
        for run in db.session.scalars(
            export_runs_select(current_user).order_by(ExportRun.id.desc()).limit(500)
        )
        if run.export_id
    }
    return render_template(
        "exports/list.html",
        exports=exports,
        last=last,
        servers=sftp_servers(),
        format_labels=FORMAT_LABELS,
        run_status_labels=RUN_STATUS_LABELS,
        destination_labels=DESTINATION_LABELS,
        fingerprint=fingerprint,
    )


@bp.route("/admin/exports/new", methods=["GET", "POST"])
def admin_export_new():
    form = ExportForm()
    if form.validate_on_submit():
        with transaction(form) as saved:
            export = create_export(_data(form))
        if saved:
            flash(_("Export saved."), "success")
            return redirect(url_for("backoffice.admin_export_edit", export_id=export.id))
    return _render(form, None)


@bp.route("/admin/exports/<int:export_id>", methods=["GET", "POST"])
def admin_export_edit(export_id: int):
    export = get_visible_or_404(Export, export_id, current_user)
    form = ExportForm()
    if request.method == "GET":
        _fill(form, export)
    elif form.validate_on_submit():
        with transaction(form) as saved:
            update_export(export, _data(form))
        if saved:
            flash(_("Export saved."), "success")
            return redirect(url_for("backoffice.admin_export_edit", export_id=export.id))
    return _render(form, export)


@bp.post("/admin/exports/<int:export_id>/run")
def admin_export_run(export_id: int):
    export = get_visible_or_404(Export, export_id, current_user)
    with transaction(user_errors=True) as saved:
        run = start_run(export, "manual")
    if saved:
        submit_run(run)
        flash(_("The export is running: its file appears below when it is ready."), "success")
    return redirect(url_for("backoffice.admin_export_edit", export_id=export.id))


@bp.post("/admin/exports/<int:export_id>/delete")
def admin_export_delete(export_id: int):
    export = get_visible_or_404(Export, export_id, current_user)
    with transaction():
        delete_export(export)
    flash(_("Export deleted."), "success")
    return redirect(url_for("backoffice.admin_exports"))


@bp.get("/admin/exports/runs/<int:run_id>/file")
def admin_export_file(run_id: int):
    run = get_visible_or_404(ExportRun, run_id, current_user)
    path = run_file_path(run) if run.file_name else None
    if path is None or not path.exists():
        abort(404)
    return send_file(
        path, mimetype=MEDIA_TYPES[run.format], as_attachment=True, download_name=run.file_name
    )


# -- SFTP servers ---------------------------------------------------------------------------


class SftpServerForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=100)])
    host = StringField(_l("Host"), validators=[Length(max=255)])
    port = IntegerField(_l("Port"), default=22, validators=[Optional()])
    username = StringField(_l("User name"), validators=[Length(max=100)])
    password = PasswordField(_l("Password"), validators=[Length(max=1000)])
    private_key = TextAreaField(
        _l("Or a private key (OpenSSH or PEM, unencrypted)"),
        validators=[Length(max=20000)],
        render_kw={"rows": 4},
    )
    host_key = StringField(
        _l("Host key (empty: read from the server now)"), validators=[Length(max=5000)]
    )
    submit = SubmitField(_l("Save"))


@bp.route("/admin/sftp-servers/new", methods=["GET", "POST"])
def admin_sftp_server_new():
    form = SftpServerForm()
    if form.validate_on_submit():
        with transaction(form) as saved:
            server = create_sftp_server(form.data)
        if saved:
            flash(
                _(
                    "Server saved; its host key is pinned: %(fingerprint)s",
                    fingerprint=fingerprint(server.host_key),
                ),
                "success",
            )
            return redirect(url_for("backoffice.admin_exports"))
    return render_template("exports/sftp_server_form.html", form=form), 422 if form.errors else 200


@bp.post("/admin/sftp-servers/<int:server_id>/delete")
def admin_sftp_server_delete(server_id: int):
    server = get_visible_or_404(SftpServer, server_id, current_user)
    with transaction(user_errors=True) as saved:
        delete_sftp_server(server)
    if saved:
        flash(_("Server removed."), "success")
    return redirect(url_for("backoffice.admin_exports"))


# -- a feed's scheduled pull ----------------------------------------------------------------


class PullForm(FlaskForm):
    kind = SelectField(
        _l("Fetch from"),
        choices=options([("sftp", _l("Our SFTP server")), ("https", _l("An HTTPS address"))]),
    )
    sftp_server_id = SelectField(_l("SFTP server"), validators=[Optional()])
    path = StringField(_l("Remote file"), validators=[Length(max=500)])
    url = StringField(_l("HTTPS address"), validators=[Length(max=2000)])
    schedule = StringField(
        _l("Schedule (cron, your time zone)"),
        validators=[Length(max=100)],
        description=_l("e.g. 0 5 * * *: every day at 05:00"),
    )
    is_active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sftp_server_id.choices = _server_choices()


@bp.route("/admin/feeds/<int:profile_id>/pull", methods=["GET", "POST"])
def admin_feed_pull(profile_id: int):
    profile = db.session.scalar(select(ImportProfile).where(ImportProfile.id == profile_id))
    if profile is None:
        abort(404)
    pull = pull_of(profile)
    form = PullForm()
    if request.method == "GET" and pull is not None:
        form.kind.data, form.path.data, form.url.data = pull.kind, pull.path, pull.url
        form.sftp_server_id.data = str(pull.sftp_server_id or "")
        form.schedule.data, form.is_active.data = pull.schedule, pull.is_active
    elif form.validate_on_submit():
        if request.form.get("remove") and pull is not None:
            with transaction():
                delete_pull(pull)
            flash(_("The feed no longer fetches its file."), "success")
            return redirect(url_for("backoffice.admin_feed_pull", profile_id=profile.id))
        with transaction(form) as saved:
            set_pull(profile, {**form.data, "sftp_server_id": form.sftp_server_id.data})
        if saved:
            flash(_("Pull saved."), "success")
            return redirect(url_for("backoffice.admin_feed_pull", profile_id=profile.id))
    return render_template(
        "exports/pull_form.html", form=form, profile=profile, pull=pull
    ), 422 if form.errors else 200
