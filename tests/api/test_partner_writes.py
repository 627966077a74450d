"""What a partner's token may write (docs/api.md, "What a partner's token may write"): records of
its partner, never its partner itself, never a deletion that changes records out of its sight,
never a record moved out of its partner, never a staff-only field, never the tenant's shared
configuration. Refusals: 404 for what it cannot see, 403 for what it sees but may not change,
422 for a value it may not give."""
from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app import models as m
from app.extensions import db
from app.services.attachments import add_attachment
from tests.api.conftest import PARTNERS_PROFILE, bearer, problem
from tests.api.records_support import english
from tests.api.test_bulk import invoice
from tests.conftest import PASSWORD, login, page_text

MAY_NOT_PARTNERS = "Partners are managed by the tenant's staff: you may not change them."
OUT_OF_SIGHT = ("Records you cannot see depend on this one: the tenant's staff can "
                "delete it.")


@pytest.fixture
def partner_client(app, make_token, world):
    """A token bound to partner P001 (world), with read and write."""
    return english(bearer(app, make_token(scopes="read,write",
                                          partner_id=world.partner.id)[1]))


@pytest.fixture
def south(make_partner, make_account):
    """Partner Q-P and its customer Q-C, out of P001's sight."""
    partner = make_partner(name="Agence Sud", external_ref="Q-P")
    account = make_account(name="Client Sud", partner=partner.id, external_ref="Q-C")
    return SimpleNamespace(partner=partner, account=account)


def _partner_row(partner_id: int) -> tuple:
    db.session.expire_all()
    return db.session.execute(select(m.Partner.name, m.Partner.phone, m.Partner.external_ref)
                              .where(m.Partner.id == partner_id)).one()


def test_a_partner_token_cannot_change_or_delete_its_partner(partner_client, world, make_user):
    agent = make_user("agent", partner_id=world.partner.id)
    before = _partner_row(world.partner.id)
    url, by_ref = f"/api/v1/partners/{world.partner.id}", "/api/v1/partners/by-ref/P001"
    for response in (partner_client.patch(url, json={"name": "Renamed"}),
                     partner_client.patch(by_ref, json={"external_ref": "P999"}),
                     partner_client.delete(url), partner_client.delete(by_ref)):
        assert problem(response, 403)["detail"] == MAY_NOT_PARTNERS
    assert _partner_row(world.partner.id) == before
    # Nothing was detached: its customer, its agent and the token itself are still its own.
    assert db.session.scalar(select(m.Account.partner_id).where(
        m.Account.id == world.account.id)) == world.partner.id
    assert db.session.scalar(select(m.User.partner_id).where(m.User.id == agent.id)) \
        == world.partner.id
    assert partner_client.get(url).get_json()["name"] == "Agence du Nord"


def test_a_partner_token_cannot_create_partners_nor_upsert_them(partner_client, world):
    count = db.session.scalar(select(db.func.count(m.Partner.id)))
    created = partner_client.post("/api/v1/partners", json={"name": "Agence pirate"})
    assert problem(created, 403)["detail"] == MAY_NOT_PARTNERS
    bulk = partner_client.post("/api/v1/partners/bulk", json={"items": [
        {"external_ref": "P001", "name": "Renamed"}, {"external_ref": "NEW", "name": "New"}]})
    assert problem(bulk, 403)["detail"] == MAY_NOT_PARTNERS
    assert db.session.scalar(select(db.func.count(m.Partner.id))) == count
    assert _partner_row(world.partner.id)[0] == "Agence du Nord"


def test_other_partners_do_not_exist_for_a_partner_token(partner_client, south):
    url = f"/api/v1/partners/{south.partner.id}"
    for response in (partner_client.patch(url, json={"name": "X"}), partner_client.delete(url),
                     partner_client.delete("/api/v1/partners/by-ref/Q-P")):
        problem(response, 404)
    assert _partner_row(south.partner.id)[0] == "Agence Sud"


def test_an_account_whose_records_are_out_of_sight_is_not_deleted(
        partner_client, en_client, world, south, make_account, make_invoice, make_quote,
        make_user):
    # A customer of P001 with an invoice brought by another partner.
    shared = make_account(name="Client partagé", partner=world.partner.id)
    invoice = make_invoice(account=shared.id, partner=south.partner.id)
    # One with a draft quote (a draft is the tenant's, not the partner's, business).
    drafted = make_account(name="Client en devis", partner=world.partner.id)
    make_quote(account=drafted.id, status="draft")
    # One whose subscriber logs into the extranet.
    subscribed = make_account(name="Client abonné", partner=world.partner.id)
    subscriber = make_user("subscriber", account_id=subscribed.id)
    for account in (shared, drafted, subscribed):
        response = partner_client.delete(f"/api/v1/accounts/{account.id}")
        assert problem(response, 403)["detail"] == OUT_OF_SIGHT, account.name
        assert partner_client.get(f"/api/v1/accounts/{account.id}").status_code == 200
    db.session.expire_all()
    assert db.session.get(m.Invoice, invoice.id).account_id == shared.id
    assert db.session.get(m.User, subscriber.id).account_id == subscribed.id
    # A customer whose records it sees keeps the usual answer: 409 until they are gone.
    assert partner_client.delete(f"/api/v1/accounts/{world.account.id}").status_code == 409
    # Staff see the subscriber: they may delete that customer.
    assert en_client.delete(f"/api/v1/accounts/{subscribed.id}").status_code == 204


def test_a_deletion_that_would_detach_records_out_of_sight_is_refused(
        partner_client, world, south, make_quote, make_order, make_invoice):
    # P001's deal and order, used by documents of another partner and by a draft of P001.
    foreign_quote = make_quote(account=south.account.id, deal=world.deal.id)
    foreign_invoice = make_invoice(account=south.account.id, order=world.order.id)
    draft_order = make_order(account=world.account.id, quote=world.quote.id, status="draft")
    for entity, record in (("deals", world.deal), ("orders", world.order),
                           ("quotes", world.quote)):
        response = partner_client.delete(f"/api/v1/{entity}/{record.id}")
        assert problem(response, 403)["detail"] == OUT_OF_SIGHT, entity
    db.session.expire_all()
    assert db.session.get(m.Quote, foreign_quote.id).deal_id == world.deal.id
    assert db.session.get(m.Invoice, foreign_invoice.id).order_id == world.order.id
    assert db.session.get(m.Order, draft_order.id).quote_id == world.quote.id


def test_a_deletion_that_detaches_only_records_in_sight_goes_through(
        partner_client, world, make_quote):
    quote = make_quote(account=world.account.id, deal=world.deal.id)
    assert partner_client.delete(f"/api/v1/deals/{world.deal.id}").status_code == 204
    assert partner_client.get(f"/api/v1/quotes/{quote.id}").get_json()["deal_id"] is None


def test_a_partner_token_cannot_move_a_record_out_of_its_partner(partner_client, world, south):
    invoice = partner_client.post("/api/v1/invoices", json={"account_ref": "C001"}).get_json()
    url = f"/api/v1/invoices/{invoice['id']}"
    assert problem(partner_client.patch(url, json={"partner_id": south.partner.id}), 422)[
        "errors"] == {"partner_id": ["Unknown record."]}
    assert problem(partner_client.patch(url, json={"status": "draft"}), 422)["errors"] == {
        "partner_id": ["A partner's token can only write records of its partner."]}
    account = f"/api/v1/accounts/{world.account.id}"
    assert problem(partner_client.patch(account, json={"partner_id": None}), 422)["errors"] == {
        "partner_id": ["A partner's token can only write records of its partner."]}
    db.session.expire_all()
    row = db.session.get(m.Invoice, invoice["id"])
    assert (row.partner_id, row.status) == (world.partner.id, invoice["status"])
    assert db.session.get(m.Account, world.account.id).partner_id == world.partner.id


def test_a_partner_token_creates_nothing_for_another_partner(partner_client, world, south):
    count = db.session.scalar(select(db.func.count(m.Invoice.id)))
    for body, key in (({"account_ref": "C001", "partner_ref": "Q-P"}, "partner_ref"),
                      ({"account_ref": "Q-C"}, "account_ref")):
        assert problem(partner_client.post("/api/v1/invoices", json=body), 422)["errors"] == {
            key: ["Unknown record."]}
    created = partner_client.post("/api/v1/accounts", json={"name": "X", "partner_id": None})
    assert problem(created, 422)["errors"] == {
        "partner_id": ["A partner's token can only write records of its partner."]}
    assert db.session.scalar(select(db.func.count(m.Invoice.id))) == count


def test_a_partner_token_sets_no_staff_only_field(partner_client, world, make_user):
    owner = make_user("sales")
    url = f"/api/v1/accounts/{world.account.id}"
    assert problem(partner_client.patch(url, json={"owner_id": owner.id}), 422)["errors"] == {
        "owner_id": ["Unknown record."]}
    bulk = partner_client.post("/api/v1/accounts/bulk", json={"items": [
        {"external_ref": "C001", "owner_id": owner.id}]}).get_json()
    assert bulk["items"][0]["errors"] == {"owner_id": ["Unknown record."]}
    db.session.expire_all()
    assert db.session.get(m.Account, world.account.id).owner_id is None


def _tenant_wide_writes(app) -> list[tuple[str, str]]:
    """Every write of the API outside the record collections, as (method, path)."""
    from app.entities import ENTITIES

    records = tuple(f"/api/v1/{name}" for name in ENTITIES)
    writes = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        if not path.startswith("/api/v1/") or path.startswith(records):
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            writes.append((method, path.replace("<int:", "").replace(">", "")))
    return writes


def test_a_partner_token_changes_nothing_the_tenant_shares(app, make_token, world,
                                                           partners_profile):
    """Custom fields, import profiles, imports, webhooks (and any tenant-wide resource added
    later): an agent has no equivalent in the extranet, so a partner's token gets 403."""
    client = bearer(app, make_token(scopes="read,write,import,export",
                                    partner_id=world.partner.id)[1])
    writes = _tenant_wide_writes(app)
    assert {path.split("/")[3] for _method, path in writes} >= {
        "custom-fields", "import-profiles", "imports", "webhooks"}
    for method, path in writes:
        url = re.sub(r"/[a-z_]+_id\b", "/1", path.replace("profile_id",
                                                           str(partners_profile.id)))
        body = PARTNERS_PROFILE if "import-profiles" in url else {}
        problem(client.open(url, method=method, json=body), 403)
    db.session.expire_all()
    assert db.session.scalar(select(db.func.count(m.CustomField.id))) == 0
    assert db.session.scalar(select(db.func.count(m.WebhookEndpoint.id))) == 0
    assert db.session.scalar(select(db.func.count(m.ImportRun.id))) == 0


ANSWERED = "This quote has been answered: only the tenant's staff can change its status."
NOT_AWAITING = "This quote is not awaiting an answer any more."


def test_a_partner_token_answers_quotes_as_its_agents_do_in_the_extranet(
        partner_client, en_client, world, make_quote):
    """The extranet lets an agent accept or refuse a sent quote, once: the token's PATCH,
    bulk and POST of a status follow that rule instead of overturning a customer's answer."""
    sent = make_quote(account=world.account.id, status="sent", external_ref="Q-SENT")
    refused = make_quote(account=world.account.id, status="refused", external_ref="Q-NO")
    expired = make_quote(account=world.account.id, status="expired", external_ref="Q-OLD")
    url = "/api/v1/quotes/{}".format
    for quote, status, message in ((refused, "accepted", ANSWERED), (refused, "sent", ANSWERED),
                                   (expired, "accepted", NOT_AWAITING)):
        response = partner_client.patch(url(quote.id), json={"status": status})
        assert problem(response, 422)["errors"] == {"status": [message]}, (quote.status, status)
    bulk = partner_client.post("/api/v1/quotes/bulk", json={"items": [
        {"external_ref": "Q-NO", "status": "accepted"},
        {"external_ref": "Q-OLD", "status": "refused"}]})
    assert [(i["status"], i.get("errors")) for i in bulk.get_json()["items"]] == [
        ("error", {"status": [ANSWERED]}), ("error", {"status": [NOT_AWAITING]})]
    created = partner_client.post("/api/v1/quotes", json={
        "account_ref": "C001", "status": "accepted", "issued_on": "2026-10-01"})
    assert list(problem(created, 422)["errors"]) == ["status"]
    db.session.expire_all()
    assert [db.session.get(m.Quote, q.id).status for q in (sent, refused, expired)] == [
        "sent", "refused", "expired"]
    assert db.session.scalar(select(db.func.count(m.Quote.id))) == 4
    # What an agent may do in the extranet, the token does; an answer then stands.
    assert partner_client.patch(url(sent.id), json={"status": "accepted"}).status_code == 200
    assert partner_client.patch(url(sent.id), json={"status": "accepted"}).status_code == 200
    again = partner_client.patch(url(sent.id), json={"status": "refused"})
    assert problem(again, 422)["errors"] == {"status": [ANSWERED]}
    # The tenant's staff still correct a status.
    assert en_client.patch(url(refused.id), json={"status": "accepted"}).status_code == 200
    # The refusal speaks the tenant's language to a client that asks for none.
    partner_client.environ_base.pop("HTTP_ACCEPT_LANGUAGE")
    french = partner_client.patch(url(sent.id), json={"status": "refused"})
    assert problem(french, 422)["errors"] == {"status": [
        "Ce devis a reçu sa réponse : seule l’entreprise peut en changer le statut."]}


def test_a_customer_with_files_is_kept_like_one_with_contacts(
        partner_client, en_client, world, make_account):
    """A customer's files would go with it (or lose their customer): deleting it is refused
    as for contacts and documents, in the tenant's language for a client that asks for none."""
    account = make_account(name="Client fichiers", external_ref="C-FILES", partner=None)
    mine = make_account(name="Client du partenaire", external_ref="C-MINE",
                        partner=world.partner.id)
    for record in (account, mine):
        add_attachment(db.session.get(m.Account, record.id), "kbis.txt", io.BytesIO(b"Kbis"))
    db.session.commit()
    refused = en_client.delete(f"/api/v1/accounts/{account.id}")
    assert problem(refused, 409)["detail"] == (
        "This customer still has attachments: delete or move them first.")
    token_refused = partner_client.delete(f"/api/v1/accounts/{mine.id}")
    assert problem(token_refused, 409)["detail"] == (
        "This customer still has attachments: delete or move them first.")
    en_client.environ_base.pop("HTTP_ACCEPT_LANGUAGE")
    french = en_client.delete("/api/v1/accounts/by-ref/C-FILES")
    assert problem(french, 409)["detail"] == (
        "Ce client a encore des pièces jointes\u00a0: supprimez-les ou rattachez-les d’abord à un "
        "autre client.")
    db.session.expire_all()
    assert db.session.scalar(select(db.func.count(m.Account.id)).where(
        m.Account.id.in_([account.id, mine.id]))) == 2
    assert sorted(db.session.scalars(select(m.Attachment.account_id))) == sorted(
        [account.id, mine.id])


FROZEN = "A quote is answered on its lines and amounts: they can no longer change."


def test_an_answered_quote_keeps_its_lines_and_amounts_for_a_partner_token(
        partner_client, en_client, world, make_quote):
    """An agent cannot touch an answered quote in the extranet: the token may not rewrite the
    lines or amounts a customer accepted or refused, nor answer on other lines than those
    sent; sending the same lines again changes nothing and is no error."""
    accepted = make_quote(account=world.account.id, status="accepted", external_ref="Q-YES")
    refused = make_quote(account=world.account.id, status="refused", external_ref="Q-NO")
    sent = make_quote(account=world.account.id, status="sent", external_ref="Q-SENT")
    lines = [{"label": "Store banne XXL", "quantity": 3, "unit_price": "900"}]
    url = "/api/v1/quotes/{}".format
    for change in ({"lines": lines}, {"lines": []}, {"total": "1.00"}, {"currency": "USD"},
                   {"tax_total": "0", "total_excl_tax": "1"}):
        response = partner_client.patch(url(accepted.id), json=change)
        assert problem(response, 422)["errors"] == {name: [FROZEN] for name in change}, change
    both = partner_client.patch(url(sent.id), json={"status": "accepted", "lines": lines})
    assert problem(both, 422)["errors"] == {"lines": [FROZEN]}
    same = [{"label": "Store banne", "quantity": 1, "unit_price": "800", "tax_rate": 20}]
    bulk = partner_client.post("/api/v1/quotes/bulk", json={"items": [
        {"external_ref": "Q-YES", "lines": lines},
        {"external_ref": "Q-NO", "lines": same, "total": "960.00"},
        {"external_ref": "Q-SENT", "status": "refused", "total": "5.00"}]})
    assert [(i["status"], i.get("errors")) for i in bulk.get_json()["items"]] == [
        ("error", {"lines": [FROZEN]}), ("unchanged", None), ("error", {"total": [FROZEN]})]
    db.session.expire_all()
    for quote in (accepted, refused, sent):
        quote = db.session.get(m.Quote, quote.id)
        assert ([line.label for line in quote.lines], quote.total, quote.currency) == (
            ["Store banne"], Decimal("960.00"), "EUR")
    # A quote awaiting its answer is still the partner's to rewrite; staff correct any.
    assert partner_client.patch(url(sent.id), json={"lines": lines}).status_code == 200
    assert en_client.patch(url(accepted.id), json={"lines": lines}).status_code == 200
    db.session.expire_all()
    assert [db.session.get(m.Quote, q.id).total for q in (accepted, sent)] == [
        Decimal("3240.00")] * 2


SIGNED_BY_STAFF = ("A contract is signed and ended through the tenant's staff: you may not "
                   "give it this status.")
SIGNATURE_DATE = ("A contract's signature date is recorded by the tenant's staff: you may not "
                  "set it.")


def test_a_partner_token_neither_signs_nor_ends_a_contract(
        partner_client, en_client, world, make_contract):
    """The extranet shows an agent his contracts and lets him sign or end none: the token
    may bring a contract awaiting its signature, not make it active, date its signature,
    end it, nor take a signature back."""
    waiting = make_contract(account=world.account.id, status="pending_signature",
                            external_ref="CT-WAIT")
    active = make_contract(account=world.account.id, status="active",
                           signed_on=date(2025, 12, 20), external_ref="CT-ON")
    url = "/api/v1/contracts/{}".format
    signing = partner_client.patch(url(waiting.id), json={"status": "active",
                                                          "signed_on": "2026-10-02"})
    assert problem(signing, 422)["errors"] == {"status": [SIGNED_BY_STAFF],
                                               "signed_on": [SIGNATURE_DATE]}
    for change in ({"status": "terminated"}, {"status": "pending_signature"}):
        response = partner_client.patch(url(active.id), json=change)
        assert problem(response, 422)["errors"] == {"status": [SIGNED_BY_STAFF]}, change
    redated = partner_client.patch(url(active.id), json={"signed_on": "2026-01-02"})
    assert problem(redated, 422)["errors"] == {"signed_on": [SIGNATURE_DATE]}
    created = partner_client.post("/api/v1/contracts", json={
        "account_ref": "C001", "title": "Entretien", "status": "active",
        "signed_on": "2026-10-02", "starts_on": "2026-11-01"})
    assert problem(created, 422)["errors"] == {"status": [SIGNED_BY_STAFF],
                                               "signed_on": [SIGNATURE_DATE]}
    bulk = partner_client.post("/api/v1/contracts/bulk", json={"items": [
        {"external_ref": "CT-WAIT", "status": "active"},
        {"external_ref": "CT-NEW", "account_ref": "C001", "title": "Entretien",
         "status": "terminated"},
        {"external_ref": "CT-ON", "signed_on": None}]})
    assert [(i["status"], i.get("errors")) for i in bulk.get_json()["items"]] == [
        ("error", {"status": [SIGNED_BY_STAFF]}), ("error", {"status": [SIGNED_BY_STAFF]}),
        ("error", {"signed_on": [SIGNATURE_DATE]})]
    db.session.expire_all()
    assert [(c.status, c.signed_on) for c in db.session.scalars(
        select(m.Contract).order_by(m.Contract.id))] == [
        ("pending_signature", None), ("active", date(2025, 12, 20))]
    # What the token may: bring a contract to sign, and change it while it waits.
    assert partner_client.post("/api/v1/contracts", json={
        "account_ref": "C001", "title": "Entretien", "status": "pending_signature",
        "starts_on": "2026-11-01"}).status_code == 201
    assert partner_client.patch(url(waiting.id), json={
        "recurring_amount": "59.90", "status": "pending_signature"}).status_code == 200
    # The tenant's staff record the signature.
    assert en_client.patch(url(waiting.id), json={
        "status": "active", "signed_on": "2026-10-02"}).status_code == 200


def test_a_partner_token_answer_is_recorded_as_one_given_in_the_extranet(
        app, partner_client, world, make_quote, make_user):
    """Who answered a quote and when: on the quote, in its history and in the back office,
    whether the agent answers in the extranet or his partner's system through its token."""
    by_agent, by_token, in_bulk = (make_quote(account=world.account.id, status="sent",
                                              external_ref=ref) for ref in ("Q-A", "Q-T", "Q-B"))
    agent = make_user("agent", partner_id=world.partner.id)
    extranet = app.test_client()
    assert extranet.post("/alpha/portal/login", data={
        "email": agent.email, "password": PASSWORD}).status_code == 302
    assert extranet.post(f"/alpha/portal/quotes/{by_agent.id}/answer",
                         data={"decision": "accept"}).status_code == 302
    assert partner_client.patch(f"/api/v1/quotes/{by_token.id}",
                                json={"status": "accepted"}).status_code == 200
    bulk = partner_client.post("/api/v1/quotes/bulk", json={"items": [
        {"external_ref": "Q-B", "status": "refused"}]})
    assert bulk.get_json()["items"][0]["status"] == "updated"

    db.session.expire_all()
    quotes = [db.session.get(m.Quote, q.id) for q in (by_agent, by_token, in_bulk)]
    token_label = db.session.scalar(select(m.AuditEvent.actor_label).where(
        m.AuditEvent.actor_kind == "token").limit(1))
    assert token_label.startswith("api:ERP nightly (")
    assert [(q.status, q.answered_by_id, q.answered_by_label) for q in quotes] == [
        ("accepted", agent.id, agent.email), ("accepted", None, token_label),
        ("refused", None, token_label)]
    assert all(q.answered_at is not None for q in quotes)
    for quote in quotes:
        event = db.session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.entity == "quotes", m.AuditEvent.record_id == quote.id)
            .order_by(m.AuditEvent.id.desc())).first()
        assert event.before["status"] == "sent" and event.after["status"] == quote.status
        assert event.after["answered_at"] == quote.answered_at.isoformat()
        assert event.after["answered_by_label"] == quote.answered_by_label
    staff = login(app.test_client(), make_user("sales"))
    assert token_label in page_text(staff.get(f"/alpha/quotes/{by_token.id}"))


def test_a_partner_token_changes_no_activity_of_the_staff_through_bulk(
        partner_client, world, tenant, make_activity):
    """A token reads its customers' shared activities but changes none (PATCH: 403, an
    agent changes his own only): the same change as a bulk item is refused too."""
    shared = make_activity(account=world.account.id, subject="Partagée", external_ref="ACT-1")
    tenant.is_portal_activities_enabled = True
    db.session.commit()
    url = f"/api/v1/activities/{shared.id}"
    etag = partner_client.get(url).headers["ETag"]
    problem(partner_client.patch(url, json={"subject": "Changée"}, headers={"If-Match": etag}),
            403)
    answer = partner_client.post("/api/v1/activities/bulk", json={"items": [
        {"external_ref": "ACT-1", "subject": "Changée"}]}).get_json()
    assert [(i["status"], i.get("errors")) for i in answer["items"]] == [
        ("error", {"external_ref": ["You may not change this record."]})]
    db.session.expire_all()
    assert db.session.get(m.Activity, shared.id).subject == "Partagée"


def test_a_partner_tokens_item_emptying_the_partner_gives_it_back_as_its_patch_does(
        partner_client, world):
    """PATCH {"partner_ref": null}: the partner defaults to the customer's, its own; the same
    bulk item is taken alike, not refused as leaving the token's partner."""
    made = partner_client.post("/api/v1/invoices/bulk", json={"items": [
        invoice("T1"), invoice("T2")]}).get_json()
    assert [i["status"] for i in made["items"]] == ["created", "created"]
    url = f"/api/v1/invoices/{made['items'][0]['id']}"
    etag = partner_client.get(url).headers["ETag"]
    patched = partner_client.patch(url, json={"partner_ref": None}, headers={"If-Match": etag})
    assert patched.status_code == 200 and patched.get_json()["partner_ref"] == "P001"
    answer = partner_client.post("/api/v1/invoices/bulk", json={"items": [
        {"external_ref": "T2", "partner_ref": None}]}).get_json()
    assert answer["items"][0]["status"] == "unchanged", answer["items"][0]
