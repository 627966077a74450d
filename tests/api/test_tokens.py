"""API tokens: the secret is shown once and stored hashed; revocation; last use; the CLI."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import ApiToken, AuditEvent
from app.services.tokens import create_token, find_token, revoke_token
from app.tenancy import SYSTEM, tenant_context
from tests.api.conftest import bearer, problem


def test_a_token_keeps_only_the_hash_of_its_secret(make_token):
    token, secret = make_token(scopes="import,read")
    assert secret.startswith("rls_") and len(secret) >= 40
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:12]
    assert token.scopes == ["read", "import"]
    db.session.expire_all()
    stored = db.session.scalars(select(ApiToken)).one()
    assert secret not in repr([getattr(stored, c.key) for c in ApiToken.__table__.columns])
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.entity == "api_tokens")).one()
    assert audit.action == "create" and secret not in repr(audit.after)


def test_two_tokens_never_share_a_secret(make_token):
    assert make_token()[1] != make_token()[1]


@pytest.mark.parametrize("name, scopes, error", [
    ("", "read", "name"), ("ERP", "", "scopes"), ("ERP", "read,root", "scopes"),
])
def test_a_token_needs_a_name_and_known_scopes(tenant, name, scopes, error):
    with pytest.raises(ValidationError) as caught:
        create_token(name, scopes)
    assert error in caught.value.errors


def test_a_token_cannot_be_bound_to_another_tenants_partner(
        tenant, other_tenant, make_partner, in_tenant):
    from app.entities import ENTITIES
    from app.services.records import create_record

    foreign = in_tenant(other_tenant, create_record, ENTITIES["partners"], {"name": "Beta"})
    with pytest.raises(ValidationError) as caught:
        create_token("ERP", "read", partner_id=foreign.id)
    assert "partner" in caught.value.errors
    own = make_partner()
    assert create_token("Agence", "read", partner_id=own.id)[0].partner_id == own.id


def test_a_revoked_token_answers_401(app, make_token):
    token, secret = make_token()
    client = bearer(app, secret)
    assert client.get("/api/v1/imports").status_code == 200
    revoke_token(token)
    db.session.commit()
    response = client.get("/api/v1/imports")
    problem(response, 401)
    assert "invalid_token" in response.headers["WWW-Authenticate"]
    assert find_token(secret) is None


def test_last_use_is_recorded_at_most_once_a_minute(app, make_token):
    token, secret = make_token()
    client = bearer(app, secret)
    assert token.last_used_at is None
    client.get("/api/v1/imports")
    db.session.expire_all()
    first = token.last_used_at
    assert first is not None
    client.get("/api/v1/imports")
    db.session.expire_all()
    assert token.last_used_at == first
    token.last_used_at = first - timedelta(minutes=2)
    db.session.commit()
    client.get("/api/v1/imports")
    db.session.expire_all()
    assert token.last_used_at > first - timedelta(seconds=1)
    assert token.last_used_at <= datetime.now(UTC)


def test_cli_prints_a_working_token_once(app, tenant):
    result = app.test_cli_runner().invoke(args=[
        "token", "create", "--tenant", "alpha", "--name", "ERP nightly",
        "--scopes", "read,import"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("rls_") and result.output.count(secret) == 1
    assert "only once" in result.output
    token = db.session.scalars(select(ApiToken)).one()
    assert token.name == "ERP nightly" and token.scopes == ["read", "import"]
    assert token.partner_id is None and token.created_by == "cli:token create"
    assert bearer(app, secret).get("/api/v1/import-profiles").status_code == 200


def test_cli_binds_a_token_to_a_partner_by_reference(app, tenant, make_partner):
    partner = make_partner(external_ref="AG-NORD")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["token", "create", "--tenant", "alpha", "--name", "Agence",
                                 "--scopes", "read", "--partner", "AG-NORD"])
    assert result.exit_code == 0, result.output
    assert db.session.scalars(select(ApiToken)).one().partner_id == partner.id
    unknown = runner.invoke(args=["token", "create", "--tenant", "alpha", "--name", "X",
                                  "--scopes", "read", "--partner", "NOPE"])
    assert unknown.exit_code == 1 and "Unknown partner" in unknown.output


def test_cli_refuses_unknown_scopes_and_tenants(app, tenant):
    runner = app.test_cli_runner()
    bad_scope = runner.invoke(args=["token", "create", "--tenant", "alpha", "--name", "X",
                                    "--scopes", "read,root"])
    assert bad_scope.exit_code == 1 and "rls_" not in bad_scope.output
    bad_tenant = runner.invoke(args=["token", "create", "--tenant", "nope", "--name", "X",
                                     "--scopes", "read"])
    assert bad_tenant.exit_code == 1
    assert db.session.scalars(select(ApiToken)).all() == []


def test_cli_revokes_a_token_by_its_prefix(app, make_token):
    token, secret = make_token()
    result = app.test_cli_runner().invoke(args=["token", "revoke", "--tenant", "alpha",
                                                token.prefix])
    assert result.exit_code == 0, result.output
    problem(bearer(app, secret).get("/api/v1/imports"), 401)


def test_a_token_of_a_deactivated_tenant_answers_401(app, tenant, make_token):
    _token, secret = make_token()
    tenant.is_active = False
    db.session.commit()
    problem(bearer(app, secret).get("/api/v1/imports"), 401)


def test_tokens_are_scoped_to_their_tenant(tenant, other_tenant, make_token):
    make_token(name="Alpha ERP")
    with tenant_context(other_tenant.id, SYSTEM):
        assert db.session.scalars(select(ApiToken)).all() == []
