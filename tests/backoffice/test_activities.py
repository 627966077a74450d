"""Activities in the back office: a record's timeline, adding one, a call logged in one tap,
done and undone."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app import models as m
from app.entities import ENTITIES
from app.extensions import db
from app.services.records import update_record
from tests.backoffice.conftest import audit_events, text


def _activities(**where):
    db.session.expire_all()
    stmt = select(m.Activity).filter_by(**where).order_by(m.Activity.id)
    return list(db.session.scalars(stmt))


def test_the_360_page_interleaves_history_and_activities_newest_first(
        admin_client, make_account, make_activity):
    account = make_account(name="Client Timeline")
    old = make_activity(account=account.id, subject="Premier appel",
                        due_at=datetime(2020, 1, 1, 9, tzinfo=UTC))
    update_record(account, {"city": "Roubaix"})
    db.session.commit()
    later = make_activity(account=account.id, subject="Rendez-vous à venir",
                          due_at=datetime.now(UTC) + timedelta(days=3), kind="meeting")
    page = admin_client.get(f"/alpha/accounts/{account.id}/360").data.decode()
    timeline = page[page.index('id="timeline-items"'):]
    upcoming, change, first = (timeline.index(s) for s in
                               (later.subject, "Roubaix", old.subject))
    assert upcoming < change < first


def test_an_activity_added_on_a_deal_shows_on_the_deal_and_its_customer(
        sales_client, make_deal):
    deal = make_deal(title="Véranda")
    response = sales_client.post(f"/alpha/deals/{deal.id}/activities", data={
        "kind": "task", "subject": "Envoyer le devis", "body": "Avec la pose",
        "due_at": "2026-12-10T09:30"}, follow_redirects=True)
    assert response.status_code == 200
    assert "Envoyer le devis" in text(response)
    [activity] = _activities(deal_id=deal.id)
    assert (activity.account_id, activity.kind, activity.body) == (deal.account_id, "task",
                                                                   "Avec la pose")
    # A time typed in the form is Paris time.
    assert activity.due_at == datetime(2026, 12, 10, 8, 30, tzinfo=UTC)
    assert activity.owner_id == activity.created_by_id is not None
    assert [e.action for e in audit_events("activities", activity.id)] == ["create"]
    customer_page = sales_client.get(f"/alpha/accounts/{deal.account_id}/360")
    assert "Envoyer le devis" in text(customer_page)


def test_an_activity_without_a_subject_is_refused_with_a_message(sales_client, make_deal):
    deal = make_deal()
    response = sales_client.post(f"/alpha/deals/{deal.id}/activities",
                                 data={"kind": "note", "subject": ""}, follow_redirects=True)
    assert response.status_code == 200
    assert _activities(deal_id=deal.id) == []
    assert "alert-danger" in response.data.decode()


def test_a_call_is_logged_in_one_tap_then_a_note_added(sales_client, make_contact):
    contact = make_contact(first_name="Claire", last_name="Martin", phone="06 12 34 56 78")
    page = sales_client.get(f"/alpha/contacts/{contact.id}").data.decode()
    assert 'href="tel:+33612345678"' in page
    assert f'action="/alpha/contacts/{contact.id}/calls"' in page
    response = sales_client.post(f"/alpha/contacts/{contact.id}/calls")
    assert response.status_code == 302
    [call] = _activities(contact_id=contact.id)
    assert call.kind == "call" and call.done_at is not None
    assert "Claire Martin" in call.subject
    assert call.owner_id is not None and call.account_id == contact.account_id
    note_page = sales_client.get(response.headers["Location"])
    assert note_page.status_code == 200
    back = sales_client.post(response.headers["Location"],
                             data={"body": "Rappeler jeudi", "next": "//evil.example/"})
    assert back.headers["Location"].startswith("/alpha/")  # never off the site
    assert _activities(contact_id=contact.id)[0].body == "Rappeler jeudi"


def test_an_activity_is_marked_done_and_undone(sales_client, make_activity):
    activity = make_activity(kind="task", subject="Relancer")
    sales_client.post(f"/alpha/activities/{activity.id}/done", data={"done": "1"})
    assert _activities(id=activity.id)[0].done_at is not None
    page = text(sales_client.get(f"/alpha/accounts/{activity.account_id}/360"))
    assert "Relancer" in page
    sales_client.post(f"/alpha/activities/{activity.id}/done", data={"done": "0"})
    assert _activities(id=activity.id)[0].done_at is None
    assert [e.action for e in audit_events("activities", activity.id)] == \
        ["create", "update", "update"]


def test_logging_a_call_needs_the_csrf_token(sales_client, make_account, csrf_on):
    account = make_account(phone="01 02 03 04 05")
    response = sales_client.post(f"/alpha/accounts/{account.id}/calls")
    assert response.status_code == 400
    assert _activities(account_id=account.id) == []
    page = sales_client.get(f"/alpha/accounts/{account.id}/360").data.decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    sales_client.post(f"/alpha/accounts/{account.id}/calls", data={"csrf_token": token})
    assert len(_activities(account_id=account.id)) == 1


def test_records_out_of_reach_answer_404_and_agents_403(
        admin_client, agent_client, other_tenant, in_tenant, make_account):
    from app.services.records import create_record

    foreign = in_tenant(other_tenant, create_record, ENTITIES["accounts"], {"name": "Beta"})
    assert admin_client.post(f"/alpha/accounts/{foreign.id}/calls").status_code == 404
    assert admin_client.post(f"/alpha/accounts/{foreign.id}/activities",
                             data={"kind": "note", "subject": "x"}).status_code == 404
    own = make_account(phone="01")
    assert agent_client.post(f"/alpha/accounts/{own.id}/calls").status_code == 403
    assert admin_client.post(f"/alpha/partners/{own.id}/activities",
                             data={"kind": "note", "subject": "x"}).status_code == 404
    assert _activities() == []


def test_my_activities_are_late_today_and_upcoming_done_ones_hidden(
        app, sales_client, make_user, make_activity):
    from app.models import User

    me = db.session.scalars(select(User).where(User.role == "sales")).one()
    other = make_user("sales")
    now = datetime.now(UTC)
    make_activity(subject="Relance en retard", owner=me.id, due_at=now - timedelta(days=2))
    make_activity(subject="Appel du jour", owner=me.id, due_at=now.replace(hour=12, minute=0))
    make_activity(subject="Visite la semaine prochaine", owner=me.id,
                  due_at=now + timedelta(days=7))
    make_activity(subject="Déjà fait", owner=me.id, due_at=now - timedelta(days=1),
                  done_at=now - timedelta(hours=1))
    make_activity(subject="Pas à moi", owner=other.id, due_at=now)
    page = sales_client.get("/alpha/activities/mine").data.decode()
    sections = {key: page[page.index(f'id="mine-{key}"'):] for key in ("late", "upcoming")}
    assert "Relance en retard" in sections["late"].split("</section>")[0]
    assert "Visite la semaine prochaine" in sections["upcoming"].split("</section>")[0]
    assert "Appel du jour" in page
    assert "Déjà fait" not in page and "Pas à moi" not in page
    assert "Déjà fait" in sales_client.get("/alpha/activities/mine?done=1").data.decode()


def test_on_a_phone_the_dashboard_shows_my_activities_first(sales_client, make_activity):
    from app.models import User

    me = db.session.scalars(select(User).where(User.role == "sales")).one()
    make_activity(subject="Rappeler Mme Durand", owner=me.id,
                  due_at=datetime.now(UTC) - timedelta(hours=1))
    page = sales_client.get("/alpha/").data.decode()
    first = page.index('id="my-activities-first"')
    assert first < page.index('id="kpi-open-quotes"')
    # Shown on narrow screens only: the desktop dashboard keeps its figures first.
    assert 'class="d-md-none mb-4" id="my-activities-first"' in page
    assert "Rappeler Mme Durand" in page[first:page.index('id="kpi-open-quotes"')]


def test_a_timeline_reads_in_a_fixed_number_of_queries(app, sales_client, make_account,
                                                       make_activity, make_user):
    from tests.backoffice.conftest import count_statements

    account_id = make_account().id

    def statements() -> int:
        db.session.expunge_all()
        with count_statements(app) as seen:
            assert sales_client.get(f"/alpha/accounts/{account_id}/360").status_code == 200
        return len(seen)

    make_activity(account=account_id, owner=make_user("sales").id)
    one = statements()
    for _ in range(4):
        make_activity(account=account_id, owner=make_user("sales").id)
    assert statements() == one


def test_an_activity_is_edited_in_local_time_through_its_form(sales_client, make_activity):
    activity = make_activity(kind="meeting", subject="Visite",
                             due_at=datetime(2026, 12, 10, 13, 0, tzinfo=UTC))
    page = sales_client.get(f"/alpha/activities/{activity.id}/edit").data.decode()
    assert 'value="2026-12-10T14:00"' in page  # Paris time, as the user typed it
    response = sales_client.post(f"/alpha/activities/{activity.id}/edit", data={
        "kind": "meeting", "subject": "Visite du chantier", "account": f"#{activity.account_id}",
        "due_at": "2026-12-10T15:30", "body": "Apporter les échantillons"})
    assert response.status_code == 302, response.data[-800:]
    [changed] = _activities(id=activity.id)
    assert changed.subject == "Visite du chantier"
    assert changed.due_at == datetime(2026, 12, 10, 14, 30, tzinfo=UTC)
    assert changed.is_staff_only is False and changed.body == "Apporter les échantillons"
    detail = text(sales_client.get(f"/alpha/activities/{activity.id}"))
    assert "10/12/2026 15:30" in detail


def test_the_activities_list_filters_by_due_day_and_staff_only(admin_client, make_activity):
    make_activity(subject="Le dix au soir", due_at=datetime(2026, 12, 10, 21, 0, tzinfo=UTC))
    make_activity(subject="Le onze", due_at=datetime(2026, 12, 11, 9, 0, tzinfo=UTC),
                  is_staff_only=True)
    page = text(admin_client.get("/alpha/activities/?due_at_from=2026-12-10&due_at_to=2026-12-10"))
    assert "Le dix au soir" in page and "Le onze" not in page
    page = text(admin_client.get("/alpha/activities/?is_staff_only=oui"))
    assert "Le onze" in page and "Le dix au soir" not in page
    form = admin_client.get("/alpha/activities/").data.decode()
    assert 'name="due_at_from"' in form and 'name="is_staff_only"' in form


def test_activities_export_their_times_in_local_time(admin_client, make_activity):
    make_activity(subject="Visite", due_at=datetime(2026, 12, 10, 13, 0, tzinfo=UTC))
    body = admin_client.get("/alpha/activities/export.csv").data.decode("utf-8-sig")
    assert "10/12/2026 14:00" in body and "Visite" in body
