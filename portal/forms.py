"""The extranet's own forms."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField, SubmitField, TelField
from wtforms.validators import Length, Optional


class ContactForm(FlaskForm):
    """A subscriber's contact details: those of his account."""
    email = EmailField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    phone = TelField(_l("Phone"), validators=[Optional(), Length(max=40)],
                     render_kw={"autocomplete": "tel"})
    address_line = StringField(_l("Address"), validators=[Optional(), Length(max=255)])
    postal_code = StringField(_l("Postal code"), validators=[Optional(), Length(max=20)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=100)])
    submit = SubmitField(_l("Save"))

    FIELDS = ("email", "phone", "address_line", "postal_code", "city")

