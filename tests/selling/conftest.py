"""Selling online: API tokens as the API tests make them."""
from tests.api.conftest import make_token  # noqa: F401  (fixture)
