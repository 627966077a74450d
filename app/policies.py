"""Who may see and change what, inside a tenant.

Admins and sales see all of the tenant's records; an agent sees his partner's records only;
a subscriber sees his own account's records only (his SEPA mandates and debits too, which
no agent sees); neither sees drafts (quotes, orders,
contracts and invoices not yet sent, confirmed, signed or issued). A record a user may not
see answers 404.

Writes (can_create, can_change, can_delete; a partner's API token is an agent here): staff
write whatever they see; an agent writes his partner's customers, contacts and documents,
never a partner, never a deletion that would change a record he cannot see, never a value
the extranet would not let him give (refused_values: a quote's answer, a contract's
signature); a subscriber changes his own customer's details only. The services apply these
to the acting user.
"""
from __future__ import annotations

from typing import Any

from flask import abort
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true

from app import models as m
from app.extensions import db
from app.models.base import MAX_ID
from app.models.tenant import Role, User

_PARTNER_OWNED = (m.Deal, m.Quote, m.Order, m.Contract, m.Delivery, m.Invoice)
# Documents with a draft status: a draft is the tenant's work in progress, not yet the
# customer's or the agent's business.
_DRAFTED = (m.Quote, m.Order, m.Contract, m.Invoice)
_ACTIVITY_PARENTS = {"contact": m.Contact, "deal": m.Deal, "quote": m.Quote, "order": m.Order,
                     "contract": m.Contract, "invoice": m.Invoice}
_LINES = {m.QuoteLine: (m.Quote, "quote_id"), m.OrderLine: (m.Order, "order_id"),
          m.InvoiceLine: (m.Invoice, "invoice_id")}


def visibility_clause(model: type, user: User | None) -> ColumnElement[bool]:
    """A WHERE clause restricting `model` to the rows `user` may see."""
    if user is None or not getattr(user, "is_active", False):
        return false()
    if user.role in (Role.ADMIN, Role.SALES):
        return true()
    if model in (m.User, m.CustomField, m.AuditEvent, m.Offer, m.SepaCreditor,
                 m.Collection, m.Subscription, m.OutgoingMail):
        return false()
    if user.role == Role.AGENT:
        return _agent_clause(model, user.partner_id)
    if user.role == Role.SUBSCRIBER:
        return _subscriber_clause(model, user.account_id)
    return false()


def _agent_clause(model: type, partner_id: int | None) -> ColumnElement[bool]:
    if partner_id is None:
        return false()
    if model is m.Partner:
        return m.Partner.id == partner_id
    if model is m.Account:
        return m.Account.partner_id == partner_id
    if model is m.Contact:
        return m.Contact.account_id.in_(
            select(m.Account.id).where(m.Account.partner_id == partner_id))
    if model in _PARTNER_OWNED:
        return _issued(model, model.partner_id == partner_id)
    if model in _LINES:
        parent, fk = _LINES[model]
        return getattr(model, fk).in_(
            select(parent.id).where(_issued(parent, parent.partner_id == partner_id)))
    if model is m.Attachment:
        return _attachment_clause(lambda parent: _agent_clause(parent, partner_id))
    if model is m.Activity:
        return _activity_clause(lambda parent: _agent_clause(parent, partner_id))
    return false()


def _activity_clause(parent_clause: Any) -> ColumnElement[bool]:
    """An agent sees the activities of the records he sees, when his tenant shows them in the
    extranet, never those kept for the staff."""
    shown = select(m.Tenant.id).where(m.Tenant.id == m.Activity.tenant_id,
                                      m.Tenant.is_portal_activities_enabled.is_(True))
    parts = [shown.exists(), m.Activity.is_staff_only.is_(False),
             m.Activity.account_id.in_(select(m.Account.id).where(parent_clause(m.Account)))]
    for name in m.ACTIVITY_RECORDS:
        column, parent = getattr(m.Activity, f"{name}_id"), _ACTIVITY_PARENTS[name]
        parts.append(or_(column.is_(None),
                         column.in_(select(parent.id).where(parent_clause(parent)))))
    return and_(*parts)


def _subscriber_clause(model: type, account_id: int | None) -> ColumnElement[bool]:
    if account_id is None:
        return false()
    if model is m.Account:
        return m.Account.id == account_id
    if model is m.Contact or model in _PARTNER_OWNED:
        return _issued(model, model.account_id == account_id)
    if model in _LINES:
        parent, fk = _LINES[model]
        return getattr(model, fk).in_(
            select(parent.id).where(_issued(parent, parent.account_id == account_id)))
    if model is m.Attachment:
        return _attachment_clause(lambda parent: _subscriber_clause(parent, account_id))
    if model in (m.Mandate, m.Debit):  # his direct debits, read in the extranet
        return model.account_id == account_id
    return false()


def _issued(model: type, clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """`clause`, drafts aside for the documents that have them."""
    return and_(clause, model.status != "draft") if model in _DRAFTED else clause


def _attachment_clause(parent_clause: Any) -> ColumnElement[bool]:
    """An attachment is visible when the record it is attached to is."""
    from app.entities import ENTITIES

    parts = []
    for name, entity in ENTITIES.items():
        if entity.model is m.Attachment:
            continue
        clause = parent_clause(entity.model)
        parts.append(and_(
            m.Attachment.record_type == name,
            m.Attachment.record_id.in_(select(entity.model.id).where(clause)),
        ))
    return or_(*parts)


def deleted_clause(entity_name: str, user: User | None) -> ColumnElement[bool]:
    """A WHERE clause on the audit events of deleted `entity_name` records: those whose
    snapshot (`before`) `user` would have seen, judged by its partner and account."""
    from app.entities import ENTITIES

    if user is None or not getattr(user, "is_active", False):
        return false()
    if user.role in (Role.ADMIN, Role.SALES):
        return true()
    before, model = m.AuditEvent.before, ENTITIES[entity_name].model
    if model is m.Attachment:
        parents = [and_(before["record_type"].as_string() == name,
                        before["record_id"].as_integer().in_(
                            select(entity.model.id).where(visibility_clause(entity.model, user))))
                   for name, entity in ENTITIES.items() if entity.model is not m.Attachment]
        return or_(*parents)
    if model in _DRAFTED:  # a draft was never theirs to see, nor is its deletion
        return and_(before["status"].as_string() != "draft",
                    _deleted_in_reach(model, before, user))
    return _deleted_in_reach(model, before, user)


def _deleted_in_reach(model: type, before: Any, user: User) -> ColumnElement[bool]:
    if user.role == Role.AGENT and user.partner_id is not None:
        if model is m.Partner:
            return m.AuditEvent.record_id == user.partner_id
        if model is m.Account or model in _PARTNER_OWNED:
            return before["partner_id"].as_integer() == user.partner_id
        if model is m.Contact:
            return before["account_id"].as_integer().in_(
                select(m.Account.id).where(m.Account.partner_id == user.partner_id))
    if user.role == Role.SUBSCRIBER and user.account_id is not None:
        if model is m.Account:
            return m.AuditEvent.record_id == user.account_id
        if model is m.Contact or model in _PARTNER_OWNED:
            return before["account_id"].as_integer() == user.account_id
    return false()


def visible(stmt: Select, model: type, user: User | None) -> Select:
    """Restrict a select of `model` to what `user` may see."""
    return stmt.where(visibility_clause(model, user))


def get_visible(model: type, record_id: Any, user: User | None) -> Any | None:
    """Load one record by id through the tenant filter and the user's visibility."""
    try:
        record_id = int(record_id)
    except (TypeError, ValueError):
        return None
    if not 0 < record_id <= MAX_ID:
        return None
    stmt = visible(select(model).where(model.id == record_id), model, user)
    return db.session.scalars(stmt).first()


def get_visible_or_404(model: type, record_id: Any, user: User | None) -> Any:
    record = get_visible(model, record_id, user)
    if record is None:
        abort(404)
    return record


def get_visible_by_ref_or_404(model: type, external_ref: str, user: User | None) -> Any:
    """Load one record by its external_ref (the key of the tenant's other systems) through
    the tenant filter and the user's visibility; 404 otherwise."""
    stmt = visible(select(model).where(model.external_ref == external_ref), model, user)
    record = db.session.scalars(stmt).first()
    if record is None:
        abort(404)
    return record


# What an agent (and a partner's API token) may create and change: his partner's customers,
# their contacts and the partner's documents. Never a partner: the partner record is the
# tenant's (its external_ref is the key of the tenant's other systems), and deleting it would
# cut off its agents and tokens and detach every record of it.
_AGENT_WRITABLE = (m.Account, m.Contact, *_PARTNER_OWNED)


def can_create(user: User | None, model: type) -> bool:
    """Staff create any record; an agent his partner's customers, contacts and documents (of
    his partner, which the services check once written); a subscriber nothing."""
    if not _active(user):
        return False
    if user.is_staff:
        return True
    if user.role != Role.AGENT or user.partner_id is None:
        return False
    if model is m.Activity:
        return portal_activities(user)
    return model in _AGENT_WRITABLE


# The extranet's lists of each role, in menu order. Narrower than what `visible` allows: an
# agent may read his customers' contacts, yet the extranet shows him none.
PORTAL_ENTITIES = {
    Role.AGENT: ("accounts", "deals", "contracts", "quotes", "orders", "deliveries", "invoices"),
    Role.SUBSCRIBER: ("contracts", "quotes", "orders", "deliveries", "invoices"),
}
# Related records named on an extranet page even when the user has no list of them: his
# customer, his partner.
NAMED_REFS = frozenset({"accounts", "partners"})


def portal_shown(role: Role) -> frozenset[str]:
    """The entities a user of `role` may meet in the extranet: his lists and the named ones."""
    return frozenset(PORTAL_ENTITIES.get(role, ())) | NAMED_REFS


def portal_activities(user: Any) -> bool:
    """Whether the user's tenant shows activities to its agents in the extranet."""
    from app.tenancy import current_tenant_id

    return bool(db.session.scalar(select(m.Tenant.is_portal_activities_enabled).where(
        m.Tenant.id == current_tenant_id())))


def can_change(user: User | None, record: Any) -> bool:
    """Staff change any record they see; an agent the records he sees of the kinds he may
    create (never a partner); a subscriber his own customer's details."""
    if not _active(user):
        return False
    if user.is_staff:
        return True
    if user.role == Role.SUBSCRIBER:
        return isinstance(record, m.Account) and record.id == user.account_id \
            and user.account_id is not None
    if isinstance(record, m.Activity) and (
            record.created_by_id is None or record.created_by_id != getattr(user, "id", None)):
        return False  # an agent's own activities only: a token has none
    return can_create(user, type(record)) and _sees(user, record)


def can_delete(user: User | None, record: Any) -> bool:
    """Staff delete any record they see; an agent a record he may change whose deletion
    changes no record out of his sight (deleting empties the references to it); a
    subscriber nothing."""
    if not _active(user):
        return False
    if user.is_staff:
        return True
    if user.role != Role.AGENT or not can_change(user, record):
        return False
    return not _dependents_out_of_sight(record, user)


def _active(user: User | None) -> bool:
    return bool(user and getattr(user, "is_active", False))


def _sees(user: User, record: Any) -> bool:
    return record.id is not None and get_visible(type(record), record.id, user) is not None


def _dependents_out_of_sight(record: Any, user: User) -> bool:
    """Whether a record `user` may not see points at `record` (and so would change if
    `record` were deleted): a record of another partner, a draft, a user of the extranet."""
    from app.entities import ENTITIES, entity_of

    name = entity_of(record).name
    for other in ENTITIES.values():
        model = other.model
        for field in other.fields:
            if field.type != "ref" or field.ref != name:
                continue
            # NOT IN the visible ids, rather than NOT (clause): a NULL partner must count.
            hidden = select(model.id).where(
                getattr(model, field.attr) == record.id,
                model.id.not_in(select(model.id).where(visibility_clause(model, user))))
            if db.session.scalar(hidden.limit(1)) is not None:
                return True
    if isinstance(record, m.Account):  # its subscribers would lose their extranet
        users = select(m.User.id).where(m.User.account_id == record.id)
        return db.session.scalar(users.limit(1)) is not None
    return False


QUOTE_ANSWERS = ("accepted", "refused")


def answer_refusal(status: str | None) -> str | None:
    """Why a quote in `status` (None: a new one) may not be accepted or refused now, or None:
    a quote awaits its customer's answer once sent, and is answered once."""
    if status == "sent":
        return None
    if status is None:
        return _("A quote is accepted or refused once sent, as its answer: create it as sent.")
    return _("This quote is not awaiting an answer any more.")


def refused_values(user: User | None, model: type, current: dict[str, Any] | None,
                   values: dict[str, Any], lines: list[dict[str, Any]] | None = None
                   ) -> dict[str, str]:
    """The values, among those `user` gives a record of `model` (whose `current` values are
    None for a new one; `lines`: the lines he gives), that he may not give, with the reason by
    field. An agent (and a partner's token) may do what the extranet lets him: answer a quote
    while it is sent, once, on the lines and amounts it was sent with; he neither signs nor
    ends a contract. Staff and platform work (feeds, jobs) are free."""
    if user is None or user.is_staff:
        return {}
    current = current or {}
    if model is m.Quote:
        return _refused_quote_values(current, values, lines)
    if model is m.Contract:
        return _refused_contract_values(current, values)
    return {}


QUOTE_AMOUNTS = ("total_excl_tax", "tax_total", "total", "currency")


def _refused_quote_values(current: dict[str, Any], values: dict[str, Any],
                          lines: list[dict[str, Any]] | None) -> dict[str, str]:
    old = current.get("status")
    new = values.get("status", old)
    refused = {}
    if old in QUOTE_ANSWERS or new in QUOTE_ANSWERS:
        changed = [name for name in QUOTE_AMOUNTS
                   if name in values and values[name] != current.get(name)]
        for name in (["lines"] if lines is not None else []) + changed:
            refused[name] = _("A quote is answered on its lines and amounts: they can no "
                              "longer change.")
    if new == old:
        return refused
    if old in QUOTE_ANSWERS:
        refused["status"] = _("This quote has been answered: only the tenant's staff can "
                              "change its status.")
    elif new in QUOTE_ANSWERS and answer_refusal(old):
        refused["status"] = answer_refusal(old)
    return refused


# A contract is signed (active) by its customer, through the tenant; ending it is the
# tenant's decision. The extranet offers an agent neither.
CONTRACT_SIGNED = ("active", "terminated")


def _refused_contract_values(current: dict[str, Any], values: dict[str, Any]
                             ) -> dict[str, str]:
    refused = {}
    old = current.get("status")
    new = values.get("status", old)
    if new != old and (new in CONTRACT_SIGNED or old in CONTRACT_SIGNED):
        refused["status"] = _("A contract is signed and ended through the tenant's staff: you "
                              "may not give it this status.")
    if "signed_on" in values and values["signed_on"] != current.get("signed_on"):
        refused["signed_on"] = _("A contract's signature date is recorded by the tenant's "
                                 "staff: you may not set it.")
    return refused


def can_edit(user: User | None, record_or_model: Any = None) -> bool:
    """Staff edit the tenant's records; agents and subscribers read only."""
    return bool(user and user.is_active and user.is_staff)


def can_administer(user: User | None) -> bool:
    """Tenant settings, users and custom fields are for admins."""
    return bool(user and user.is_active and user.role == Role.ADMIN)
