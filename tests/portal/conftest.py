"""Extranet fixtures: logged-in agents and subscribers, and the back office's helpers."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import Role, User
from tests.backoffice.conftest import csrf_on, make_field  # noqa: F401  (fixtures, shared)
from tests.conftest import PASSWORD
from tests.selling.conftest import creditor  # noqa: F401  (fixture, shared)


def portal_login(client: FlaskClient, user: User, slug: str = "alpha") -> FlaskClient:
    """Log `user` into the extranet of tenant `slug`."""
    response = client.post(f"/{slug}/portal/login",
                           data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.data[:500]
    return client


@pytest.fixture
def portal_agent(app: Flask, make_user: Callable[..., User], make_partner: Callable[..., Any],
                 make_account: Callable[..., Any]) -> FlaskClient:
    """An agent in the extranet; `.partner` is his partner, `.account` one of its customers."""
    partner = make_partner(name="Agence du Nord")
    client = portal_login(app.test_client(), make_user(Role.AGENT.value, partner_id=partner.id))
    client.partner = partner  # type: ignore[attr-defined]
    client.account = make_account(name="Client du Nord", partner=partner.id)  # type: ignore[attr-defined]
    return client


@pytest.fixture
def portal_subscriber(app: Flask, make_user: Callable[..., User],
                      make_partner: Callable[..., Any],
                      make_account: Callable[..., Any]) -> FlaskClient:
    """A subscriber in the extranet; `.account` is his account."""
    partner = make_partner(name="Agence du Sud")
    account = make_account(name="Famille Durand", kind="person", partner=partner.id)
    user = make_user(Role.SUBSCRIBER.value, account_id=account.id)
    client = portal_login(app.test_client(), user)
    client.partner, client.account, client.user = partner, account, user  # type: ignore[attr-defined]
    return client
