"""API tokens for admins: list, create (the secret is shown once, on the answer to the form),
revoke."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import Length

from app.backoffice import bp
from app.backoffice.forms import MultiCheckboxField, RefField, options
from app.models import ApiToken
from app.models.token import TOKEN_SCOPES
from app.policies import get_visible_or_404
from app.queries import administration
from app.services.tokens import create_token, revoke_token
from app.web.transactions import transaction

SCOPE_LABELS = {
    "read": _l("Read: lists and records"),
    "write": _l("Write: create and change records and custom fields"),
    "import": _l("Import: import profiles and files"),
    "export": _l("Export: exports"),
    "admin": _l("Admin: undo import runs"),
}


class TokenForm(FlaskForm):
    # Name and scopes are checked by the service, which gives the messages.
    name = StringField(_l("Name"), validators=[Length(max=100)],
                       description=_l("Which system uses it, e.g. “ERP nightly”."))
    scopes = MultiCheckboxField(_l("Scopes"), choices=options(
        (scope, SCOPE_LABELS[scope]) for scope in TOKEN_SCOPES))
    partner = RefField(_l("Partner (optional)"), ref="partners",
                       description=_l("A partner's token sees only what that partner's "
                                      "agents see."))
    submit = SubmitField(_l("Create the token"))


@bp.get("/admin/tokens")
def admin_tokens():
    return render_template("admin/tokens.html", tokens=administration.api_tokens(),
                           scope_labels=SCOPE_LABELS)


@bp.route("/admin/tokens/new", methods=["GET", "POST"])
def admin_token_new():
    form = TokenForm()
    if form.validate_on_submit():
        with transaction(form) as saved:
            token, secret = create_token(form.name.data, form.scopes.data, form.partner.data)
        if saved:
            # Rendered on the answer to the POST, never stored: a reload cannot show it again.
            return render_template("admin/token_created.html", token=token, secret=secret)
    return render_template("admin/token_new.html", form=form), 422 if form.errors else 200


@bp.post("/admin/tokens/<int:token_id>/revoke")
def admin_token_revoke(token_id: int):
    token = get_visible_or_404(ApiToken, token_id, current_user)
    with transaction():
        revoke_token(token)
    flash(_("Token %(name)s revoked: it no longer opens the API.", name=token.name), "success")
    return redirect(url_for("backoffice.admin_tokens"))
