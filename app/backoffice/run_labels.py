"""How an import run's state reads in the back office: its status, and a dry run's outcome in
words ("Essai à blanc : 120 lignes seraient créées, 3 en erreur") rather than an import's."""
from __future__ import annotations

from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.models import ImportRun

RUN_STATUS_LABELS = {
    "queued": _l("Queued"), "running": _l("Running"), "succeeded": _l("Succeeded"),
    "partial": _l("Partly imported"), "failed": _l("Failed"), "interrupted": _l("Interrupted")}
RUN_STATUS_COLORS = {"queued": "secondary", "running": "info", "succeeded": "success",
                     "partial": "warning", "failed": "danger", "interrupted": "danger"}
RUN_SOURCE_LABELS = {"upload": _l("Web upload"), "api": _l("API"), "cli": _l("Command line"),
                     "sftp": _l("SFTP")}
# A dry run that went through the whole file: its outcome is what the import would do.
DRY_RUN_DONE = ("succeeded", "partial")


def is_finished_dry_run(run: ImportRun) -> bool:
    return run.is_dry_run and run.status in DRY_RUN_DONE


def run_status_label(run: ImportRun) -> str:
    """The run's status as its badge reads."""
    if is_finished_dry_run(run):
        return dry_run_outcome(run)
    return str(RUN_STATUS_LABELS.get(run.status, run.status))


def run_status_color(run: ImportRun) -> str:
    if is_finished_dry_run(run):
        return "warning" if run.failed else "info"
    return RUN_STATUS_COLORS.get(run.status, "secondary")


def dry_run_outcome(run: ImportRun) -> str:
    """"Dry run: 120 rows would be created, 4 updated, 3 in error"."""
    parts = []
    if run.created:
        parts.append(ngettext("%(count)s row would be created", "%(count)s rows would be created",
                              run.created, count=format_decimal(run.created)))
    if run.updated:
        parts.append(ngettext("%(count)s would be updated", "%(count)s would be updated",
                              run.updated, count=format_decimal(run.updated)))
    if run.archived:
        parts.append(ngettext("%(count)s would be archived", "%(count)s would be archived",
                              run.archived, count=format_decimal(run.archived)))
    if run.failed:
        parts.append(ngettext("%(count)s in error", "%(count)s in error", run.failed,
                              count=format_decimal(run.failed)))
    if not parts:
        parts.append(_("nothing would change"))
    return _("Dry run: %(outcome)s", outcome=", ".join(parts))
