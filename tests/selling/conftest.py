"""Selling online: API tokens as the API tests make them, a real SMTP server."""
from tests.api.conftest import make_token  # noqa: F401  (fixture)
from tests.webhooks.conftest import inbox  # noqa: F401  (fixture)
