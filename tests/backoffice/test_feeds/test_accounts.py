"""Feeds → SFTP accounts, for admins: create an account (password hashed, keys, routes),
change it without retyping its password, disable it; sales are kept out, another tenant's
account answers 404; the health page names the uploads that did not go in."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, FeedAccount, FeedArrival
from app.services import feeds
from app.services.feed_accounts import create_account
from app.services.tenants import verify_password
from tests.backoffice.conftest import fr, text
from tests.importers.conftest import make_client_key

PROFILE = {
    "name": "clients-nuit",
    "entity": "accounts",
    "columns": {"Code": "external_ref", "Nom": "name"},
}


def _profile():
    profile = feeds.create_profile(dict(PROFILE))
    db.session.commit()
    return profile


def test_an_admin_creates_changes_and_disables_an_account(admin_client, tmp_path):
    profile = _profile()
    _private, public = make_client_key(tmp_path / "key")
    assert admin_client.get("/alpha/feeds/accounts/new").status_code == 200
    created = admin_client.post(
        "/alpha/feeds/accounts/new",
        data={
            "name": "erp",
            "password": "a-long-password-1",
            "public_keys": public,
            "routes": "clients/*.csv=clients-nuit\n*.zip = clients-nuit",
            "quota_mb": "50",
            "is_active": "y",
        },
    )
    assert created.status_code == 302, text(created)[:800]
    account = db.session.scalar(select(FeedAccount))
    assert account.routes == [
        {"pattern": "clients/*.csv", "profile_id": profile.id},
        {"pattern": "*.zip", "profile_id": profile.id},
    ]
    assert account.quota_bytes == 50 * 1024 * 1024 and account.public_keys == [public]
    assert verify_password(account, "a-long-password-1")

    listed = text(admin_client.get("/alpha/feeds/accounts"))
    assert "alpha.erp" in listed and "clients/*.csv=clients-nuit" in listed
    page = admin_client.get(created.headers["Location"])
    assert page.status_code == 200
    assert "SHA256:" in text(page) and "clients/*.csv=clients-nuit" in page.data.decode()

    changed = admin_client.post(
        created.headers["Location"],
        data={
            "name": "erp",
            "password": "",
            "public_keys": "",
            "routes": "*.csv=clients-nuit",
            "is_active": "y",
        },
    )
    assert changed.status_code == 302, text(changed)[:800]
    db.session.expire_all()
    account = db.session.scalar(select(FeedAccount))
    assert account.public_keys == [] and account.routes[0]["pattern"] == "*.csv"
    assert verify_password(account, "a-long-password-1")  # kept: left empty

    disabled = admin_client.post(f"/alpha/feeds/accounts/{account.id}/active", data={"active": "0"})
    assert disabled.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(FeedAccount.is_active)) is False
    assert (
        db.session.scalar(
            select(AuditEvent.action)
            .where(AuditEvent.entity == "feed_accounts")
            .order_by(AuditEvent.id.desc())
        )
        == "disable"
    )


def test_bad_routes_and_keys_are_answered_on_the_form(admin_client):
    _profile()
    response = admin_client.post(
        "/alpha/feeds/accounts/new",
        data={
            "name": "erp",
            "password": "a-long-password-1",
            "public_keys": "ssh-rsa nope",
            "routes": "../x=clients-nuit",
        },
    )
    assert response.status_code == 422
    page = text(response)
    assert (
        fr(
            "Key %(n)d is not an SSH public key (expected a line such as “ssh-ed25519 AAAA… "
            "name”, as in a .pub file).",
            n=1,
        )
        in page
    )
    assert (
        fr(
            "Route %(n)d: the pattern must be a path inside the account's folder, such as "
            "clients/*.csv or *.zip (no .., not in outbox/).",
            n=1,
        )
        in page
    )
    assert db.session.scalar(select(FeedAccount)) is None


def test_sales_are_kept_out(sales_client):
    _profile()
    account = create_account({"name": "erp", "password": "a-long-password-1"})
    db.session.commit()
    for path in (
        "/alpha/feeds/accounts",
        "/alpha/feeds/accounts/new",
        f"/alpha/feeds/accounts/{account.id}",
    ):
        assert sales_client.get(path).status_code == 403, path
    assert (
        sales_client.post(
            f"/alpha/feeds/accounts/{account.id}/active", data={"active": "0"}
        ).status_code
        == 403
    )


def test_another_tenants_account_answers_404(admin_client, other_tenant, in_tenant):
    other = in_tenant(
        other_tenant, create_account, {"name": "erp", "password": "a-long-password-1"}
    )
    assert admin_client.get(f"/alpha/feeds/accounts/{other.id}").status_code == 404
    assert (
        admin_client.post(
            f"/alpha/feeds/accounts/{other.id}/active", data={"active": "0"}
        ).status_code
        == 404
    )
    assert "erp" not in text(admin_client.get("/alpha/feeds/accounts"))


def test_the_health_page_names_the_uploads_that_did_not_go_in(admin_client):
    account = create_account({"name": "erp", "password": "a-long-password-1"})
    db.session.add_all(
        [
            FeedArrival(
                account_id=account.id, path="clients/big.csv", size=1234, status="incomplete"
            ),
            FeedArrival(account_id=account.id, path="misc/notes.csv", size=10, status="unrouted"),
            FeedArrival(account_id=account.id, path="ok.csv", size=10, status="imported"),
        ]
    )
    db.session.commit()
    page = text(admin_client.get("/alpha/feeds/"))
    assert "clients/big.csv" in page and "misc/notes.csv" in page and "ok.csv" not in page
    assert fr("Upload cut: the connection ended mid-file; not imported") in page
    assert fr("No route takes this file: it waits in the folder") in page
