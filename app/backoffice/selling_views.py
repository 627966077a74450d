"""Admin settings of the online channel: the offers customers subscribe to, and the tenant as
a SEPA Direct Debit creditor."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
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
from wtforms.validators import Optional

from app.backoffice import bp
from app.backoffice.forms import MultiCheckboxField
from app.extensions import db
from app.forms import options
from app.models import CustomField, Offer
from app.policies import get_visible_or_404
from app.services.esign_seals import remove_tenant_seal, set_tenant_seal, tenant_seal
from app.services.offers import (
    MERGE_FIELDS,
    OFFER_FIELDS,
    create_offer,
    creditor,
    delete_offer,
    set_creditor,
    update_offer,
)
from app.web.transactions import transaction

RECURRENCE_LABELS = {"monthly": _l("Monthly"), "yearly": _l("Yearly"),
                     "one_off": _l("One-off")}
DEFAULT_TEMPLATE = _l(
    "Between {{ creditor.name }} and {{ customer.name }}, {{ customer.address }}.\n\n"
    "{{ customer.name }} subscribes to {{ offer.name }} for {{ offer.price }} "
    "({{ offer.recurrence }}) from {{ contract.start }}, paid by SEPA Direct Debit under "
    "mandate {{ mandate.reference }} given to {{ creditor.name }} "
    "(creditor identifier {{ creditor.identifier }}).\n\nSigned on {{ contract.signed_on }}.")


class OfferForm(FlaskForm):
    code = StringField(_l("Code (end of the web address)"),
                       render_kw={"autocapitalize": "none", "spellcheck": "false"})
    name = StringField(_l("Name"))
    description = TextAreaField(_l("Description"), render_kw={"rows": 3})
    price = StringField(_l("Price (€, taxes included)"), render_kw={"inputmode": "decimal"})
    recurrence = SelectField(_l("Recurrence"), choices=options(RECURRENCE_LABELS.items()))
    contract_template = TextAreaField(_l("Contract"), render_kw={"rows": 10})
    collected_fields = MultiCheckboxField(_l("Custom fields the customer fills in"),
                                          validate_choice=False)
    fulfilment_sku = StringField(_l("Ships at once: SKU"), validators=[Optional()])
    fulfilment_quantity = IntegerField(_l("Quantity"), default=1, validators=[Optional()],
                                       render_kw={"min": 1, "inputmode": "numeric"})
    is_published = BooleanField(_l("Published: customers can subscribe"))
    submit = SubmitField(_l("Save"))


class CreditorForm(FlaskForm):
    name = StringField(_l("Creditor name"))
    street = StringField(_l("Street"))
    building_number = StringField(_l("Building number"), validators=[Optional()])
    postal_code = StringField(_l("Postal code"))
    town = StringField(_l("Town"))
    country = StringField(_l("Country (two letters)"), default="FR",
                          render_kw={"maxlength": 2, "autocapitalize": "characters"})
    creditor_identifier = StringField(_l("Creditor identifier (ICS)"),
                                      render_kw={"autocapitalize": "characters"})
    iban = StringField(_l("IBAN of the collection account"),
                       render_kw={"autocapitalize": "characters", "spellcheck": "false"})
    bic = StringField(_l("BIC (found from the IBAN when the bank is known)"),
                      validators=[Optional()], render_kw={"autocapitalize": "characters"})
    prenotification_days = IntegerField(_l("Customers are notified this many days before a "
                                           "debit"), default=14, validators=[Optional()],
                                        render_kw={"min": 1, "max": 60})
    submit = SubmitField(_l("Save"))


class SealForm(FlaskForm):
    pkcs12_file = FileField(_l("The seal's PKCS#12 file (.p12 or .pfx)"),
                            render_kw={"accept": ".p12,.pfx,application/x-pkcs12"})
    passphrase = PasswordField(_l("Its passphrase"), render_kw={"autocomplete": "off"})
    submit = SubmitField(_l("Use this seal"))


def _account_fields() -> list[CustomField]:
    return list(db.session.scalars(select(CustomField).where(
        CustomField.entity == "accounts", CustomField.is_active.is_(True))
        .order_by(CustomField.position, CustomField.id)))


def _offer_data(form: OfferForm) -> dict:
    data = {name: getattr(form, name).data for name in OFFER_FIELDS
            if name not in ("currency", "collected_fields")}
    data["collected_fields"] = form.collected_fields.data or []
    return data


@bp.get("/admin/offers")
def admin_offers():
    offers = db.session.scalars(select(Offer).order_by(Offer.name, Offer.id)).all()
    return render_template("admin/offers.html", offers=offers, creditor=creditor(),
                           recurrence_labels=RECURRENCE_LABELS)


@bp.route("/admin/offers/new", methods=["GET", "POST"])
def admin_offer_new():
    form = OfferForm()
    if not form.is_submitted():
        form.contract_template.data = str(DEFAULT_TEMPLATE)
    return _offer_form(form, None)


@bp.route("/admin/offers/<int:offer_id>", methods=["GET", "POST"])
def admin_offer_edit(offer_id: int):
    offer = get_visible_or_404(Offer, offer_id, current_user)
    form = OfferForm(obj=offer)
    if not form.is_submitted():
        form.price.data = format_decimal(offer.price, format="0.00")
    return _offer_form(form, offer)


def _offer_form(form: OfferForm, offer: Offer | None):
    form.collected_fields.choices = options(
        (field.key, field.label(str(get_locale() or "fr"))) for field in _account_fields())
    failed = False
    if form.validate_on_submit():
        with transaction(form, flash_errors=False) as saved:
            saved_offer = update_offer(offer, _offer_data(form)) if offer \
                else create_offer(_offer_data(form))
        if saved:
            flash(_("Offer “%(name)s” saved.", name=saved_offer.name), "success")
            return redirect(url_for("backoffice.admin_offers"))
        failed = True
    return render_template("admin/offer_form.html", form=form, offer=offer,
                           merge_fields=MERGE_FIELDS), 422 if failed or form.errors else 200


@bp.post("/admin/offers/<int:offer_id>/delete")
def admin_offer_delete(offer_id: int):
    offer = get_visible_or_404(Offer, offer_id, current_user)
    if not FlaskForm().validate_on_submit():
        abort(400)
    with transaction(user_errors=True) as saved:
        name = offer.name
        delete_offer(offer)
    if saved:
        flash(_("Offer “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("backoffice.admin_offers"))


def _sepa_page(form: CreditorForm, seal_form: SealForm, status: int) -> tuple[str, int]:
    return render_template("admin/sepa.html", form=form, creditor=creditor(),
                           seal_form=seal_form, seal=tenant_seal()), status


@bp.route("/admin/sepa", methods=["GET", "POST"])
def admin_sepa():
    found = creditor()
    form = CreditorForm(obj=found)
    failed = False
    if form.validate_on_submit():
        with transaction(form, flash_errors=False) as saved:
            set_creditor({name: field.data for name, field in form._fields.items()
                          if name not in ("csrf_token", "submit")})
        if saved:
            flash(_("The SEPA creditor settings are saved."), "success")
            return redirect(url_for("backoffice.admin_sepa"))
        failed = True
    return _sepa_page(form, SealForm(formdata=None), 422 if failed or form.errors else 200)


@bp.post("/admin/sepa/seal")
def admin_seal():
    """The tenant's own electronic seal, checked then kept encrypted (services/esign_seals)."""
    seal_form = SealForm()
    if not seal_form.validate_on_submit():
        abort(400)
    upload = seal_form.pkcs12_file.data
    data = upload.read(1024 * 1024) if upload else b""
    with transaction(seal_form, flash_errors=False) as saved:
        set_tenant_seal(data, seal_form.passphrase.data or "")
    if saved:
        flash(_("Your contracts are now sealed with your own certificate."), "success")
        return redirect(url_for("backoffice.admin_sepa"))
    return _sepa_page(CreditorForm(formdata=None, obj=creditor()), seal_form, 422)


@bp.post("/admin/sepa/seal/remove")
def admin_seal_remove():
    if not FlaskForm().validate_on_submit():
        abort(400)
    with transaction(user_errors=True) as saved:
        removed = remove_tenant_seal()
    if saved and removed:
        flash(_("Your seal is removed: contracts are sealed with the platform's certificate."),
              "success")
    return redirect(url_for("backoffice.admin_sepa"))
