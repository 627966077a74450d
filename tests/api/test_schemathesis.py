"""The API against its own OpenAPI document: schemathesis generates requests for every
operation (a bounded number per operation) and sends them to the app on SQLite and
PostgreSQL; no answer is a 5xx and every answer conforms to the documented schema (status
codes, headers, bodies, content types)."""
from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis import checks

from app import create_app
from app.extensions import api

EXAMPLES = 8  # per operation: enough to reach validation errors, quick enough for make test
# What the API promises: no server error, and answers as documented. (Not "every request the
# schema allows succeeds": a cursor or a reference can be well-formed and still unknown, 422.)
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_headers_conformance,
          checks.response_schema_conformance]


def _document() -> dict[str, Any]:
    """The OpenAPI document, built once by an app of its own (it does not depend on data)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "openapi",
                      "IMPORT_WATCH": False, "WEBHOOK_DISPATCH": False})
    with app.app_context():
        return api.spec.to_dict()


schema = schemathesis.openapi.from_dict(_document())


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.filter_too_much, HealthCheck.too_slow])
def test_every_operation_answers_as_documented(case: Any, app: Flask, make_token: Any,
                                               queued_jobs: list[tuple[int, int]]) -> None:
    _token, secret = make_token(name="schemathesis")
    response = case.call(app=app, headers={"Authorization": f"Bearer {secret}"})
    case.validate_response(response, checks=CHECKS)
