"""The query parameters of API lists: an unknown or misspelt one is refused (400 naming it and
the known ones) instead of silently returning the unfiltered list; a partner's token filters
and sorts only on what it may read; custom fields filter in a generic, documented form
(`cf=key:value`) as well as by `cf_<key>`."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.api.conftest import bearer, problem
from tests.api.records_support import english


@pytest.fixture
def partner_client(app, make_token, world):
    """A token bound to partner P001, with read and write."""
    return english(bearer(app, make_token(scopes="read,write",
                                          partner_id=world.partner.id)[1]))


def test_a_partner_token_cannot_filter_customers_by_owner(partner_client, en_client, world,
                                                         make_account, make_user):
    # Two customers of P001, one owned by each salesman: owner_id would tell whose is whose.
    claire, marc = make_user("sales"), make_user("sales")
    mine = make_account(name="Client de Claire", partner=world.partner.id, owner=claire.id)
    make_account(name="Client de Marc", partner=world.partner.id, owner=marc.id)
    body = problem(partner_client.get(f"/api/v1/accounts?owner_id={claire.id}"), 400)
    assert list(body["errors"]) == ["owner_id"]
    assert "owner_id" in body["detail"] and "city" in body["detail"]
    assert "owner_id" not in body["detail"].split("Known")[1]
    # A staff token still filters by owner.
    staff = en_client.get(f"/api/v1/accounts?owner_id={claire.id}")
    assert [r["id"] for r in staff.get_json()] == [mine.id]


def test_a_partner_token_cannot_filter_on_a_custom_field_it_does_not_see(
        partner_client, en_client, world, make_field):
    make_field("accounts", "secteur", is_portal_visible=True)
    make_field("accounts", "marge", type="decimal")
    for query in ("cf_marge_min=99", "cf=marge_min:99"):
        body = problem(partner_client.get(f"/api/v1/accounts?{query}"), 400)
        assert "marge" in str(body["errors"]) and "secteur" in body["detail"]
    assert partner_client.get("/api/v1/accounts?cf_secteur=Sud").get_json() == []
    assert en_client.get("/api/v1/accounts?cf_marge_min=99").get_json() == []


@pytest.mark.parametrize("query, unknown", [
    ("statuss=paid", "statuss"),
    ("status=paid&page=2", "page"),
    ("cf_promoter=Nord", "cf_promoter"),
])
def test_a_misspelt_filter_is_refused_naming_it_and_the_known_ones(en_client, world,
                                                                  make_field, make_invoice,
                                                                  query, unknown):
    make_field("invoices", "promoteur")
    make_invoice(account=world.account.id, status="paid")
    body = problem(en_client.get(f"/api/v1/invoices?{query}"), 400)
    assert list(body["errors"]) == [unknown]
    known = body["detail"].split("Known")[1]
    assert "status" in known and "cf_promoteur" in known and "limit" in known


def test_other_lists_refuse_unknown_parameters_too(en_client):
    since = datetime(2026, 1, 1, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    for url in ("/api/v1/imports?statuss=failed", "/api/v1/webhooks?limt=5",
                "/api/v1/custom-fields?entitiy=invoices", "/api/v1/import-profiles?nom=x",
                f"/api/v1/invoices/deleted?since={since}&sinse=x"):
        body = problem(en_client.get(url), 400)
        assert len(body["errors"]) == 1, url


def test_the_unknown_parameter_answer_is_translated(api_client):
    body = problem(api_client.get("/api/v1/invoices?statuss=paid"), 400)
    assert "statuss" in body["detail"] and "Paramètre" in body["detail"]


def test_custom_fields_filter_in_the_generic_documented_form(client, en_client, world,
                                                            make_field, make_invoice):
    make_field("invoices", "promoteur")
    make_field("invoices", "montant", type="money")
    account = world.account.id
    nord = make_invoice(account=account, custom={"promoteur": "Nord", "montant": "100"})
    sud = make_invoice(account=account, custom={"promoteur": "Sud", "montant": "300"})

    def ids(query: str) -> list[int]:
        response = en_client.get(f"/api/v1/invoices?{query}")
        assert response.status_code == 200, response.data[:500]
        return [r["id"] for r in response.get_json()]

    assert ids("cf=promoteur:Sud") == ids("cf_promoteur=Sud") == [sud.id]
    assert ids("cf=montant_min:50&cf=montant_max:150") == [nord.id]
    assert ids("cf=promoteur:Nord&cf=montant_min:50") == [nord.id]
    assert ids("cf=promoteur:a:b") == []  # only the first colon separates key and value
    unknown = problem(en_client.get("/api/v1/invoices?cf=promoter:Sud"), 400)
    assert unknown["errors"] == {"cf": ["Unknown custom field “promoter”."]}
    assert "cf=promoteur," in unknown["detail"] and "cf=montant_min" in unknown["detail"]
    malformed = problem(en_client.get("/api/v1/invoices?cf=promoteur"), 422)
    assert list(malformed["errors"]) == ["cf"]

    spec = client.get("/api/v1/openapi.json").get_json()
    parameters = {p.get("name"): p for p in spec["paths"]["/api/v1/invoices"]["get"]["parameters"]}
    cf = parameters["cf"]
    assert cf["in"] == "query" and cf["schema"]["type"] == "array"
    assert cf["schema"]["items"]["type"] == "string"
    assert cf.get("explode", True) is True and cf.get("style", "form") == "form"
    assert "key:value" in cf["description"] and "cf_" in cf["description"]
    assert "400" in spec["paths"]["/api/v1/invoices"]["get"]["responses"]


def test_a_partner_token_sorts_only_on_fields_it_reads(app_ctx):
    # No hidden field is sortable today: the rule is the one of filters, checked on an entity
    # whose owner would be.
    from dataclasses import replace

    from api.auth import TokenPrincipal
    from api.errors import QueryParameterError
    from api.record_lists import _check_sort
    from app.entities import ENTITIES

    accounts = ENTITIES["accounts"]
    entity = replace(accounts, fields=tuple(replace(f, sort=True) if f.name == "owner" else f
                                            for f in accounts.fields))
    staff = TokenPrincipal(1, "ERP", "rls_x", ("read",), None)
    partner = TokenPrincipal(2, "Agence", "rls_y", ("read",), 7)
    _check_sort(entity, "-owner", staff)
    _check_sort(entity, "-city", partner)
    with pytest.raises(QueryParameterError) as refused:
        _check_sort(entity, "-owner", partner)
    assert refused.value.code == 400 and list(refused.value.data["messages"]["query"]) == ["sort"]


def test_a_partner_token_learns_nothing_by_filtering_on_a_customer_out_of_its_sight(
        partner_client, en_client, world, make_partner, make_account, make_invoice,
        make_deal):
    # P001's invoice and deal for another partner's customer: the token sees them, their
    # customer shown as null. Filtering on that customer's id must not tell whose they are.
    other = make_account(name="Client Sud", partner=make_partner(name="Agence Sud").id)
    invoice = make_invoice(account=other.id, partner=world.partner.id)
    deal = make_deal(account=other.id, partner=world.partner.id)
    for entity, record in (("invoices", invoice), ("deals", deal)):
        listed = {r["id"]: r for r in partner_client.get(f"/api/v1/{entity}").get_json()}
        assert listed[record.id]["account_id"] is None
        filtered = partner_client.get(f"/api/v1/{entity}?account_id={other.id}")
        assert filtered.status_code == 200 and filtered.get_json() == [], entity
        # As by its reference, which the token cannot name either.
        assert partner_client.get(f"/api/v1/{entity}?account_ref=x").get_json() == []
        # The token's own customers filter as before; staff filter on any customer.
        own = partner_client.get(f"/api/v1/{entity}?account_id={world.account.id}")
        assert record.id not in [r["id"] for r in own.get_json()]
        staff = en_client.get(f"/api/v1/{entity}?account_id={other.id}").get_json()
        assert [r["id"] for r in staff] == [record.id]
