"""Feed accounts for admins (Feeds → SFTP accounts): list, create, change, disable or enable;
each account's recent arrivals. The health page lists the files that did not go in."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import NumberRange, Optional

from app.backoffice import bp
from app.models import FeedAccount
from app.policies import can_administer, get_visible_or_404
from app.queries import feed_accounts as queries
from app.services import feed_accounts as service
from app.web.transactions import transaction

MB = 1024 * 1024
ARRIVAL_STATUS_LABELS = {
    "incomplete": _l("Upload cut: the connection ended mid-file; not imported"),
    "unrouted": _l("No route takes this file: it waits in the folder"),
    "refused": _l("Refused"),
    "imported": _l("Imported"),
    "removed": _l("Upload cut, since removed"),
}


class FeedAccountForm(FlaskForm):
    # Checked by the service, which gives the messages.
    name = StringField(
        _l("Name"),
        description=_l(
            "Lowercase letters, digits, - and _. The SFTP login, shown once saved, is your "
            "organisation's code, a dot and this name (demo.erp-nuit)."
        ),
    )
    password = PasswordField(
        _l("Password"),
        description=_l(
            "At least 10 characters. Leave empty to keep the current one, or for keys only."
        ),
    )
    public_keys = TextAreaField(
        _l("SSH public keys"),
        render_kw={"rows": 3},
        description=_l("One a line, as in a .pub file: ssh-ed25519 AAAA… name."),
    )
    routes = TextAreaField(
        _l("Routes"),
        render_kw={"rows": 4},
        description=_l(
            "One a line, PATTERN=PROFILE: clients/*.csv=clients-nuit. The first pattern matching "
            "the file's path in the folder picks the profile; a pattern without / matches the "
            "file's name in any folder."
        ),
    )
    quota_mb = IntegerField(
        _l("Quota (MB)"),
        validators=[Optional(), NumberRange(min=1)],
        description=_l("Empty: the platform's default."),
    )
    max_file_mb = IntegerField(
        _l("Largest file (MB)"),
        validators=[Optional(), NumberRange(min=1)],
        description=_l("Empty: the largest file an import takes."),
    )
    is_active = BooleanField(_l("Active"), default=True)

    def data_for_service(self) -> dict:
        return {
            "name": self.name.data,
            "password": self.password.data or "",
            "public_keys": self.public_keys.data or "",
            "routes": self.routes.data or "",
            "quota_bytes": self.quota_mb.data * MB if self.quota_mb.data else None,
            "max_file_bytes": self.max_file_mb.data * MB if self.max_file_mb.data else None,
            "is_active": self.is_active.data,
        }


@bp.context_processor
def arrival_labels() -> dict:
    return {"arrival_status_labels": ARRIVAL_STATUS_LABELS}


@bp.before_request
def feed_accounts_for_admins():
    if (
        (request.endpoint or "").startswith("backoffice.feed_account")
        and current_user.is_authenticated
        and not can_administer(current_user)
    ):
        abort(403)


def _routes_text(account: FeedAccount) -> str:
    names = service.profile_names(account)
    return "\n".join(
        f"{r['pattern']}={names.get(r['profile_id'], r['profile_id'])}"
        for r in account.routes or ()
    )


@bp.get("/feeds/accounts")
def feed_accounts():
    accounts = queries.accounts()
    return render_template(
        "feeds/accounts.html", accounts=accounts, slug=g.tenant.slug, routes_text=_routes_text
    )


@bp.route("/feeds/accounts/new", methods=["GET", "POST"])
def feed_account_new():
    form = FeedAccountForm()
    if form.validate_on_submit():
        with transaction(form) as saved:
            account = service.create_account(form.data_for_service())
        if saved:
            flash(
                _(
                    "Feed account %(login)s created.",
                    login=service.login_name(g.tenant.slug, account),
                ),
                "success",
            )
            return redirect(url_for("backoffice.feed_account", account_id=account.id))
    return render_template(
        "feeds/account_form.html", form=form, account=None
    ), 422 if form.errors else 200


@bp.route("/feeds/accounts/<int:account_id>", methods=["GET", "POST"])
def feed_account(account_id: int):
    account = get_visible_or_404(FeedAccount, account_id, current_user)
    form = FeedAccountForm(obj=None if request.method == "POST" else account)
    if request.method == "GET":
        form.public_keys.data = "\n".join(account.public_keys or ())
        form.routes.data = _routes_text(account)
        form.quota_mb.data = account.quota_bytes // MB if account.quota_bytes else None
        form.max_file_mb.data = account.max_file_bytes // MB if account.max_file_bytes else None
    elif form.validate_on_submit():
        with transaction(form) as saved:
            service.update_account(account, form.data_for_service())
        if saved:
            flash(_("Feed account saved."), "success")
            return redirect(url_for("backoffice.feed_account", account_id=account.id))
    return render_template(
        "feeds/account_form.html",
        form=form,
        account=account,
        login=service.login_name(g.tenant.slug, account),
        fingerprint=service.fingerprint,
        arrivals=queries.recent_arrivals(account),
    ), 422 if form.errors else 200


@bp.post("/feeds/accounts/<int:account_id>/active")
def feed_account_active(account_id: int):
    account = get_visible_or_404(FeedAccount, account_id, current_user)
    active = request.form.get("active") == "1"
    with transaction():
        service.set_active(account, active)
    flash(
        _("Feed account enabled.")
        if active
        else _("Feed account disabled: its logins are refused."),
        "success",
    )
    return redirect(url_for("backoffice.feed_accounts"))
