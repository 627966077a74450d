"""SEPA mandates: registered with a unique reference per creditor identifier, amended when
the customer changes account (the original one kept for the next collection), revoked with
its proof, expired after 36 months without a collection; admin tokens of their tenant only."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.entities import ENTITIES
from app.extensions import db
from app.models import AuditEvent, Mandate
from app.services import mandates
from app.services.offers import set_creditor
from app.services.records import create_record
from app.services.tokens import create_token
from app.tenancy import SYSTEM, tenant_context
from tests.api.conftest import bearer, problem
from tests.backoffice.conftest import fr
from tests.conftest import local_day
from tests.selling.test_offers_api import CREDITOR

DEBTOR = {"debtor_name": "Hélène Dupré", "street": "Avenue des Châtaigniers",
          "building_number": "4 bis", "postal_code": "69003", "town": "Lyon", "country": "FR",
          "iban": "FR76 3000 6000 0112 3456 7890 189"}
NEW_IBAN = "DE89370400440532013000"


def _admin(app, make_token):
    client = bearer(app, make_token("read,write,admin")[1])
    assert client.put("/api/v1/sepa-settings", json={**CREDITOR, "name": "Telepeage"}) \
        .status_code == 200
    return client


def test_a_mandate_is_registered_with_a_unique_reference(app, make_token, make_account):
    client = _admin(app, make_token)
    account = make_account()
    created = client.post("/api/v1/mandates", json={**DEBTOR, "account_id": account.id})
    assert created.status_code == 201, created.data
    body = created.get_json()
    assert body["reference"].startswith(f"M{local_day():%Y%m%d}-")
    assert len(body["reference"]) <= 35
    assert body["creditor_identifier"] == "FR72ZZZ123456"
    assert body["iban"] == "FR7630006000011234567890189" and body["bic"] == "AGRIFRPPXXX"
    assert body["debtor_name"] == "Hélène Dupré"  # as signed; the file transliterates it
    assert body["status"] == "active" and body["next_sequence"] == "FRST"
    assert body["channel"] == "paper"

    paper = client.post("/api/v1/mandates", json={
        **DEBTOR, "account_id": account.id, "reference": "shop-0042/a"})
    assert paper.get_json()["reference"] == "SHOP-0042/A"
    again = problem(client.post("/api/v1/mandates", json={
        **DEBTOR, "account_id": account.id, "reference": "SHOP-0042/A"}), 422)
    assert again["errors"]["reference"] == [fr("Another mandate already has this reference.")]
    wrong = problem(client.post("/api/v1/mandates", json={
        **DEBTOR, "account_id": account.id, "reference": "réf 1", "iban": "FR76",
        "signed_on": str(local_day() + timedelta(days=2))}), 422)
    assert set(wrong["errors"]) == {"reference", "iban", "signed_on"}
    assert db.session.query(AuditEvent).filter_by(entity="sepa_mandates").count() == 2


def test_no_mandate_before_the_creditor_is_set(app, make_token, make_account):
    client = bearer(app, make_token("read,write,admin")[1])
    body = problem(client.post("/api/v1/mandates", json={**DEBTOR,
                                                         "account_id": make_account().id}), 422)
    assert fr("Enter the SEPA creditor settings first: a mandate is given to a creditor.") \
        in str(body)


def test_an_amendment_keeps_the_original_account_for_the_next_collection(app, make_token,
                                                                          make_account):
    client = _admin(app, make_token)
    url = client.post("/api/v1/mandates", json={**DEBTOR, "account_id": make_account().id}) \
        .headers["Location"]
    current = client.get(url)
    amended = client.patch(url, json={"iban": NEW_IBAN},
                           headers={"If-Match": current.headers["ETag"]})
    assert amended.status_code == 200, amended.data
    body = amended.get_json()
    assert body["iban"] == NEW_IBAN and body["original_iban"] == "FR7630006000011234567890189"
    assert body["bic"] == "COBADEFFXXX"  # the new bank's, from the registry
    mandate = db.session.get(Mandate, body["id"])
    assert mandate.original_bic == "AGRIFRPPXXX" and mandate.is_amended
    # A second change before any collection still reports the account last collected.
    current = client.get(url)
    client.patch(url, json={"iban": "FR7630006000011234567890189"},
                 headers={"If-Match": current.headers["ETag"]})
    db.session.expire_all()
    assert mandate.original_iban is None and not mandate.is_amended


def test_a_revoked_mandate_keeps_its_proof_and_changes_no_more(app, make_token, make_account):
    client = _admin(app, make_token)
    url = client.post("/api/v1/mandates", json={**DEBTOR, "account_id": make_account().id}) \
        .headers["Location"]
    missing = problem(client.post(f"{url}/revoke", json={"reason": " "}), 422)
    assert "reason" in missing["errors"]
    revoked = client.post(f"{url}/revoke", json={"reason": "Lettre recommandée du 2 décembre",
                                                 "on": "2026-12-02"})
    assert revoked.status_code == 200, revoked.data
    body = revoked.get_json()
    assert body["status"] == "revoked" and body["ended_on"] == "2026-12-02"
    assert body["end_reason"] == "Lettre recommandée du 2 décembre"
    current = client.get(url)
    problem(client.patch(url, json={"iban": NEW_IBAN},
                         headers={"If-Match": current.headers["ETag"]}), 403)
    assert [m["status"] for m in client.get("/api/v1/mandates?status=revoked").get_json()] \
        == ["revoked"]


def test_mandates_unused_for_36_months_expire(app, tenant, make_account):
    set_creditor({**CREDITOR, "name": "Telepeage"})
    account = make_account()
    today = date(2026, 12, 5)
    old = mandates.create_mandate(account, {**DEBTOR, "signed_on": date(2023, 12, 4)})
    used = mandates.create_mandate(account, {**DEBTOR, "signed_on": date(2020, 1, 1)})
    used.last_used_on = date(2024, 6, 1)
    recent = mandates.create_mandate(account, {**DEBTOR, "signed_on": date(2023, 12, 6)})
    db.session.commit()
    assert mandates.expire_mandates(today) == 1
    db.session.commit()
    assert (old.status, used.status, recent.status) == ("expired", "active", "active")
    assert old.ended_on == today and old.end_reason
    assert mandates.expire_mandates(today) == 0  # once


def test_the_daily_job_expires_every_tenants_mandates(app, tenant, other_tenant, make_account):
    set_creditor({**CREDITOR, "name": "Telepeage"})
    mandates.create_mandate(make_account(), {**DEBTOR, "signed_on": date(2020, 1, 1)})
    db.session.commit()
    with tenant_context(other_tenant.id, SYSTEM):
        set_creditor({**CREDITOR, "name": "Beta"})
        beta = create_record(ENTITIES["accounts"], {"name": "Beta client"})
        mandates.create_mandate(beta, {**DEBTOR, "signed_on": date(2021, 1, 1)})
        db.session.commit()
    assert mandates.expire_all_mandates() == 2


def test_mandates_are_seen_by_admin_tokens_of_their_tenant_only(app, make_token, make_account,
                                                                 other_tenant):
    client = _admin(app, make_token)
    url = client.post("/api/v1/mandates", json={**DEBTOR, "account_id": make_account().id}) \
        .headers["Location"]
    problem(bearer(app, make_token("read,write")[1]).get("/api/v1/mandates"), 403)
    with tenant_context(other_tenant.id, SYSTEM):
        _token, secret = create_token("Beta admin", "read,admin")
        db.session.commit()
    other = bearer(app, secret)
    assert other.get("/api/v1/mandates").get_json() == []
    problem(other.get(url), 404)
    assert db.session.scalar(select(Mandate.tenant_id)) != other_tenant.id
