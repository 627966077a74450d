"""Forms and form helpers both faces use: logging in, the language, select choices, and
service errors shown on their fields."""
from __future__ import annotations

from typing import Any

from flask import flash
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

LANGUAGES = (("", _l("Browser language")), ("fr", "Français"), ("en", "English"))


def options(pairs: Any) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def flash_form_errors(form: FlaskForm) -> None:
    """A form posted from a page that redirects back: its errors as messages on that page."""
    for messages in form.errors.values():
        for message in messages:
            flash(message, "danger")


def apply_errors(form: FlaskForm, errors: dict[str, str]) -> list[str]:
    """Attach service errors to their fields; return those that belong to no field."""
    orphans = []
    for key, message in errors.items():
        name = key.replace("custom.", "cf_") if key.startswith("custom.") else key.split(".")[0]
        if name in form and name != "lines":
            form[name].errors = [*form[name].errors, message] if isinstance(
                form[name].errors, list) else [message]
        else:
            orphans.append(message)
    return orphans


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Log in"))


class ChangePasswordForm(FlaskForm):
    """A logged-in user's new password, in place, proved by his current one."""
    current_password = PasswordField(_l("Current password"), validators=[
        DataRequired(), Length(max=1024)], render_kw={"autocomplete": "current-password"})
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("New password, again"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Change my password"))


class LocaleForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=options(LANGUAGES))
    submit = SubmitField(_l("Save"))
