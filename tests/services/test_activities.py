"""Activities: on a customer and at most one of its records, never left pointing to nothing,
seen by agents only when the tenant shows them, never when kept for the staff."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app import models as m
from app.entities import ENTITIES
from app.errors import ValidationError
from app.extensions import db
from app.models import AuditEvent, Role
from app.policies import can_create, get_visible
from app.services.records import create_record, delete_record

ACTIVITIES = ENTITIES["activities"]


def _activity(**data):
    activity = create_record(ACTIVITIES, {"kind": "note", "subject": "Compte rendu", **data})
    db.session.commit()
    return activity


def test_deleting_a_customer_deletes_its_activities_each_audited(make_account):
    account = make_account()
    activity = _activity(account=account.id)
    activity_id = activity.id
    delete_record(account)
    db.session.commit()
    assert db.session.scalar(select(m.Activity.id).where(m.Activity.id == activity_id)) is None
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity == "activities", AuditEvent.record_id == activity_id)).all()
    assert actions == ["create", "delete"]


def test_deleting_a_deal_leaves_its_activities_on_the_customer(make_account, make_deal):
    account = make_account()
    deal = make_deal(account=account.id)
    activity = _activity(account=account.id, deal=deal.id)
    delete_record(deal)
    db.session.commit()
    db.session.expire_all()
    kept = db.session.get(m.Activity, activity.id)
    assert (kept.account_id, kept.deal_id) == (account.id, None)


def test_an_activity_is_on_a_record_of_its_own_customer_and_one_at_most(
        make_account, make_deal, make_contact):
    account, other = make_account(), make_account()
    deal = make_deal(account=other.id)
    with pytest.raises(ValidationError) as refused:
        _activity(account=account.id, deal=deal.id)
    assert "deal" in refused.value.errors
    db.session.rollback()
    own_deal = make_deal(account=account.id)
    contact = make_contact(account=account.id)
    with pytest.raises(ValidationError) as refused:
        _activity(account=account.id, deal=own_deal.id, contact=contact.id)
    assert "deal" in refused.value.errors or "contact" in refused.value.errors


def test_agents_see_activities_only_when_the_tenant_shows_them_and_never_staff_only(
        tenant, make_partner, make_account, make_user):
    partner = make_partner()
    account = make_account(partner=partner.id)
    shared = _activity(account=account.id)
    staff_only = _activity(account=account.id, is_staff_only=True)
    agent = make_user(Role.AGENT.value, partner_id=partner.id)
    subscriber = make_user(Role.SUBSCRIBER.value, account_id=account.id)
    assert get_visible(m.Activity, shared.id, agent) is None
    assert not can_create(agent, m.Activity)
    tenant.is_portal_activities_enabled = True
    db.session.commit()
    assert get_visible(m.Activity, shared.id, agent) is not None
    assert get_visible(m.Activity, staff_only.id, agent) is None
    assert can_create(agent, m.Activity)
    assert get_visible(m.Activity, shared.id, subscriber) is None
    assert not can_create(subscriber, m.Activity)
