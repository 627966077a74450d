"""/api/v1/subscriptions: admin tokens list the tenant's subscriptions by status, read one
with its signature's evidence, download its sealed contract; other tokens and other tenants
get nothing."""
from __future__ import annotations

import hashlib

from app.esign import check_seal
from app.extensions import db
from app.services.tokens import create_token
from app.tenancy import SYSTEM, tenant_context
from tests.api.conftest import bearer, problem
from tests.selling.subscribe_support import DETAILS, code_from, selling

URL = "/alpha/subscribe/badge"


def _sign(client, inbox, **over) -> None:
    assert client.post(URL, data={**DETAILS, **over}).status_code == 302
    client.get(f"{URL}/review")
    assert client.post(f"{URL}/review", data={"consent": "yes"}).status_code == 302
    assert client.post(f"{URL}/code", data={"code": code_from(inbox)}).status_code == 302


def test_admin_tokens_read_subscriptions_evidence_and_sealed_pdf(app, tenant, inbox,
                                                                make_token):
    selling()
    _sign(app.test_client(), inbox)
    started = app.test_client()
    assert started.post(URL, data={**DETAILS, "email": "marc@example.com"}).status_code == 302
    admin = bearer(app, make_token("read,admin")[1])

    listed = admin.get("/api/v1/subscriptions")
    assert listed.status_code == 200, listed.data
    assert [s["status"] for s in listed.get_json()] == ["started", "signed"]
    signed = admin.get("/api/v1/subscriptions?status=signed").get_json()
    assert len(signed) == 1 and signed[0]["email"] == "helene@example.com"
    problem(admin.get("/api/v1/subscriptions?status=lost"), 422)
    page = admin.get("/api/v1/subscriptions?limit=1")
    assert len(page.get_json()) == 1 and "next_cursor" in page.headers["X-Pagination"]

    detail = admin.get(f"/api/v1/subscriptions/{signed[0]['id']}").get_json()
    evidence = detail["evidence"]
    assert [e["event"] for e in evidence["events"]] == ["consented", "code_sent", "signed",
                                                        "sealed"]
    assert evidence["events"][0]["ip"] == "127.0.0.1" and evidence["consent_text"]
    assert detail["sealed_sha256"] == evidence["sealed_sha256"]
    assert detail["reviewed_sha256"] == evidence["document_sha256"]
    assert detail["mandate_id"] and detail["delivery_id"] and detail["step"] == "done"

    pdf = admin.get(f"/api/v1/subscriptions/{signed[0]['id']}/contract.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert hashlib.sha256(pdf.data).hexdigest() == detail["sealed_sha256"]
    assert check_seal(pdf.data).ok
    unsigned = admin.get("/api/v1/subscriptions").get_json()[0]["id"]
    problem(admin.get(f"/api/v1/subscriptions/{unsigned}/contract.pdf"), 404)
    assert admin.get(f"/api/v1/subscriptions/{unsigned}").get_json()["evidence"] is None


def test_subscriptions_are_refused_to_other_tokens_and_tenants(app, tenant, other_tenant,
                                                              inbox, make_token,
                                                              make_partner):
    selling()
    _sign(app.test_client(), inbox)
    subscription_id = bearer(app, make_token("read,admin")[1]).get(
        "/api/v1/subscriptions").get_json()[0]["id"]
    reader = bearer(app, make_token("read,write")[1])
    problem(reader.get("/api/v1/subscriptions"), 403)
    problem(reader.get(f"/api/v1/subscriptions/{subscription_id}/contract.pdf"), 403)
    partner = make_partner()
    agent_token = bearer(app, make_token("read,admin", partner_id=partner.id)[1])
    problem(agent_token.get("/api/v1/subscriptions"), 403)  # a partner's token: never
    problem(agent_token.get(f"/api/v1/subscriptions/{subscription_id}"), 403)
    with tenant_context(other_tenant.id, SYSTEM):
        _token, secret = create_token("Beta admin", "read,admin")
        db.session.commit()
    other = bearer(app, secret)
    assert other.get("/api/v1/subscriptions").get_json() == []
    problem(other.get(f"/api/v1/subscriptions/{subscription_id}"), 404)
    problem(other.get(f"/api/v1/subscriptions/{subscription_id}/contract.pdf"), 404)


def test_the_openapi_document_describes_subscriptions(app, tenant):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert {"/api/v1/subscriptions", "/api/v1/subscriptions/{subscription_id}",
            "/api/v1/subscriptions/{subscription_id}/contract.pdf"} <= set(spec["paths"])
    assert "application/pdf" in spec["paths"][
        "/api/v1/subscriptions/{subscription_id}/contract.pdf"]["get"]["responses"]["200"][
        "content"]
