"""/api/v1/quotes/<id>/signing-link: a tenant-wide token makes a quote's signing link (its URL
given once), reads its state and revokes it; a partner's token and another tenant's quote get
nothing; the OpenAPI document lists the operations."""
from __future__ import annotations

from app.extensions import db
from app.models import Quote, QuoteSigningLink
from app.services.quote_links import token_hash
from tests.api.conftest import bearer, problem


def test_a_token_makes_reads_and_revokes_a_link(app, make_token, make_quote, make_account,
                                                inbox):
    client = bearer(app, make_token("read,write")[1])
    quote = make_quote(status="draft", account=make_account(email="office@example.com").id)
    made = client.post(f"/api/v1/quotes/{quote.id}/signing-link",
                       json={"email": "buyer@example.com", "days": 30, "send_email": False})
    assert made.status_code == 201, made.data
    body = made.get_json()
    assert body["state"] == "sent" and body["recipient_email"] == "buyer@example.com"
    assert "/alpha/q/" in body["url"] and not inbox.messages  # handed over by the caller
    token = body["url"].rsplit("/", 1)[1]
    stored = db.session.get(QuoteSigningLink, body["id"])
    assert stored.token_hash == token_hash(token) and token not in stored.token_hash
    assert (stored.expires_at - stored.created_at).days == 30
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "sent"
    assert app.test_client().get(f"/alpha/q/{token}").status_code == 200
    assert client.get(f"/api/v1/quotes/{quote.id}/signing-link").get_json()["state"] == "opened"

    mailed = client.post(f"/api/v1/quotes/{quote.id}/signing-link", json={})
    assert mailed.status_code == 201
    assert inbox.messages[-1]["To"] == "office@example.com"  # the customer's, by default
    assert app.test_client().get(f"/alpha/q/{token}").status_code == 410  # replaced
    assert client.delete(f"/api/v1/quotes/{quote.id}/signing-link").status_code == 204
    assert client.get(f"/api/v1/quotes/{quote.id}/signing-link").get_json()["state"] \
        == "revoked"
    problem(client.delete(f"/api/v1/quotes/{quote.id}/signing-link"), 404)


def test_bad_requests_are_answered_by_field(app, make_token, make_quote, make_account):
    client = bearer(app, make_token("read,write")[1])
    quote = make_quote(account=make_account(email=None).id)
    too_long = problem(client.post(f"/api/v1/quotes/{quote.id}/signing-link",
                                   json={"days": 91, "email": "a@example.com"}), 422)
    assert "days" in too_long["errors"]
    no_address = problem(client.post(f"/api/v1/quotes/{quote.id}/signing-link",
                                     json={"send_email": False}), 422)
    assert "email" in no_address["errors"]
    mandate = problem(client.post(f"/api/v1/quotes/{quote.id}/signing-link", json={
        "email": "a@example.com", "asks_mandate": True, "send_email": False}), 422)
    assert "asks_mandate" in mandate["errors"]  # no SEPA creditor set up
    accepted = make_quote(status="accepted")
    closed = problem(client.post(f"/api/v1/quotes/{accepted.id}/signing-link", json={
        "email": "a@example.com", "send_email": False}), 422)
    assert "quote" in closed["errors"]
    reader = bearer(app, make_token("read")[1])
    problem(reader.post(f"/api/v1/quotes/{quote.id}/signing-link",
                        json={"email": "a@example.com", "send_email": False}), 403)


def test_partner_tokens_and_other_tenants_get_nothing(app, make_token, make_quote,
                                                      make_partner, other_tenant, in_tenant):
    partner = make_partner()
    quote = make_quote(partner=partner.id)
    agent = bearer(app, make_token("read,write", partner_id=partner.id)[1])
    problem(agent.post(f"/api/v1/quotes/{quote.id}/signing-link",
                       json={"email": "a@example.com", "send_email": False}), 403)
    from app.services.tokens import create_token

    _token, beta_secret = in_tenant(other_tenant, create_token, "beta", "read,write", None)
    beta = bearer(app, beta_secret)
    problem(beta.post(f"/api/v1/quotes/{quote.id}/signing-link",
                      json={"email": "a@example.com", "send_email": False}), 404)
    assert db.session.query(QuoteSigningLink).count() == 0


def test_the_operations_are_documented(app, make_token):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    operations = spec["paths"]["/api/v1/quotes/{quote_id}/signing-link"]
    assert {"get", "post", "delete"} <= set(operations)
    assert "SigningLink" in str(operations["post"]["responses"]["201"])
    assert "url" in spec["components"]["schemas"]["SigningLink"]["properties"]


def test_a_token_gives_the_signers_mobile_or_gets_the_known_one(app, make_token, make_quote,
                                                                 make_account):
    client = bearer(app, make_token("read,write")[1])
    account = make_account(email="office@example.com", phone="02 123 45 67", country="BE")
    quote = make_quote(account=account.id)
    url = f"/api/v1/quotes/{quote.id}/signing-link"
    typed = client.post(url, json={"email": "buyer@example.com", "phone": "0470 12 34 56",
                                   "send_email": False})
    assert typed.status_code == 201, typed.data
    assert typed.get_json()["recipient_phone"] == "+32470123456"  # read in Belgium
    assert client.get(url).get_json()["recipient_phone"] == "+32470123456"
    known = client.post(url, json={"email": "office@example.com", "send_email": False})
    assert known.get_json()["recipient_phone"] == "+3221234567"  # the customer's own
    none = client.post(url, json={"email": "buyer@example.com", "send_email": False})
    assert none.get_json()["recipient_phone"] is None
    bad = problem(client.post(url, json={"email": "buyer@example.com", "phone": "call me",
                                         "send_email": False}), 422)
    assert list(bad["errors"]) == ["phone"]
    long = problem(client.post(url, json={"email": "buyer@example.com", "phone": "1" * 41,
                                          "send_email": False}), 422)
    assert "phone" in long["errors"]
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert "phone" in schemas["SigningLinkCreate"]["properties"]
    assert "recipient_phone" in schemas["SigningLink"]["properties"]
