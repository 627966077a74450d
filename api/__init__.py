"""The REST API at /api/v1: flask-smorest blueprints, bearer tokens, problem+json errors,
the OpenAPI document at /api/v1/openapi.json and its reference at /api/v1/docs."""
from __future__ import annotations

import os
from copy import deepcopy

from flask import Flask

from api.field_messages import translate_defaults

translate_defaults()  # before any schema is built

API_DESCRIPTION = """\
Relais' API for integrators.

- **Authentication**: `Authorization: Bearer <token>`. The token fixes the tenant and, when
  bound to a partner, sees exactly what that partner's agents see. Each operation names the
  scope it needs (`read`, `write`, `import`, `export`).
- **Errors** are `application/problem+json`; invalid input lists its messages per field under
  `errors`.
- **Lists** are paged by cursor: `limit` and `cursor`; the next page's cursor is in the
  `X-Pagination` header (and a `Link: rel="next"`).
- **Query parameters** are checked: an unknown one (misspelt, or a filter the token may not
  use) answers 400 naming it, never the whole list. Custom fields filter with `cf=<key>:<value>`
  (repeatable), or the older `cf_<key>=<value>`.
- **ETags**: reads answer an `ETag`; send it back in `If-Match` when writing, and a change made
  since answers 412.
- **Rate limit** per token, announced in `X-RateLimit-*` headers; past it, 429 with
  `Retry-After`.
"""

DEFAULTS = {
    "API_TITLE": "Relais API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    # flask-smorest's ReDoc, Swagger UI and RapiDoc pages load their scripts from a CDN: none
    # of them is served; api/docs.py serves a vendored Swagger UI instead.
    "OPENAPI_REDOC_PATH": None,
    "OPENAPI_SWAGGER_UI_PATH": None,
    "OPENAPI_SWAGGER_UI_URL": None,
    "OPENAPI_RAPIDOC_PATH": None,
    "API_SPEC_OPTIONS": {
        "info": {"description": API_DESCRIPTION},
        "security": [{"bearerAuth": []}],
    },
    "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "600 per minute"),
}

UNKNOWN_PARAMETER = ("An unknown query parameter (misspelt, or a filter this token may not use): "
                     "`errors` names it, `detail` lists the known ones.")

BEARER_SCHEME = {
    "type": "http", "scheme": "bearer",
    "description": "An API token of the tenant (`rls_…`), created by a tenant admin.",
}


def install_api(app: Flask) -> None:
    """Mount the API; runs after the HTML error pages, which keep every other path."""
    from api.custom_fields import blp as custom_fields_blp
    from api.docs import bp as docs_bp
    from api.errors import PROBLEM, ProblemPlugin, ProblemSchema, install_problem_handlers
    from api.esign_seal import blp as esign_seal_blp
    from api.exports import blp as exports_blp
    from api.exports import runs_blp as export_runs_blp
    from api.exports import servers_blp as sftp_servers_blp
    from api.feed_accounts import blp as feed_accounts_blp
    from api.import_profiles import blp as import_profiles_blp
    from api.imports import blp as imports_blp
    from api.offers import blp as offers_blp
    from api.pagination import PAGINATION_HEADER
    from api.pulls import blp as pulls_blp
    from api.quote_signing import blp as quote_signing_blp
    from api.records import install_records
    from api.subscriptions import blp as subscriptions_blp
    from api.webhooks import blp as webhooks_blp
    from app.extensions import api, csrf

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, deepcopy(value))
    api.ERROR_SCHEMA = ProblemSchema
    api.init_app(app, spec_kwargs={"extra_plugins": [ProblemPlugin()]})
    api.spec.components.security_scheme("bearerAuth", BEARER_SCHEME)
    api.spec.components.header("CURSOR_PAGINATION", PAGINATION_HEADER)
    api.spec.components.response("UNKNOWN_PARAMETER", {
        "description": UNKNOWN_PARAMETER, "content": {PROBLEM: {"schema": ProblemSchema}}})
    api.spec.components.response("UNSUPPORTED_MEDIA_TYPE", {
        "description": "A body that is not JSON: send Content-Type: application/json.",
        "content": {PROBLEM: {"schema": ProblemSchema}}})
    for blueprint in (imports_blp, import_profiles_blp, custom_fields_blp, webhooks_blp,
                      exports_blp, export_runs_blp, sftp_servers_blp, offers_blp,
                      feed_accounts_blp, pulls_blp, subscriptions_blp, quote_signing_blp,
                      esign_seal_blp):
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)  # bearer tokens, never cookies: no CSRF to fear
    install_records(api)
    app.register_blueprint(docs_bp)
    install_problem_handlers(app)
