"""Forms built from the entity specs and the tenant's custom fields."""
from __future__ import annotations

import re
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TelField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.entities import (
    ENTITIES,
    FIELD_TYPE_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    Entity,
    Field,
)

# Shared with the extranet; imported here too for the back office's views.
from app.forms import LANGUAGES, LocaleForm, LoginForm, apply_errors, options  # noqa: F401
from app.models import ACTIVITY_KINDS, FIELD_TYPES, CustomField, Role, User
from app.policies import get_visible
from app.queries.records import record_id_by_text
from app.values import local_zone, parse_decimal

REF_ID = re.compile(r"#(\d{1,18})\s*$")


class AmountField(StringField):
    """An amount typed the French or English way: 1 234,56 or 1234.56."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.raw = valuelist[0] if valuelist else ""
        self.data = None
        if self.raw.strip():
            try:
                self.data = parse_decimal(self.raw)
            except (ValueError, ArithmeticError):
                raise ValueError(_l("Enter an amount, such as 1 234,56.")) from None

    def _value(self) -> str:
        if getattr(self, "raw", None) is not None:
            return self.raw
        return "" if self.data is None else format(self.data, "f")


class RefField(StringField):
    """A related record, typed with help from a lookup list; its data is the record id."""

    def __init__(self, *args: Any, ref: str = "", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.ref = ref
        self.label_text = ""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.raw = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if not self.raw:
            return
        match = REF_ID.search(self.raw)
        if match:
            self.data = int(match.group(1))
            return
        self.data = record_id_by_text(self.ref, self.raw)
        if self.data is None:
            raise ValueError(_l("Unknown record: choose one from the list."))

    def _value(self) -> str:
        if getattr(self, "raw", None):
            return self.raw
        return self.label_text


def ref_model(ref: str) -> type:
    return User if ref == "users" else ENTITIES[ref].model


def ref_label(ref: str, record: Any) -> str:
    if record is None:
        return ""
    if ref == "users":
        return f"{record.display_name} · #{record.id}"
    title = getattr(record, ENTITIES[ref].title_attr, None) or record.external_ref or ""
    return f"{title} · #{record.id}"


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LineForm(Form):
    sku = StringField(_l("SKU"), validators=[Optional(), Length(max=64)])
    label = StringField(_l("Label"), validators=[Optional(), Length(max=255)])
    quantity = AmountField(_l("Quantity"))
    unit_price = AmountField(_l("Unit price"))
    tax_rate = AmountField(_l("Tax rate"))


def choice_label(value: str) -> str:
    return str(STATUS_LABELS.get(value, value))


# A datetime-local input's value (its first format: what the browser accepts), then what
# browsers also send.
LOCAL_MOMENT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


def _core_field(f: Field) -> Any:
    required = [InputRequired()] if f.required else [Optional()]
    if f.type == "ref":
        return RefField(f.label, validators=required, ref=f.ref)
    if f.type == "date":
        return DateField(f.label, validators=[Optional()],
                         render_kw={"required": True} if f.required else None)
    if f.type == "money":
        return AmountField(f.label)
    if f.type == "datetime":
        return DateTimeLocalField(f.label, validators=[Optional()], format=LOCAL_MOMENT_FORMATS)
    if f.type == "boolean":
        return BooleanField(f.label)
    if f.type == "long_text":
        return TextAreaField(f.label, validators=[Optional(), Length(max=f.max_length)],
                             render_kw={"rows": 3})
    if f.type == "choice":
        return SelectField(f.label, choices=options((c, choice_label(c)) for c in f.choices),
                           validators=required)
    if f.type == "email":
        return EmailField(f.label, validators=[Optional(), Length(max=f.max_length)])
    if f.type == "phone":  # a phone's keypad, and its autofill
        return TelField(f.label, validators=[*required, Length(max=f.max_length)],
                        render_kw={"autocomplete": "tel"})
    return StringField(f.label, validators=[*required, Length(max=f.max_length)])


def custom_form_field(cf: CustomField, locale: str) -> Any:
    """A form field for a custom field; values are checked by app/custom_fields.py."""
    label = cf.label(locale)
    kw = {"render_kw": {"required": True}} if cf.is_required and cf.type != "boolean" else {}
    if cf.type == "long_text":
        return TextAreaField(label, **kw)
    if cf.type == "boolean":
        return BooleanField(label)
    if cf.type == "choice":
        return SelectField(label, choices=options([("", "—")] + [(c, c) for c in cf.choices]),
                           validate_choice=False, **kw)
    if cf.type == "multi_choice":
        return MultiCheckboxField(label, choices=options((c, c) for c in cf.choices),
                                  validate_choice=False)
    if cf.type == "date":
        return StringField(label, render_kw={"type": "date", **kw.get("render_kw", {})})
    if cf.type in ("integer", "decimal", "money"):
        return StringField(label, render_kw={"inputmode": "decimal", **kw.get("render_kw", {})})
    if cf.type == "email":
        return EmailField(label, **kw)
    if cf.type == "url":
        return URLField(label, **kw)
    return StringField(label, **kw)


def record_form(entity: Entity, custom_fields: list[CustomField], formdata: Any = None,
                obj: Any = None, data: dict | None = None) -> FlaskForm:
    """A form for one record of `entity`: its fields, lines and active custom fields."""
    locale = str(get_locale() or "fr")
    attrs: dict[str, Any] = {f.name: _core_field(f) for f in entity.fields}
    for cf in custom_fields:
        attrs[f"cf_{cf.key}"] = custom_form_field(cf, locale)
    if entity.line_model is not None:
        attrs["lines"] = FieldList(FormField(LineForm), min_entries=0, max_entries=500)
    attrs["submit"] = SubmitField(_l("Save"))
    form_class = type(f"{entity.name.title()}Form", (FlaskForm,), attrs)
    form = form_class(formdata=formdata, data=data)
    if formdata is None:
        _fill(form, entity, custom_fields, obj)
    return form


def _fill(form: FlaskForm, entity: Entity, custom_fields: list[CustomField], obj: Any) -> None:
    for f in entity.fields:
        field = form[f.name]
        if f.type == "ref":
            if obj is not None:
                field.data = getattr(obj, f.attr)
                field.label_text = ref_label(f.ref, getattr(obj, f.name))
            elif field.data:
                record = get_visible(ref_model(f.ref), field.data, current_user)
                field.label_text = ref_label(f.ref, record) if record else ""
        elif obj is not None:
            field.data = getattr(obj, f.attr)
            if f.type == "datetime" and field.data is not None:  # shown in local time
                field.data = field.data.astimezone(local_zone()).replace(tzinfo=None)
    values = (obj.custom if obj is not None else None) or {}
    for cf in custom_fields:
        value = values.get(cf.key)
        field = form[f"cf_{cf.key}"]
        if cf.type == "boolean":
            field.data = bool(value)
        elif cf.type == "multi_choice":
            field.data = list(value or [])
        elif value is not None:
            field.data = str(value).replace(".", ",") if cf.type in ("decimal", "money") and \
                str(get_locale()).startswith("fr") else str(value)
    if entity.line_model is not None:
        lines = list(obj.lines) if obj is not None else []
        for line in lines:
            form.lines.append_entry({k: getattr(line, k) for k in
                                     ("sku", "label", "quantity", "unit_price", "tax_rate")})
        for _ in range(3):
            form.lines.append_entry()


def form_to_data(form: FlaskForm, entity: Entity, custom_fields: list[CustomField]) -> dict:
    """The python values a form holds, in the shape services take."""
    data: dict[str, Any] = {f.name: form[f.name].data for f in entity.fields}
    for f in entity.fields:
        if f.type == "boolean":
            data[f.name] = bool(data[f.name])
        if f.type not in ("ref", "date", "money") and isinstance(data[f.name], str):
            data[f.name] = data[f.name].strip() or None
    custom: dict[str, Any] = {}
    for cf in custom_fields:
        value = form[f"cf_{cf.key}"].data
        custom[cf.key] = value if cf.type != "boolean" else bool(value)
    data["custom"] = custom
    if entity.line_model is not None:
        data["lines"] = [
            {k: entry[k].data for k in ("sku", "label", "quantity", "unit_price", "tax_rate")}
            for entry in form.lines if (entry["label"].data or "").strip()
        ]
    return data


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    full_name = StringField(_l("Full name"), validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Role"), choices=options(
        (role.value, ROLE_LABELS[role.value]) for role in Role))
    partner = RefField(_l("Partner (agents)"), ref="partners")
    account = RefField(_l("Customer (subscribers)"), ref="accounts")
    locale = SelectField(_l("Language"), choices=options(LANGUAGES))
    password = PasswordField(_l("Password"), validators=[Optional(), Length(max=1024)])
    is_active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))


class CustomFieldForm(FlaskForm):
    entity = SelectField(_l("Entity"))
    # Key and labels are checked by the service, which reports every mistake at once.
    key = StringField(_l("Key"), validators=[Length(max=50)], description=_l(
        "Left empty, it is made from the label. Used by imports (custom.<key>) and the API; "
        "fixed once created."))
    label_fr = StringField(_l("Label (French)"), validators=[Length(max=100)])
    label_en = StringField(_l("Label (English)"), validators=[Length(max=100)], description=_l(
        "One label is enough: the other language shows it until it is translated."))
    type = SelectField(_l("Type"), choices=options(
        (t, FIELD_TYPE_LABELS[t]) for t in FIELD_TYPES))
    choices = TextAreaField(_l("Choices (one per line)"), validators=[Length(max=10_000)])
    is_required = BooleanField(_l("Required"))
    is_portal_visible = BooleanField(_l("Visible in the extranet"))
    position = IntegerField(_l("Position"), default=0, validators=[Optional()])
    is_active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))


class AttachmentForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired()])
    submit = SubmitField(_l("Attach"))


class ActivityForm(FlaskForm):
    """An activity added from a record's page (the record gives its customer)."""

    kind = SelectField(_l("Kind"), choices=options(
        (kind, choice_label(kind)) for kind in ACTIVITY_KINDS))
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Details"), validators=[Optional(), Length(max=20000)],
                         render_kw={"rows": 2})
    due_at = DateTimeLocalField(_l("Due"), validators=[Optional()], format=LOCAL_MOMENT_FORMATS)
    is_staff_only = BooleanField(_l("Staff only"))
    submit = SubmitField(_l("Add"))

    def data_for_service(self) -> dict[str, Any]:
        return {"kind": self.kind.data, "subject": (self.subject.data or "").strip(),
                "body": (self.body.data or "").strip() or None, "due_at": self.due_at.data,
                "is_staff_only": bool(self.is_staff_only.data)}
