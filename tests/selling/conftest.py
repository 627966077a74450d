"""Selling online: API tokens as the API tests make them, a real SMTP server, an agent in
the back office, CSRF as in production;
the SEPA creditor, mandates and queued jobs of the collections' tests."""
from datetime import date

import pytest

from app import jobs
from app.extensions import db
from app.services import mandates
from app.services.offers import set_creditor
from tests.api.conftest import make_token  # noqa: F401  (fixture)
from tests.backoffice.conftest import agent_client, csrf_on  # noqa: F401  (fixtures)
from tests.selling.test_mandates import DEBTOR
from tests.selling.test_offers_api import CREDITOR
from tests.webhooks.conftest import inbox  # noqa: F401  (fixture)


@pytest.fixture
def creditor(tenant):
    """The tenant's SEPA creditor, as the collections' tests debit for."""
    found = set_creditor({**CREDITOR, "name": "Telepeage Services"})
    db.session.commit()
    return found


@pytest.fixture
def queued(monkeypatch):
    """The jobs queued, not run: each test runs them as a worker would."""
    found = []
    monkeypatch.setattr(jobs, "enqueue", lambda name, *args, **_kw: found.append((name, args)))
    return found


def active_mandate(account, **extra):
    """An active mandate of `account`, signed on 5 January 2026, committed."""
    mandate = mandates.create_mandate(account, {**DEBTOR, "signed_on": date(2026, 1, 5),
                                                **extra})
    db.session.commit()
    return mandate
