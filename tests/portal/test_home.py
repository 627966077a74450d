"""The extranet's home page and the user's profile."""
from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select, update

from app.clock import local_today
from app.entities import ENTITIES
from app.extensions import db
from app.models import (
    Account,
    AuditEvent,
    Contact,
    Deal,
    ImportProfile,
    ImportRun,
    Invoice,
    Role,
)
from app.policies import PORTAL_ENTITIES
from tests.conftest import local_day, login, owner_engine, page_text


@pytest.fixture
def agent_setup(app, make_user, make_partner, make_account):
    partner, other = make_partner(name="Agence du Nord"), make_partner(name="Agence du Sud")
    mine = make_account(name="Client du Nord", partner=partner.id)
    theirs = make_account(name="Client du Sud", partner=other.id)
    agent = make_user("agent", partner_id=partner.id)
    return login(app.test_client(), agent), mine, theirs


def _kpi(client, element_id: str) -> str:
    page = client.get("/alpha/portal/").data.decode()
    start = page.index(f'id="{element_id}"')
    return page[page.index(">", start) + 1:page.index("<", start)]


def test_an_agent_sees_his_files_at_a_glance(agent_setup, make_invoice, make_quote,
                                             make_deal):
    client, mine, theirs = agent_setup
    today = local_day()
    overdue = make_invoice(account=mine.id, issued_on=today - timedelta(days=40),
                           due_on=today - timedelta(days=10))
    make_invoice(account=mine.id, issued_on=today - timedelta(days=5),
                 due_on=today + timedelta(days=25))
    make_invoice(account=mine.id, status="paid", amount_paid=Decimal("1481.47"))
    foreign = make_invoice(account=theirs.id, issued_on=today - timedelta(days=40),
                           due_on=today - timedelta(days=10))
    quote = make_quote(account=mine.id)
    foreign_quote = make_quote(account=theirs.id)
    make_deal(account=mine.id)
    make_deal(account=mine.id, stage="lost")
    make_deal(account=theirs.id)
    assert _kpi(client, "kpi-accounts") == "1"
    assert _kpi(client, "kpi-deals") == "1"
    assert _kpi(client, "kpi-quotes") == "1"
    assert _kpi(client, "kpi-unpaid") == "2"
    assert _kpi(client, "kpi-overdue") == "1"
    page = page_text(client.get("/alpha/portal/"))
    assert "2 962,94 €" in page  # two unpaid invoices of 1 481,47 €
    assert overdue.number in page and quote.number in page
    assert foreign.number not in page and foreign_quote.number not in page
    assert "Client du Sud" not in page
    # Said in an agent's words: who updates his files, not the mechanism ("flux").
    assert "Alpha Stores n’a encore transmis aucune mise à jour de vos dossiers." in page
    assert "flux" not in page.lower()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    english = page_text(client.get("/alpha/portal/"))
    assert "Alpha Stores has not sent any update of your files yet." in english


def _feed(entity: str, finished: datetime, status: str = "succeeded",
          reverted: datetime | None = None) -> int:
    profile = db.session.scalar(select(ImportProfile).where(ImportProfile.entity == entity))
    if profile is None:
        profile = ImportProfile(name=f"flux-{entity}", entity=entity, definition={})
        db.session.add(profile)
        db.session.flush()
    db.session.add(ImportRun(profile_id=profile.id, profile_version=1, source="cli",
                             file_name="f.csv", file_size=1, sha256="0" * 64, status=status,
                             started_by="cli", finished_at=finished, reverted_at=reverted))
    db.session.commit()
    return profile.id


def test_data_as_of_the_last_successful_feed_of_his_records(agent_setup, make_invoice,
                                                            make_quote):
    client, mine, theirs = agent_setup
    invoices = _feed("invoices", datetime(2026, 11, 20, 6, 0, tzinfo=UTC))
    _feed("invoices", datetime(2026, 11, 21, 6, 0, tzinfo=UTC), status="failed")
    quotes = _feed("quotes", datetime(2026, 11, 22, 6, 0, tzinfo=UTC))
    own, foreign = make_invoice(account=mine.id), make_quote(account=theirs.id)
    db.session.execute(update(Invoice).where(Invoice.id == own.id)
                       .values(import_profile_id=invoices))
    db.session.execute(update(type(foreign)).where(type(foreign).id == foreign.id)
                       .values(import_profile_id=quotes))
    db.session.commit()
    # The quotes feed wrote only another partner's records; the failed run does not count.
    shown = page_text(client.get("/alpha/portal/"))
    assert "20/11/2026" in shown and "22/11/2026" not in shown and "21/11/2026" not in shown
    # A later run, undone since: what it gave is gone, the data is as of the run before.
    _feed("invoices", datetime(2026, 11, 23, 6, 0, tzinfo=UTC),
          reverted=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    shown = page_text(client.get("/alpha/portal/"))
    assert "20/11/2026" in shown and "23/11/2026" not in shown



def _stamp(model: type, record_id: int, profile_id: int, **values) -> None:
    db.session.execute(update(model).where(model.id == record_id)
                       .values(import_profile_id=profile_id, **values))
    db.session.commit()


def test_data_as_of_ignores_a_feed_of_records_his_extranet_does_not_show(
        agent_setup, make_invoice, make_contact):
    """Policies let an agent read his customers' contacts, but the extranet lists none: a
    contacts feed brings him nothing to see."""
    client, mine, _theirs = agent_setup
    invoices = _feed("invoices", datetime(2026, 11, 20, 6, 0, tzinfo=UTC))
    contacts = _feed("contacts", datetime(2026, 11, 22, 6, 0, tzinfo=UTC))
    _stamp(Invoice, make_invoice(account=mine.id).id, invoices)
    _stamp(Contact, make_contact(account=mine.id).id, contacts)
    shown = page_text(client.get("/alpha/portal/"))
    assert "20/11/2026" in shown and "22/11/2026" not in shown


def test_data_as_of_ignores_a_feed_of_a_kind_a_subscriber_has_no_page_of(
        app, make_user, make_account, make_invoice, make_deal):
    """A subscriber has no deals page, so a feed of his account's deals is not his data."""
    account = make_account(name="Famille Durand", kind="person")
    client = login(app.test_client(), make_user("subscriber", account_id=account.id))
    invoices = _feed("invoices", datetime(2026, 11, 20, 6, 0, tzinfo=UTC))
    deals = _feed("deals", datetime(2026, 11, 22, 6, 0, tzinfo=UTC))
    _stamp(Invoice, make_invoice(account=account.id).id, invoices)
    _stamp(Deal, make_deal(account=account.id).id, deals)
    assert client.get("/alpha/portal/deals/").status_code == 404
    shown = page_text(client.get("/alpha/portal/"))
    assert "20/11/2026" in shown and "22/11/2026" not in shown


def test_data_as_of_ignores_a_feed_whose_records_of_his_are_all_archived(
        agent_setup, make_account, make_invoice):
    """A customer a full sync archived shows nowhere in the extranet: the feed that archived
    it did not update anything he sees."""
    client, mine, _theirs = agent_setup
    gone = make_account(name="Ancien client", partner=mine.partner_id)
    invoices = _feed("invoices", datetime(2026, 11, 20, 6, 0, tzinfo=UTC))
    accounts = _feed("accounts", datetime(2026, 11, 22, 6, 0, tzinfo=UTC))
    _stamp(Invoice, make_invoice(account=mine.id).id, invoices)
    _stamp(Account, gone.id, accounts, archived_at=datetime(2026, 11, 22, 6, 0, tzinfo=UTC))
    assert client.get(f"/alpha/portal/accounts/{gone.id}").status_code == 404
    shown = page_text(client.get("/alpha/portal/"))
    assert "20/11/2026" in shown and "22/11/2026" not in shown


def test_a_subscriber_sees_his_account_only(app, make_user, make_invoice):
    mine, other = make_invoice(), make_invoice()
    client = login(app.test_client(), make_user("subscriber", account_id=mine.account_id))
    page = client.get("/alpha/portal/").data.decode()
    assert 'id="kpi-accounts"' not in page  # customers and deals are an agent's cards
    assert _kpi(client, "kpi-unpaid") == "1"
    assert other.number not in page_text(client.get("/alpha/portal/"))


def test_a_subscriber_edits_his_phone_and_the_back_office_sees_it(app, make_user, make_account,
                                                                  admin_client):
    account = make_account(name="Famille Morel", phone="01 02 03 04 05")
    user = make_user("subscriber", account_id=account.id)
    client = login(app.test_client(), user)
    page = client.get("/alpha/portal/profile")
    assert page.status_code == 200 and "01 02 03 04 05" in page.data.decode()
    answer = client.post("/alpha/portal/profile", data={
        "contact-email": "morel@example.fr", "contact-phone": "06 11 22 33 44",
        "contact-address_line": "3 rue des Lilas", "contact-postal_code": "69003",
        "contact-city": "Lyon", "contact-submit": "1"})
    assert answer.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Account, account.id)
    assert saved.phone == "06 11 22 33 44" and saved.email == "morel@example.fr"
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "accounts", AuditEvent.action == "update")).one()
    assert event.actor_id == user.id and event.after["phone"] == "06 11 22 33 44"
    assert event.before["phone"] == "01 02 03 04 05"
    history = page_text(admin_client.get(f"/alpha/accounts/{account.id}/360"))
    assert "06 11 22 33 44" in history and user.email in history


def test_bad_contact_details_are_refused_and_nothing_changes(app, make_user, make_account):
    account = make_account(phone="01 02 03 04 05")
    client = login(app.test_client(), make_user("subscriber", account_id=account.id))
    answer = client.post("/alpha/portal/profile", data={
        "contact-email": "pas-une-adresse", "contact-phone": "06 11 22 33 44",
        "contact-submit": "1"})
    assert answer.status_code == 422
    db.session.expire_all()
    assert db.session.get(Account, account.id).phone == "01 02 03 04 05"


def test_an_agent_changes_his_language_but_has_no_contact_form(agent_setup):
    client = agent_setup[0]
    page = client.get("/alpha/portal/profile").data.decode()
    assert 'id="contact-form"' not in page
    answer = client.post("/alpha/portal/profile", data={"settings-locale": "en",
                                                         "settings-submit": "1"})
    assert answer.status_code == 302
    page = page_text(client.get("/alpha/portal/profile"))
    assert "My profile" in page
    assert "Your settings are saved." in page  # said in the language just chosen


def test_the_extranet_asks_to_log_in(client, tenant):
    answer = client.get("/alpha/portal/invoices/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/alpha/portal/login?next=")


def test_the_home_page_names_no_customer_out_of_sight(agent_setup, make_quote):
    client, mine, theirs = agent_setup
    # A quote of his partner whose customer belongs to another partner: the quote is his,
    # its customer's name is not.
    quote = make_quote(account=theirs.id, partner=mine.partner_id)
    page = page_text(client.get("/alpha/portal/"))
    assert quote.number in page and "Client du Sud" not in page
    make_quote(account=mine.id)
    assert "Client du Nord" in page_text(client.get("/alpha/portal/"))


def _card_link(page: str, element_id: str) -> str:
    """The href of the dashboard card holding `element_id`."""
    import html
    import re

    before = page[:page.index(f'id="{element_id}"')]
    return html.unescape(re.findall(r'href="([^"]+)"', before)[-1])


def test_each_figure_leads_to_the_list_it_counts(agent_setup, make_invoice):
    client, mine, _theirs = agent_setup
    today = local_day()
    make_invoice(account=mine.id, status="issued", due_on=today + timedelta(days=20))
    make_invoice(account=mine.id, status="issued", due_on=today - timedelta(days=3))
    make_invoice(account=mine.id, status="overdue", due_on=today - timedelta(days=30))
    make_invoice(account=mine.id, status="issued", due_on=today)  # due today: not overdue
    make_invoice(account=mine.id, status="paid")
    page = client.get("/alpha/portal/").data.decode()
    for element_id, expected in (("kpi-unpaid", 4), ("kpi-overdue", 2)):
        assert _kpi(client, element_id) == str(expected)
        listing = client.get(_card_link(page, element_id)).data.decode()
        count = listing[listing.index('id="result-count"'):]
        assert count[count.index(">") + 1:].lstrip().startswith(f"{expected} "), element_id


def _overdue_rows(client) -> list[list[str]]:
    page = client.get("/alpha/portal/").data.decode()
    block = page[page.index('id="overdue-invoices"'):page.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", block, re.S)
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in rows]


def test_overdue_invoices_are_labelled_with_their_customer(agent_setup, make_invoice):
    client, mine, _ = agent_setup
    due = local_today() - timedelta(days=10)
    invoice = make_invoice(account=mine.id, issued_on=due - timedelta(days=30), due_on=due,
                           amount_paid=Decimal("481.47"))
    header, row = _overdue_rows(client)
    assert header == ["Numéro", "Client", "Échéance", "Retard", "Reste dû"]
    assert row == [invoice.number, "Client du Nord", due.strftime("%d/%m/%Y"),
                   "10 jours de retard", "1\u202f000,00\u00a0€"]
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    header, row = _overdue_rows(client)
    assert header == ["Number", "Customer", "Due on", "Late", "Amount due"]
    assert row == [invoice.number, "Client du Nord", f"{due.day} {due:%b %Y}", "10 days late",
                   "€1,000.00"]


def test_the_home_reads_the_same_statements_for_one_feed_or_six_and_five_late_invoices(
        app, agent_setup, make_invoice, make_quote):
    from tests.backoffice.conftest import count_statements

    client, mine, _theirs = agent_setup
    today = local_day()

    def late_invoice() -> None:
        make_invoice(account=mine.id, issued_on=today - timedelta(days=40),
                     due_on=today - timedelta(days=10))

    late_invoice()
    make_quote(account=mine.id)
    invoices = _feed("invoices", datetime(2026, 11, 20, 6, 0, tzinfo=UTC))
    db.session.execute(update(Invoice).values(import_profile_id=invoices))
    db.session.commit()
    client.get("/alpha/portal/")
    with count_statements(app) as few:
        assert client.get("/alpha/portal/").status_code == 200
    for _n in range(4):
        late_invoice()
        make_quote(account=mine.id)
    for n, entity in enumerate(("quotes", "orders", "deals", "contracts", "deliveries")):
        _feed(entity, datetime(2026, 11, 19, 6, n, tzinfo=UTC))  # older, of other records
    db.session.commit()
    with count_statements(app) as many:
        page = page_text(client.get("/alpha/portal/"))
    assert "20/11/2026" in page
    assert len(many) == len(few), "\n".join(many)
    # The tenant, the user, every card's figure in one, the months, the two lists and their
    # customers, the feeds and one probe.
    assert len(few) <= 9, "\n".join(few)


@pytest.mark.parametrize("entity", sorted(PORTAL_ENTITIES[Role.AGENT]))
def test_the_data_as_of_probe_of_a_feed_reads_the_feeds_index(app, agent_setup, entity,
                                                                backend):
    """Each kind of record an agent's extranet shows can be fed; the home asks of each feed,
    from the latest, whether it wrote a record the agent sees. That lookup must find the
    feed's records in an index, not read every record of the agent (or of the tenant) to
    learn that a feed of others' records wrote none of his."""
    client, _mine, _theirs = agent_setup
    _feed(entity, datetime(2026, 11, 20, 6, 0, tzinfo=UTC))
    table = ENTITIES[entity].model.__tablename__
    sent: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if f"FROM {table}" in statement and f"{table}.import_profile_id = " in statement:
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert client.get("/alpha/portal/").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    (statement, parameters), = sent
    index = f"ix_{table}_tenant_id_import_profile_id"
    if backend == "sqlite":  # INDEXED BY fails when the index cannot answer the query
        forced = re.sub(rf"FROM {table}\b", f"FROM {table} INDEXED BY {index}", statement,
                        count=1)
        with db.engine.connect() as connection:
            plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {forced}", parameters))
    else:
        db.session.commit()  # the test's own reads let go of the table
        plan = _plan_with_only(owner_engine(app), table, index, statement, parameters)
    assert index in plan, plan


def _plan_with_only(engine, table: str, index: str, statement: str, parameters) -> str:
    """PostgreSQL's plan of `statement` when `index` is the table's only index besides its
    primary key, sequential scans off (in a transaction rolled back). On a table of a few
    rows every index whose first column is tenant_id costs the same, and the planner may take
    any: the other indexes are dropped so that the plan says whether this one answers the
    query (as INDEXED BY does on SQLite)."""
    with engine.connect() as connection:
        try:
            connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            for (name,) in connection.exec_driver_sql(
                    "SELECT conname FROM pg_constraint WHERE conrelid = %(t)s::regclass "
                    "AND contype = 'u'", {"t": table}).all():
                connection.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
            for (name,) in connection.exec_driver_sql(
                    "SELECT indexname FROM pg_indexes WHERE tablename = %(t)s AND indexname "
                    "NOT IN (%(i)s, %(pk)s)", {"t": table, "i": index, "pk": f"pk_{table}"}
            ).all():
                connection.exec_driver_sql(f'DROP INDEX "{name}"')
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            return " ".join(row[0] for row in connection.exec_driver_sql(
                f"EXPLAIN {statement}", parameters))
        finally:
            connection.rollback()
