"""The domain's entities described once: fields, labels, list columns, search and sorts.

Forms, list pages, filters, detail pages and CSV exports are built from these specs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from flask_babel import lazy_gettext as _l

from app import models as m


@dataclass(frozen=True)
class Field:
    name: str
    label: Any
    # text long_text email phone date datetime money decimal choice country boolean ref
    type: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    ref: str | None = None  # entity name of a related record (type "ref")
    max_length: int = 255
    in_list: bool = False
    filter: bool = False
    sort: bool = False

    @cached_property  # read for every value of every record written
    def attr(self) -> str:
        """The model attribute: `account` for a ref field stores `account_id`."""
        return f"{self.name}_id" if self.type == "ref" else self.name


@dataclass(frozen=True)
class Entity:
    name: str
    model: type
    label: Any
    singular: Any
    title_attr: str
    fields: tuple[Field, ...]
    search: tuple[str, ...]
    default_sort: str
    line_model: type | None = None
    date_field: str | None = None
    icon: str = "file-earmark"
    extra: dict = field(default_factory=dict)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def sortable(self) -> list[str]:
        return [f.name for f in self.fields if f.sort]


STATUS_LABELS = {
    "draft": _l("Draft"), "sent": _l("Sent"), "accepted": _l("Accepted"),
    "refused": _l("Refused"), "expired": _l("Expired"), "confirmed": _l("Confirmed"),
    "in_progress": _l("In progress"), "delivered": _l("Delivered"), "cancelled": _l("Cancelled"),
    "issued": _l("Issued"), "paid": _l("Paid"), "overdue": _l("Overdue"),
    "pending_signature": _l("Pending signature"), "active": _l("Active"),
    "terminated": _l("Terminated"), "planned": _l("Planned"), "shipped": _l("Shipped"),
    "returned": _l("Returned"), "prospect": _l("Prospect"), "qualified": _l("Qualified"),
    "proposal": _l("Proposal"), "negotiation": _l("Negotiation"), "won": _l("Won"),
    "lost": _l("Lost"), "company": _l("Company"), "person": _l("Person"),
    "note": _l("Note"), "call": _l("Call"), "task": _l("Task"), "meeting": _l("Meeting"),
}

ROLE_LABELS = {
    "admin": _l("Administrator"), "sales": _l("Sales"), "agent": _l("Agent (partner)"),
    "subscriber": _l("Subscriber"),
}

FIELD_TYPE_LABELS = {
    "text": _l("Text"), "long_text": _l("Long text"), "integer": _l("Whole number"),
    "decimal": _l("Decimal number"), "money": _l("Amount"), "date": _l("Date"),
    "boolean": _l("Yes / no"), "choice": _l("Choice"), "multi_choice": _l("Multiple choice"),
    "email": _l("E-mail"), "url": _l("Web address"),
}

REF = _l("External reference")


def _ref_field() -> Field:
    return Field("external_ref", REF, max_length=100, filter=True, sort=True)


def _partner() -> Field:
    return Field("partner", _l("Partner"), "ref", ref="partners", in_list=True, filter=True)


def _account() -> Field:
    return Field("account", _l("Customer"), "ref", required=True, ref="accounts", in_list=True,
                 filter=True)


def _totals() -> tuple[Field, ...]:
    return (
        Field("total_excl_tax", _l("Total excl. tax"), "money", sort=True),
        Field("tax_total", _l("Tax"), "money"),
        Field("total", _l("Total"), "money", in_list=True, filter=True, sort=True),
        Field("currency", _l("Currency"), max_length=3),
    )


ENTITIES: dict[str, Entity] = {}


def _register(entity: Entity) -> None:
    ENTITIES[entity.name] = entity


_register(Entity(
    "partners", m.Partner, _l("Partners"), _l("Partner"), "name",
    (
        Field("name", _l("Name"), required=True, max_length=200, in_list=True, sort=True),
        Field("email", _l("E-mail"), "email", max_length=254, in_list=True),
        Field("phone", _l("Phone"), "phone", max_length=40, in_list=True),
        _ref_field(),
    ),
    search=("name", "email", "external_ref"), default_sort="name", icon="people",
))
_register(Entity(
    "accounts", m.Account, _l("Customers"), _l("Customer"), "name",
    (
        Field("name", _l("Name"), required=True, max_length=200, in_list=True, sort=True),
        Field("kind", _l("Kind"), "choice", required=True, choices=m.ACCOUNT_KINDS, filter=True),
        Field("email", _l("E-mail"), "email", max_length=254),
        Field("phone", _l("Phone"), "phone", max_length=40, in_list=True),
        Field("address_line", _l("Address")),
        Field("postal_code", _l("Postal code"), max_length=20, filter=True),
        Field("city", _l("City"), max_length=100, in_list=True, filter=True, sort=True),
        Field("country", _l("Country"), "country", required=True, max_length=2, filter=True),
        Field("vat_number", _l("VAT number"), max_length=20),
        Field("owner", _l("Owner"), "ref", ref="users", filter=True),
        _partner(),
        _ref_field(),
    ),
    search=("name", "email", "city", "external_ref", "postal_code"), default_sort="name",
    icon="building",
))
_register(Entity(
    "contacts", m.Contact, _l("Contacts"), _l("Contact"), "name",
    (
        _account(),
        Field("first_name", _l("First name"), max_length=100, in_list=True),
        Field("last_name", _l("Last name"), required=True, max_length=100, in_list=True,
              sort=True),
        Field("email", _l("E-mail"), "email", max_length=254, in_list=True),
        Field("phone", _l("Phone"), "phone", max_length=40, in_list=True),
        Field("job_title", _l("Job title"), max_length=100),
        _ref_field(),
    ),
    search=("last_name", "first_name", "email"), default_sort="last_name", icon="person-lines-fill",
))
_register(Entity(
    "deals", m.Deal, _l("Deals"), _l("Deal"), "title",
    (
        Field("title", _l("Title"), required=True, max_length=200, in_list=True, sort=True),
        _account(), _partner(),
        Field("stage", _l("Stage"), "choice", required=True, choices=m.DEAL_STAGES, in_list=True,
              filter=True, sort=True),
        Field("amount", _l("Amount"), "money", in_list=True, filter=True, sort=True),
        Field("expected_close_on", _l("Expected close"), "date", in_list=True, filter=True,
              sort=True),
        _ref_field(),
    ),
    search=("title", "external_ref"), default_sort="-expected_close_on",
    date_field="expected_close_on",
    icon="graph-up-arrow",
))
_register(Entity(
    "quotes", m.Quote, _l("Quotes"), _l("Quote"), "number",
    (
        Field("number", _l("Number"), max_length=50, in_list=True, sort=True),
        _account(), _partner(),
        Field("deal", _l("Deal"), "ref", ref="deals"),
        Field("issued_on", _l("Issued on"), "date", in_list=True, filter=True, sort=True),
        Field("valid_until", _l("Valid until"), "date", in_list=True, filter=True, sort=True),
        Field("status", _l("Status"), "choice", required=True, choices=m.QUOTE_STATUSES,
              in_list=True, filter=True, sort=True),
        *_totals(), _ref_field(),
    ),
    search=("number", "external_ref"), default_sort="-issued_on", line_model=m.QuoteLine,
    date_field="issued_on", icon="file-earmark-text",
))
_register(Entity(
    "orders", m.Order, _l("Orders"), _l("Order"), "number",
    (
        Field("number", _l("Number"), max_length=50, in_list=True, sort=True),
        _account(), _partner(),
        Field("quote", _l("Quote"), "ref", ref="quotes"),
        Field("ordered_on", _l("Ordered on"), "date", in_list=True, filter=True, sort=True),
        Field("status", _l("Status"), "choice", required=True, choices=m.ORDER_STATUSES,
              in_list=True, filter=True, sort=True),
        *_totals(), _ref_field(),
    ),
    search=("number", "external_ref"), default_sort="-ordered_on", line_model=m.OrderLine,
    date_field="ordered_on", icon="cart",
))
_register(Entity(
    "contracts", m.Contract, _l("Contracts"), _l("Contract"), "number",
    (
        Field("number", _l("Number"), max_length=50, in_list=True, sort=True),
        Field("title", _l("Title"), required=True, max_length=200, in_list=True, sort=True),
        _account(), _partner(),
        Field("starts_on", _l("Starts on"), "date", in_list=True, filter=True, sort=True),
        Field("ends_on", _l("Ends on"), "date", in_list=True, filter=True, sort=True),
        Field("status", _l("Status"), "choice", required=True, choices=m.CONTRACT_STATUSES,
              in_list=True, filter=True, sort=True),
        Field("signed_on", _l("Signed on"), "date", filter=True),
        Field("recurring_amount", _l("Recurring amount"), "money", in_list=True, sort=True),
        Field("currency", _l("Currency"), max_length=3),
        _ref_field(),
    ),
    search=("number", "title", "external_ref"), default_sort="-starts_on", date_field="starts_on",
    icon="file-earmark-check",
))
_register(Entity(
    "deliveries", m.Delivery, _l("Deliveries"), _l("Delivery"), "number",
    (
        Field("number", _l("Number"), max_length=50, in_list=True, sort=True),
        _account(), _partner(),
        Field("order", _l("Order"), "ref", ref="orders"),
        Field("status", _l("Status"), "choice", required=True, choices=m.DELIVERY_STATUSES,
              in_list=True, filter=True, sort=True),
        Field("shipped_on", _l("Shipped on"), "date", filter=True, sort=True),
        Field("expected_on", _l("Expected on"), "date", in_list=True, filter=True, sort=True),
        Field("delivered_on", _l("Delivered on"), "date", in_list=True, filter=True, sort=True),
        Field("carrier", _l("Carrier"), max_length=100, in_list=True, filter=True),
        Field("tracking_number", _l("Tracking number"), max_length=100),
        _ref_field(),
    ),
    search=("number", "tracking_number", "external_ref"), default_sort="-expected_on",
    date_field="expected_on", icon="truck",
))
_register(Entity(
    "invoices", m.Invoice, _l("Invoices"), _l("Invoice"), "number",
    (
        Field("number", _l("Number"), max_length=50, in_list=True, sort=True),
        _account(), _partner(),
        Field("order", _l("Order"), "ref", ref="orders"),
        Field("issued_on", _l("Issued on"), "date", in_list=True, filter=True, sort=True),
        Field("due_on", _l("Due on"), "date", in_list=True, filter=True, sort=True),
        Field("status", _l("Status"), "choice", required=True, choices=m.INVOICE_STATUSES,
              in_list=True, filter=True, sort=True),
        *_totals(),
        Field("amount_paid", _l("Amount paid"), "money"),
        _ref_field(),
    ),
    search=("number", "external_ref"), default_sort="-issued_on", line_model=m.InvoiceLine,
    date_field="issued_on", icon="receipt",
))
_register(Entity(
    "attachments", m.Attachment, _l("Attachments"), _l("Attachment"), "file_name",
    (
        Field("file_name", _l("File name"), in_list=True, sort=True),
        Field("media_type", _l("Type"), in_list=True, filter=True),
        Field("size", _l("Size"), "integer", in_list=True, sort=True),
        Field("account", _l("Customer"), "ref", ref="accounts", in_list=True, filter=True),
        _ref_field(),
    ),
    search=("file_name", "extracted_text"), default_sort="-created_at", icon="paperclip",
))

_register(Entity(
    "activities", m.Activity, _l("Activities"), _l("Activity"), "subject",
    (
        Field("kind", _l("Kind"), "choice", required=True, choices=m.ACTIVITY_KINDS,
              in_list=True, filter=True),
        Field("subject", _l("Subject"), required=True, max_length=200, in_list=True, sort=True),
        Field("body", _l("Details"), "long_text", max_length=20000),
        Field("due_at", _l("Due"), "datetime", in_list=True, filter=True, sort=True),
        Field("done_at", _l("Done on"), "datetime", in_list=True, filter=True, sort=True),
        Field("owner", _l("Owner"), "ref", ref="users", filter=True),
        _account(),
        Field("contact", _l("Contact"), "ref", ref="contacts", filter=True),
        Field("deal", _l("Deal"), "ref", ref="deals", filter=True),
        Field("quote", _l("Quote"), "ref", ref="quotes", filter=True),
        Field("order", _l("Order"), "ref", ref="orders", filter=True),
        Field("contract", _l("Contract"), "ref", ref="contracts", filter=True),
        Field("invoice", _l("Invoice"), "ref", ref="invoices", filter=True),
        Field("is_staff_only", _l("Staff only"), "boolean", filter=True),
        _ref_field(),
    ),
    search=("subject", "external_ref"), default_sort="-due_at", date_field="due_at",
    icon="chat-left-text",
    # `done=true|false`: whether done_at is set (the API and list filters read it).
    extra={"flags": {"done": "done_at"}},
))

# Entities that can be created and edited through forms (attachments are uploaded).
EDITABLE = [name for name in ENTITIES if name != "attachments"]


def get_entity(name: str) -> Entity:
    return ENTITIES[name]


def entity_of(record: Any) -> Entity:
    for entity in ENTITIES.values():
        if isinstance(record, entity.model):
            return entity
    raise KeyError(type(record).__name__)
