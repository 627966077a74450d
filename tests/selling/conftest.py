"""Selling online: API tokens as the API tests make them, a real SMTP server, an agent in
the back office, CSRF as in production."""
from tests.api.conftest import make_token  # noqa: F401  (fixture)
from tests.backoffice.conftest import agent_client, csrf_on  # noqa: F401  (fixtures)
from tests.webhooks.conftest import inbox  # noqa: F401  (fixture)
