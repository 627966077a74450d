"""/api/v1/feed-accounts: SFTP logins created and changed with an admin token, the password
never shown, keys and routes checked; other scopes, partners and other tenants kept out;
runs that came by SFTP listed with ?source=sftp."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import FeedAccount
from app.services import feeds
from app.services.tenants import verify_password
from tests.api.conftest import bearer, problem
from tests.api.records_support import english
from tests.importers.conftest import make_client_key

ROUTES = [{"pattern": "clients/*.csv", "profile": "partenaires"}]


@pytest.fixture
def admin_api(app, make_token):
    return english(bearer(app, make_token("read,admin", name="Admin")[1]))


def test_create_read_and_change_an_account(admin_api, partners_profile, tmp_path):
    _private, public = make_client_key(tmp_path / "key")
    created = admin_api.post(
        "/api/v1/feed-accounts",
        json={
            "name": "erp-nuit",
            "password": "a-long-password-1",
            "public_keys": [public],
            "routes": ROUTES,
            "quota_bytes": 10_000_000,
        },
    )
    assert created.status_code == 201, created.data[:500]
    body = created.get_json()
    assert body["login"] == "alpha.erp-nuit" and body["has_password"] is True
    assert "password" not in body and "a-long-password-1" not in created.get_data(as_text=True)
    assert body["routes"] == [
        {"pattern": "clients/*.csv", "profile": "partenaires", "profile_id": partners_profile.id}
    ]
    assert body["public_keys"] == [public]
    account = db.session.scalar(select(FeedAccount))
    assert account.password_hash.startswith("$argon2")
    assert verify_password(account, "a-long-password-1")

    read = admin_api.get(created.headers["Location"])
    changed = admin_api.patch(
        created.headers["Location"],
        headers={"If-Match": read.headers["ETag"]},
        json={"is_active": False, "routes": [{"pattern": "*.zip", "profile": "partenaires"}]},
    )
    assert changed.status_code == 200, changed.data[:500]
    assert changed.get_json()["is_active"] is False
    assert changed.get_json()["routes"][0]["pattern"] == "*.zip"
    assert changed.get_json()["public_keys"] == [public]  # what was not given stays
    assert [a["name"] for a in admin_api.get("/api/v1/feed-accounts").get_json()] == ["erp-nuit"]


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"name": "Bad Name!"}, "name", "lowercase letters"),
        ({"public_keys": ["ssh-ed25519 notbase64"]}, "public_keys", "not an SSH public key"),
        ({"routes": [{"pattern": "../*.csv", "profile": "partenaires"}]}, "routes", "no .."),
        (
            {"routes": [{"pattern": "outbox/*.csv", "profile": "partenaires"}]},
            "routes",
            "not in outbox/",
        ),
        ({"routes": [{"pattern": "*.csv", "profile": "nope"}]}, "routes", "no import profile"),
        ({"password": ""}, "password", "a password or an SSH public key"),
        ({"password": "short"}, "password", "10 to 1024 characters"),
    ],
)
def test_bad_input_is_refused_with_a_message(admin_api, partners_profile, given, field, message):
    data = {"name": "erp", "password": "a-long-password-1", "routes": ROUTES, **given}
    body = problem(admin_api.post("/api/v1/feed-accounts", json=data), 422)
    assert message in str(body["errors"][field])


def test_a_duplicate_name_is_refused(admin_api, partners_profile):
    data = {"name": "erp", "password": "a-long-password-1", "routes": ROUTES}
    assert admin_api.post("/api/v1/feed-accounts", json=data).status_code == 201
    body = problem(admin_api.post("/api/v1/feed-accounts", json=data), 422)
    assert "already exists" in str(body["errors"]["name"])


def test_only_admin_tokens_of_the_tenant_reach_them(
    app, admin_api, make_token, other_api_client, partners_profile, make_partner
):
    created = admin_api.post(
        "/api/v1/feed-accounts",
        json={"name": "erp", "password": "a-long-password-1", "routes": ROUTES},
    ).get_json()
    url = f"/api/v1/feed-accounts/{created['id']}"
    import_only = bearer(app, make_token("read,write,import")[1])
    problem(import_only.get("/api/v1/feed-accounts"), 403)
    problem(import_only.post("/api/v1/feed-accounts", json={"name": "x"}), 403)
    problem(other_api_client.get(url), 403)  # no admin scope
    partner = make_partner()
    partner_admin = bearer(app, make_token("read,admin", partner_id=partner.id)[1])
    assert partner_admin.get(url).status_code in (403, 404)


def test_another_tenants_admin_gets_404(app, admin_api, other_tenant, partners_profile):
    from app.services.tokens import create_token
    from app.tenancy import SYSTEM, tenant_context

    created = admin_api.post(
        "/api/v1/feed-accounts",
        json={"name": "erp", "password": "a-long-password-1", "routes": ROUTES},
    ).get_json()
    with tenant_context(other_tenant.id, SYSTEM):
        _token, secret = create_token("Beta admin", "read,admin")
        db.session.commit()
    other = bearer(app, secret)
    problem(other.get(f"/api/v1/feed-accounts/{created['id']}"), 404)
    assert other.get("/api/v1/feed-accounts").get_json() == []


def test_imports_filter_by_source_sftp(api_client, partners_profile):
    for source in ("sftp", "api"):
        feeds.create_run(
            partners_profile,
            io.BytesIO(f"Code;Nom\nP-{source};X\n".encode()),
            f"{source}.csv",
            source=source,
        )
    db.session.commit()
    listed = api_client.get("/api/v1/imports?source=sftp").get_json()
    assert [(r["source"], r["file"]["name"]) for r in listed] == [("sftp", "sftp.csv")]
