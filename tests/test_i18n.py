"""The language of a request is chosen without the database: a message built after a failed
flush (a number already used) must not reload the tenant or the user from a dead session."""
from __future__ import annotations

from typing import Any

import pytest
from flask_login import login_user
from sqlalchemy.exc import IntegrityError

from app import models as m
from app.auth import bind_request_tenant
from app.extensions import db
from app.i18n import select_locale


def _break_the_session(make_account: Any) -> None:
    make_account(external_ref="CLI-1")
    db.session.add(m.Account(name="Double", external_ref="CLI-1", custom={}))
    with pytest.raises(IntegrityError):
        db.session.flush()  # the transaction is gone: every object of the session expired


def test_the_tenants_language_after_a_failed_flush(app, tenant, make_account):
    tenant.default_locale = "en"
    db.session.commit()
    with app.test_request_context("/", headers={"Accept-Language": "de"}):
        bind_request_tenant(tenant)
        _break_the_session(make_account)
        assert select_locale() == "en"
    db.session.rollback()


def test_the_users_language_after_a_failed_flush(app, tenant, make_user, make_account):
    user = make_user("sales", locale="en")
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        login_user(user)
        bind_request_tenant(tenant)
        _break_the_session(make_account)
        assert select_locale() == "en"
    db.session.rollback()
